// GraphiQL in Debian's Chromium (headless, through playwright-core),
// allowed to reach the server and nothing else: runs the README's first
// query through the editor, opens the Docs pane, and runs a subscription
// that receives an event. Prints a JSON report; exits non-zero on failure.
// Usage: node graphiql.mjs URL   (URL = http://127.0.0.1:PORT)
import { chromium } from "playwright-core";

const base = process.argv[2];
const server = new URL(base).host;
const report = { requests: [], blocked: [], console: [], answer: null, docs: null, event: null };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
const page = await browser.newPage();
try {
  // Every request is recorded; any to another host is refused.
  await page.route("**/*", (route) => {
    const url = new URL(route.request().url());
    report.requests.push(url.href);
    if (url.host !== server) {
      report.blocked.push(url.href);
      return route.abort();
    }
    return route.continue();
  });
  page.on("websocket", (ws) => report.requests.push(ws.url()));
  page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") report.console.push(m.text()); });
  page.on("pageerror", (e) => report.console.push(String(e)));
  await page.goto(`${base}/graphql`);
  await page.waitForSelector(".graphiql-container", { timeout: 30000 });

  const editorValue = (selector) => page.evaluate((s) => document.querySelector(s).CodeMirror.getValue(), selector);
  const run = async (query) => {
    await page.evaluate((q) => document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror.setValue(q), query);
    // GraphiQL reads the operation's name from the editor after a moment.
    await page.waitForTimeout(700);
    await page.click(".graphiql-execute-button");
  };

  // The README's first query, with the headers the page opened with.
  await run("query Me {\n  me { role user { email } tenant { name slug } }\n}");
  await page.waitForFunction(
    () => document.querySelector(".result-window .CodeMirror")?.CodeMirror.getValue().includes("role"),
    null, { timeout: 20000 });
  report.answer = JSON.parse(await editorValue(".result-window .CodeMirror"));

  // The Docs pane lists the schema (fetched by introspection at default limits).
  await page.click('[aria-label="Show Documentation Explorer"]');
  await page.waitForSelector(".graphiql-doc-explorer", { timeout: 20000 });
  await page.waitForFunction(() => document.querySelector(".graphiql-doc-explorer").innerText.includes("Query"),
    null, { timeout: 20000 });
  report.docs = await page.evaluate(() => document.querySelector(".graphiql-doc-explorer").innerText.slice(0, 500));

  // A subscription from GraphiQL, over /graphql/ws with the same headers.
  const headers = JSON.parse(JSON.parse(await page.evaluate(
    () => document.getElementById("graphiql-config").textContent)).headers);
  const gql = async (query, variables) => {
    const r = await fetch(`${base}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ query, variables }),
    });
    return (await r.json()).data;
  };
  const ws = await gql("mutation { createWorkspace(input: {name: \"GraphiQL check\"}) { workspace { id } } }");
  const session = await gql("mutation($w: UUID!) { createSession(input: {workspaceId: $w, title: \"Live\"}) { session { id } } }",
    { w: ws.createWorkspace.workspace.id });
  const sessionId = session.createSession.session.id;
  await run(`subscription Live {\n  sessionEvents(sessionId: "${sessionId}") { type sessionStatus }\n}`);
  await page.waitForTimeout(1500);
  await gql("mutation($s: UUID!) { setOutline(input: {sessionId: $s, steps: [{title: \"Act 1\"}]}) { outline { id } } }",
    { s: sessionId });
  // The event as shown: a later one (the session's status change) may
  // replace it in the result pane a moment after, so keep this one.
  const shown = await page.waitForFunction(
    () => {
      const text = document.querySelector(".result-window .CodeMirror")?.CodeMirror.getValue();
      return text && text.includes("OUTLINE_CHANGED") ? text : null;
    },
    null, { timeout: 20000 });
  report.event = JSON.parse(await shown.jsonValue());
} catch (err) {
  report.error = String(err);
  try {
    report.result = await page.evaluate(() => document.querySelector(".result-window .CodeMirror")?.CodeMirror.getValue());
  } catch (e) {}
}
await browser.close();
console.log(JSON.stringify(report));
process.exit(report.error ? 1 : 0);
