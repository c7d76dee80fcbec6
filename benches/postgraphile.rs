//! Side by side with PostGraphile 4 on the same database (issue 13).
//!
//! Seeds `screenplay_bench` as `cargo bench --bench sessions` does (1,000
//! sessions × 10 steps × 5 fragments, one LLM call per step), starts our
//! server in-process and PostGraphile 4.14.1 as a Node child process
//! (`benches/postgraphile/server.js`, library mode, `npm ci` first when its
//! `node_modules` is missing), both on 127.0.0.1 and both as
//! `screenplay_app` under row-level security with the same JWT. Checks that
//! both return the same data for every page and for 50 single sessions, then
//! runs interleaved rounds (ours then PostGraphile, the order flipped every
//! round) of three workloads at each concurrency, and prints req/s, p50, p99
//! and the ratio ours/PostGraphile per round and the median ratio.
//!
//! ```sh
//! cargo bench --bench postgraphile -- [--rounds 5] [--seconds 6] [--concurrency 1,16] [--sessions 1000] [--steps 10] [--fragments 5]
//! ```
//!
//! Workloads: `nested` (20 sessions with usage totals, outline steps and
//! their fragments, pages cycled with cursors), `flat` (20 sessions, 7
//! fields) and `session` (one session by id with its outline steps, cycling
//! through all sessions). Without Node and npm it says so and stops.

mod support;

use std::{path::Path, process::Stdio, sync::Arc, time::Duration};

use chrono::DateTime;
use screenplay_api::db::DbStats;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use support::{Sample, full_page, load, ms};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

const PROJECT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/postgraphile");

const OURS_NESTED: &str = "query($after: String) { sessions(first: 20, after: $after) { pageInfo { endCursor }
  edges { node { id title status usage { totalTokens costUsd callCount }
    outline { id title status fragments { id kind character content version } } } } } }";
const THEIRS_NESTED: &str = "query($after: Cursor) {
  sessions: allScreenplaySessions(first: 20, after: $after, orderBy: [CREATED_AT_DESC, ID_DESC]) { pageInfo { endCursor }
  edges { node { id title status usage { totalTokens costUsd callCount }
    outline: outlineList(condition: { parentStepId: null }, orderBy: POSITION_ASC) { id title status
      fragments: fragmentsList(orderBy: POSITION_ASC) { id kind character content version } } } } } }";
const OURS_FLAT: &str = "query($after: String) { sessions(first: 20, after: $after) { pageInfo { endCursor }
  edges { node { id title logline status version createdAt updatedAt } } } }";
const THEIRS_FLAT: &str = "query($after: Cursor) {
  sessions: allScreenplaySessions(first: 20, after: $after, orderBy: [CREATED_AT_DESC, ID_DESC]) { pageInfo { endCursor }
  edges { node { id title logline status version createdAt updatedAt } } } }";
const OURS_SESSION: &str = "query($id: UUID!) { session(id: $id) { id title logline status version
  outline { id position title status agentName } } }";
const THEIRS_SESSION: &str = "query($id: UUID!) { session: screenplaySessionById(id: $id) { id title logline status version
  outline: outlineList(condition: { parentStepId: null }, orderBy: POSITION_ASC) { id position title status agentName } } }";

/// One workload: the same request to each server, in turn.
struct Workload {
    name: &'static str,
    ours: Arc<Vec<Vec<u8>>>,
    theirs: Arc<Vec<Vec<u8>>>,
    check: fn(&[u8]) -> bool,
}

/// What the rounds of one workload at one concurrency found.
struct Outcome {
    /// req/s, ours over PostGraphile, per round.
    ratios: Vec<f64>,
    /// Our server's SQL statements per request.
    statements: f64,
    /// Mean response size, ours and PostGraphile's.
    bytes: (f64, f64),
}

/// One session and no errors.
fn one_session(raw: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Data {
        session: Option<Session>,
    }
    #[derive(serde::Deserialize)]
    struct Session {
        #[allow(dead_code)]
        id: String,
    }
    support::answer::<Data>(raw).is_some_and(|d| d.session.is_some())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    screenplay_api::runtime::init_tls();
    for program in ["node", "npm"] {
        if !Command::new(program)
            .arg("--version")
            .output()
            .await
            .is_ok_and(|o| o.status.success())
        {
            eprintln!("`{program}` not found: skipping the PostGraphile comparison (it needs Node 18+ and npm)");
            return Ok(());
        }
    }
    let rounds: usize = support::flag("--rounds").unwrap_or(5);
    let seconds: u64 = support::flag("--seconds").unwrap_or(6);
    let bench = support::seeded_server(&support::Dataset::from_args()).await?;
    let owner = Database::connect(&bench.owner_url).await?;
    owner
        .execute_unprepared(&std::fs::read_to_string(Path::new(PROJECT).join("usage.sql"))?)
        .await?;
    owner.close().await?;
    let (mut node, theirs) = start_postgraphile(&bench.app_url).await?;
    let ours = bench.url.clone();
    let token = bench.token.clone();

    let workloads = vec![
        paged("nested", (&ours, OURS_NESTED), (&theirs, THEIRS_NESTED), &token).await?,
        paged("flat", (&ours, OURS_FLAT), (&theirs, THEIRS_FLAT), &token).await?,
        single(&ours, &theirs, &token).await?,
    ];
    eprintln!("both servers return the same data; {rounds} rounds of {seconds} s per server");

    println!("| workload | conns | round | ours req/s | ours p50 | ours p99 | PG req/s | PG p50 | PG p99 | ours/PG |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut summary = Vec::new();
    let stats = bench.server.state.db.stats();
    for w in &workloads {
        for connections in support::concurrency() {
            let outcome = rounds_of(w, (&ours, &theirs), &token, stats, connections, (rounds, seconds)).await;
            summary.push((w.name, connections, outcome));
        }
    }
    println!(
        "\n| workload | conns | median ours/PG | lowest | highest | our statements/request | response ours / PG |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (name, connections, mut o) in summary {
        o.ratios.sort_by(f64::total_cmp);
        println!(
            "| {name} | {connections} | **{:.2}** | {:.2} | {:.2} | {:.1} | {:.1} / {:.1} KB |",
            o.ratios[o.ratios.len() / 2],
            o.ratios[0],
            o.ratios[o.ratios.len() - 1],
            o.statements,
            o.bytes.0 / 1024.0,
            o.bytes.1 / 1024.0,
        );
    }
    node.kill().await?;
    bench.server.stop().await?;
    Ok(())
}

/// Warms both servers up, then `rounds` rounds of both, ours first in odd
/// rounds and PostGraphile first in even ones; prints a row per round and
/// returns the ratios of req/s (ours over PostGraphile) and what else the
/// summary shows.
async fn rounds_of(
    w: &Workload,
    (ours, theirs): (&str, &str),
    token: &str,
    stats: &DbStats,
    connections: usize,
    (rounds, seconds): (usize, u64),
) -> Outcome {
    let warm = Duration::from_secs(2);
    load(ours, token, &w.ours, connections, warm, w.check).await;
    load(theirs, token, &w.theirs, connections, warm, w.check).await;
    let time = Duration::from_secs(seconds);
    let mut ratios = Vec::new();
    let (mut requests, mut bytes) = (0, (0.0, 0.0));
    let statements = stats.statements();
    for round in 1..=rounds {
        let (a, b) = if round % 2 == 1 {
            let a = load(ours, token, &w.ours, connections, time, w.check).await;
            (a, load(theirs, token, &w.theirs, connections, time, w.check).await)
        } else {
            let b = load(theirs, token, &w.theirs, connections, time, w.check).await;
            (load(ours, token, &w.ours, connections, time, w.check).await, b)
        };
        let ratio = a.rate() / b.rate();
        println!(
            "| {} | {connections} | {round} | {} | {:.2} |",
            w.name,
            [&a, &b].map(columns).join(" | "),
            ratio
        );
        ratios.push(ratio);
        requests += a.requests();
        bytes = (bytes.0 + a.mean_bytes(), bytes.1 + b.mean_bytes());
    }
    Outcome {
        ratios,
        statements: (stats.statements() - statements) as f64 / requests.max(1) as f64,
        bytes: (bytes.0 / rounds as f64, bytes.1 / rounds as f64),
    }
}

/// req/s, p50 and p99 as table cells.
fn columns(s: &Sample) -> String {
    format!(
        "{:.0} | {} | {}",
        s.rate(),
        ms(s.percentile(50.0)),
        ms(s.percentile(99.0))
    )
}

/// A paged workload: every page from both servers, compared page by page;
/// each server's requests use its own cursors.
async fn paged(name: &'static str, ours: (&str, &str), theirs: (&str, &str), token: &str) -> anyhow::Result<Workload> {
    let a = support::pages(ours.0, token, ours.1).await?;
    let b = support::pages(theirs.0, token, theirs.1).await?;
    anyhow::ensure!(
        a.len() == b.len(),
        "{name}: {} pages from ours, {} from PostGraphile",
        a.len(),
        b.len()
    );
    for (page, ((_, x), (_, y))) in a.iter().zip(&b).enumerate() {
        same(&format!("{name} page {}", page + 1), x, y)?;
    }
    let bodies = |pages: &[(Option<String>, Value)], query: &str| {
        let bodies = pages.iter().map(|(after, _)| {
            json!({ "query": query, "variables": { "after": after } })
                .to_string()
                .into_bytes()
        });
        Arc::new(bodies.collect::<Vec<_>>())
    };
    eprintln!("{name}: {} pages, the same from both servers", a.len());
    Ok(Workload {
        name,
        ours: bodies(&a, ours.1),
        theirs: bodies(&b, theirs.1),
        check: full_page,
    })
}

/// One session by id, cycling through every session; the first 50 compared.
async fn single(ours: &str, theirs: &str, token: &str) -> anyhow::Result<Workload> {
    let pages = support::pages(ours, token, OURS_FLAT).await?;
    let ids: Vec<Value> = pages
        .iter()
        .flat_map(|(_, edges)| edges.as_array().into_iter().flatten())
        .map(|e| e["node"]["id"].clone())
        .collect();
    let client = reqwest::Client::new();
    for id in ids.iter().take(50) {
        let vars = json!({ "id": id });
        let x = support::post(
            &client,
            ours,
            token,
            &json!({ "query": OURS_SESSION, "variables": vars }),
        )
        .await?;
        let y = support::post(
            &client,
            theirs,
            token,
            &json!({ "query": THEIRS_SESSION, "variables": vars }),
        )
        .await?;
        anyhow::ensure!(
            one_session(x.to_string().as_bytes()) && one_session(y.to_string().as_bytes()),
            "session {id}: {x} / {y}"
        );
        same(&format!("session {id}"), &x["data"], &y["data"])?;
    }
    let bodies = |query: &str| {
        let bodies = ids.iter().map(|id| {
            json!({ "query": query, "variables": { "id": id } })
                .to_string()
                .into_bytes()
        });
        Arc::new(bodies.collect::<Vec<_>>())
    };
    eprintln!(
        "session: {} sessions, the first 50 the same from both servers",
        ids.len()
    );
    Ok(Workload {
        name: "session",
        ours: bodies(OURS_SESSION),
        theirs: bodies(THEIRS_SESSION),
        check: one_session,
    })
}

/// Fails loudly unless both answers hold the same data once enum values,
/// decimals and timestamps are written alike.
fn same(what: &str, ours: &Value, theirs: &Value) -> anyhow::Result<()> {
    let (mut x, mut y) = (ours.clone(), theirs.clone());
    normalise(&mut x);
    normalise(&mut y);
    anyhow::ensure!(
        x == y,
        "{what}: the servers disagree\n ours: {:.3000}\n PostGraphile: {:.3000}",
        x.to_string(),
        y.to_string()
    );
    Ok(())
}

/// Enum values in upper case (PostGraphile shows the text columns as they
/// are stored), decimals as numbers, timestamps as microseconds.
fn normalise(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                let replaced = match (key.as_str(), &*value) {
                    ("status" | "kind", Value::String(s)) => Some(json!(s.to_uppercase())),
                    ("costUsd", x) => Some(json!(x.as_f64().or_else(|| x.as_str()?.parse::<f64>().ok()))),
                    ("createdAt" | "updatedAt", Value::String(s)) => Some(json!(
                        DateTime::parse_from_rfc3339(s).ok().map(|t| t.timestamp_micros())
                    )),
                    _ => None,
                };
                match replaced {
                    Some(r) => *value = r,
                    None => normalise(value),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalise),
        _ => {}
    }
}

/// `npm ci` when needed, then `node server.js` on a free loopback port;
/// returns once PostGraphile has built its schema and answers.
async fn start_postgraphile(app_url: &str) -> anyhow::Result<(Child, String)> {
    if !Path::new(PROJECT).join("node_modules").exists() {
        eprintln!("npm ci in {PROJECT}");
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(PROJECT)
            .stdout(std::io::stderr())
            .status()
            .await?;
        anyhow::ensure!(status.success(), "npm ci failed in {PROJECT}");
    }
    let mut node = Command::new("node")
        .arg("server.js")
        .current_dir(PROJECT)
        .env("DATABASE_URL", app_url)
        .env("JWT_SECRET", support::SECRET)
        .env("PORT", "0")
        .env("NODE_ENV", "production")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = BufReader::new(node.stdout.take().expect("piped stdout")).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await??;
    let addr = first
        .as_deref()
        .and_then(|l| l.strip_prefix("listening on "))
        .ok_or_else(|| anyhow::anyhow!("PostGraphile did not start: {first:?}"))?
        .to_owned();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            eprintln!("postgraphile: {line}");
        }
    });
    let url = format!("http://{addr}/graphql");
    let client = reqwest::Client::new();
    let probe = json!({ "query": "{ __typename }" });
    for _ in 0..120 {
        let answer = client.post(&url).json(&probe).send().await;
        if let Ok(answer) = answer
            && let Ok(body) = answer.json::<Value>().await
            && body["data"]["__typename"] == "Query"
        {
            return Ok((node, url));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    anyhow::bail!("PostGraphile at {url} never answered (see its output above)")
}
