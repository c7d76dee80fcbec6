// graphql-js's standard introspection query (what GraphiQL and code
// generators send) against the real server, as `getIntrospectionQuery()`
// builds it; prints the schema it reads back, printed by graphql-js, then
// the committed schema.graphql printed the same way, separated by a line
// "=====". Usage: node introspection.mjs URL SCHEMA_FILE [TOKEN]
import { readFileSync } from "node:fs";
import { buildClientSchema, buildSchema, getIntrospectionQuery, printSchema } from "graphql";

const [url, schemaFile, token] = process.argv.slice(2);
const headers = { "content-type": "application/json", accept: "application/graphql-response+json" };
if (token) headers.authorization = `Bearer ${token}`;
const response = await fetch(url, {
  method: "POST",
  headers,
  body: JSON.stringify({ query: getIntrospectionQuery({ specifiedByUrl: true }), operationName: "IntrospectionQuery" }),
});
const body = await response.json();
if (response.status !== 200 || body.errors) {
  console.error(`introspection answered ${response.status}: ${JSON.stringify(body)}`);
  process.exit(2);
}
console.log(printSchema(buildClientSchema(body.data)));
console.log("=====");
console.log(printSchema(buildSchema(readFileSync(schemaFile, "utf8"))));
