//! The README's quick start, followed as a new user would on a fresh folder:
//! `screenplay serve` with no DATABASE_URL makes a local database there and
//! prints a token; the README's first query answers with it; `screenplay
//! ingest` run from a subfolder finds that database and stores the samples
//! under paths relative to the folder named; the README's search finds them;
//! and GraphiQL, in Chromium allowed to reach nothing but the server, opens
//! signed in, runs the first query, lists the schema in its Docs pane and
//! receives a subscription's event.

use std::{path::Path, process::Stdio, time::Duration};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use uuid::Uuid;

use crate::helpers::{TestDb, node, tools::pg_bin};

/// A graphql block of the README, by operation name.
fn readme_operation(name: &str) -> String {
    let readme = std::fs::read_to_string(crate::helpers::checkout().join("README.md")).expect("README");
    let start = readme
        .find(&format!("```graphql\nquery {name}"))
        .or_else(|| readme.find(&format!("```graphql\nmutation {name}")))
        .unwrap_or_else(|| panic!("README has no operation {name}"));
    let body = &readme[start + "```graphql\n".len()..];
    body[..body.find("\n```").expect("end of block")].to_owned()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A `screenplay` command as a new user runs it: no DATABASE_URL, no home.
fn screenplay(dir: &Path, port: u16) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_screenplay"));
    cmd.current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("SCREENPLAY_MIGRATION_DATABASE_URL")
        .env_remove("SCREENPLAY_HOME")
        .env_remove("SCREENPLAY_JWT_SECRET")
        .env_remove("SCREENPLAY_EMBEDDING_URL")
        .env("SCREENPLAY_DB_PORT", port.to_string())
        // The test cluster's PostgreSQL binaries, instead of a second download.
        .env("SCREENPLAY_PG_BIN", pg_bin())
        .env("RUST_LOG", "warn");
    cmd
}

async fn post(base: &str, token: &str, query: &str, variables: Value) -> Value {
    reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn the_readme_quick_start_works_on_a_fresh_folder() {
    TestDb::create().await; // the test cluster's binaries are installed
    let dir = std::env::temp_dir().join(format!("screenplay-quick-{}", Uuid::new_v4().simple()));
    copy_dir(&crate::helpers::checkout().join("examples"), &dir.join("examples"));
    let port = free_port();
    let mut serve = screenplay(&dir, port)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("screenplay serve");
    let mut lines = BufReader::new(serve.stderr.take().expect("stderr")).lines();
    let (mut token, mut base) = (None, None);
    tokio::time::timeout(Duration::from_secs(180), async {
        while let Some(line) = lines.next_line().await.expect("line") {
            if let Some(rest) = line.split_once("\"Bearer ").map(|(_, r)| r) {
                token = rest.split('"').next().map(str::to_owned);
            }
            if let Some(addr) = line.strip_prefix("GraphiQL: ") {
                base = Some(addr.trim_end_matches("/graphql").to_owned());
                break;
            }
        }
    })
    .await
    .expect("serve starts within 3 minutes");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let token = token.expect("serve prints the demo admin's GraphiQL headers");
    let base = base.expect("serve prints where GraphiQL is");
    assert!(
        dir.join(".screenplay/credentials.json").is_file(),
        "the local database lives in the folder"
    );

    let me = post(&base, &token, &readme_operation("Me"), json!({})).await;
    assert_eq!(me["data"]["me"]["role"], "TENANT_ADMIN", "{me}");
    assert_eq!(me["data"]["me"]["tenant"]["slug"], "demo", "{me}");
    let created = post(&base, &token, &readme_operation("CreateWorkspace"), json!({})).await;
    let workspace = created["data"]["createWorkspace"]["workspace"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"))
        .to_owned();

    // From a folder below the one `serve` ran in, as the README shows it.
    let ingest = screenplay(&dir.join("examples"), port)
        .args(["ingest", "--workspace", &workspace, "reference"])
        .output()
        .await
        .expect("screenplay ingest");
    let stdout = String::from_utf8_lossy(&ingest.stdout);
    assert!(
        ingest.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&ingest.stderr)
    );
    assert!(stdout.contains("2 file(s) ingested"), "{stdout}");
    assert!(!dir.join("examples/.screenplay").exists(), "no second database");

    let search = readme_operation("RainyNight").replace("01a241f7-7490-7573-a4d2-19ee8d1f6a54", &workspace);
    let found = post(&base, &token, &search, json!({})).await;
    assert_eq!(
        found["data"]["searchDocuments"][0]["document"]["sourcePath"], "参考/雨夜.md",
        "{found}"
    );

    let browser = node::run_in_browser("graphiql.mjs", &[&base]).await;
    let report: Value = serde_json::from_slice(&browser.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&browser.stderr)));
    assert!(browser.status.success(), "{report:#}");
    assert_eq!(report["blocked"], json!([]), "requests to other hosts: {report:#}");
    assert_eq!(report["answer"]["data"]["me"]["role"], "TENANT_ADMIN", "{report:#}");
    assert!(
        report["docs"].as_str().is_some_and(|d| d.contains("Query")),
        "{report:#}"
    );
    assert_eq!(
        report["event"]["data"]["sessionEvents"]["type"], "OUTLINE_CHANGED",
        "{report:#}"
    );

    serve.start_kill().expect("kill");
    let _ = serve.wait().await;
    let _ = screenplay(&dir, port).args(["db", "stop"]).output().await;
    let _ = std::fs::remove_dir_all(&dir);
}
