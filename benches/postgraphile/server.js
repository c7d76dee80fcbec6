// PostGraphile 4 over the screenplay schema, the peer of `cargo bench --bench
// postgraphile` (benches/postgraphile.rs starts it; see BENCHMARKS.md,
// "Side by side with PostGraphile (issue 13)").
//
// Library mode on Node's own http server, on 127.0.0.1 only. It connects as
// screenplay_app, like our server, so row-level security applies: every
// request's transaction gets `app.tenant_id` from the same HS256 JWT our
// server accepts (verified with the same secret), plus the statement and lock
// timeouts our server sets by default. No token: no tenant, and row-level
// security shows nothing. A bad token: 401.
//
// Environment: DATABASE_URL (as screenplay_app), JWT_SECRET, PORT (0 picks
// one; the chosen address is printed as `listening on 127.0.0.1:PORT`),
// POOL_SIZE (default 32, our server's bench pool).

"use strict";

const http = require("http");
const jwt = require("jsonwebtoken");
const { postgraphile } = require("postgraphile");
const { makeJSONPgSmartTagsPlugin } = require("graphile-utils");

const { DATABASE_URL, JWT_SECRET } = process.env;
if (!DATABASE_URL || !JWT_SECRET) {
  console.error("server.js needs DATABASE_URL and JWT_SECRET");
  process.exit(2);
}

// Smart tags: `tenant_by_slug` clashes with the field PostGraphile generates
// for the tenants' unique slug (and is a sign-in helper, not an API), so it
// is hidden; the relations the benchmark walks get short names.
const tags = makeJSONPgSmartTagsPlugin({
  version: 1,
  config: {
    procedure: {
      "screenplay.tenant_by_slug": { tags: { omit: true } },
    },
    class: {
      "screenplay.outline_steps": {
        constraint: {
          outline_steps_session_fkey: { tags: { foreignFieldName: "outline", foreignSimpleFieldName: "outlineList" } },
        },
      },
      "screenplay.screenplay_fragments": {
        constraint: {
          screenplay_fragments_step_fkey: { tags: { foreignFieldName: "fragments", foreignSimpleFieldName: "fragmentsList" } },
        },
      },
    },
  },
});

/** Per-transaction settings from the bearer token, as our server sets them. */
function pgSettings(req) {
  const header = req.headers.authorization || "";
  if (!header.startsWith("Bearer ")) {
    return {};
  }
  let claims;
  try {
    claims = jwt.verify(header.slice(7), JWT_SECRET, { algorithms: ["HS256"] });
  } catch (e) {
    const err = new Error("invalid token");
    err.status = 401;
    throw err;
  }
  return {
    "app.tenant_id": claims.tid || "",
    statement_timeout: "25s",
    lock_timeout: "10s",
  };
}

const middleware = postgraphile(
  { connectionString: DATABASE_URL, max: Number(process.env.POOL_SIZE || 32) },
  "screenplay",
  {
    appendPlugins: [tags],
    pgSettings,
    disableDefaultMutations: true,
    dynamicJson: true,
    setofFunctionsContainNulls: false,
    simpleCollections: "both",
    usePartitionedParent: true,
    legacyRelations: "omit",
    ignoreRBAC: false,
    graphiql: false,
    disableQueryLog: true,
    enableQueryBatching: false,
    retryOnInitFail: false,
    watchPg: false,
  },
);

const server = http.createServer(middleware);
server.keepAliveTimeout = 60000;
server.listen(Number(process.env.PORT || 0), "127.0.0.1", () => {
  const { address, port } = server.address();
  console.log(`listening on ${address}:${port}`);
});

function stop() {
  server.close();
  middleware.release().finally(() => process.exit(0));
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
