// graphql-http's server audits against the real server: prints one JSON
// line per audit ({id, name, status, reason}). Usage: node audits.mjs URL
import { auditServer } from "graphql-http";

const url = process.argv[2];
const results = await auditServer({ url });
for (const r of results) {
  console.log(JSON.stringify({ id: r.id, name: r.name, status: r.status, reason: r.reason ?? null }));
}
