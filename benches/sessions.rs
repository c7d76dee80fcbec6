//! Benchmark of the nested session page through the real HTTP server.
//!
//! Seeds a fresh database (`screenplay_bench` on the local development
//! cluster: `$SCREENPLAY_HOME`, `$SCREENPLAY_DB_PORT`) with 1,000 sessions ×
//! 10 steps × 5 fragments (and one LLM call per step), starts the server on a
//! loopback port, and measures requests per second and p50/p99 latency of
//! the nested page query (20 sessions with outline, fragments and usage
//! totals, pages cycled with cursors) at 1 and 16 concurrent connections.
//!
//! ```sh
//! cargo bench --bench sessions -- [--sessions 1000] [--steps 10] [--fragments 5] [--seconds 15] [--concurrency 1,16] [--flat]
//! ```
//!
//! Not a test: it asserts nothing but that every answer is complete; the
//! numbers go to BENCHMARKS.md with the command that produced them.

use std::time::{Duration, Instant};

use screenplay_api::{
    app::Application,
    auth::Role,
    config::{Config, DatabaseArgs, ServeArgs},
    db::local::{LocalDb, LocalUrls, create_database},
};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use uuid::Uuid;

const SECRET: &str = "4a8c2e6f0b1d3f5a7c9e2b4d6f8a0c1e3b5d7f9a2c4e6b8d0f1a3c5e7b9d2f4a";
const DATABASE: &str = "screenplay_bench";
/// The nested page: 20 sessions × 10 steps × 5 fragments, with usage totals.
const NESTED: &str = "query($after: String) { sessions(first: 20, after: $after) { pageInfo { endCursor }
  edges { node { id title status usage { totalTokens costUsd callCount }
    outline { id title status fragments { id kind character content version } } } } } }";
/// `--flat`: the same page without nested fields (20 rows), to compare with
/// a plain list endpoint.
const FLAT: &str = "query($after: String) { sessions(first: 20, after: $after) { pageInfo { endCursor }
  edges { node { id title logline status version createdAt updatedAt } } } }";

struct Options {
    sessions: u32,
    steps: u32,
    fragments: u32,
    seconds: u64,
    concurrency: Vec<usize>,
    query: &'static str,
}

fn options() -> Options {
    let mut o = Options {
        sessions: 1000,
        steps: 10,
        fragments: 5,
        seconds: 15,
        concurrency: vec![1, 16],
        query: NESTED,
    };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--sessions" => o.sessions = value.parse().expect("--sessions N"),
            "--steps" => o.steps = value.parse().expect("--steps N"),
            "--fragments" => o.fragments = value.parse().expect("--fragments N"),
            "--seconds" => o.seconds = value.parse().expect("--seconds N"),
            "--concurrency" => {
                o.concurrency = value
                    .split(',')
                    .map(|c| c.parse().expect("--concurrency 1,16"))
                    .collect()
            }
            "--flat" => {
                o.query = FLAT;
                i += 1;
                continue;
            }
            _ => {
                // `cargo bench` passes --bench; ignore anything unknown.
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    o
}

async fn seed(owner_url: &str, o: &Options) -> anyhow::Result<(Uuid, Uuid)> {
    let owner = Database::connect(owner_url).await?;
    let (tenant, user, workspace) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let sql = format!(
        "INSERT INTO screenplay.tenants (id, slug, name) VALUES ('{tenant}', 'bench', 'Bench');
         INSERT INTO screenplay.users (id, tenant_id, email, display_name, role)
           VALUES ('{user}', '{tenant}', 'writer@bench.test', 'Writer', 'member');
         INSERT INTO screenplay.workspaces (id, tenant_id, name, slug) VALUES ('{workspace}', '{tenant}', 'Scripts', 'scripts');
         INSERT INTO screenplay.screenplay_sessions (id, tenant_id, workspace_id, created_by, title, logline, status, created_at)
           SELECT gen_random_uuid(), '{tenant}', '{workspace}', '{user}', 'Session ' || s, 'A logline for session ' || s,
                  'generating', now() - s * interval '1 minute'
           FROM generate_series(1, {sessions}) s;
         INSERT INTO screenplay.outline_steps (tenant_id, session_id, position, title, status)
           SELECT '{tenant}', ss.id, p, 'Scene ' || (p + 1), CASE WHEN p < 3 THEN 'completed' ELSE 'pending' END
           FROM screenplay.screenplay_sessions ss, generate_series(0, {steps} - 1) p;
         INSERT INTO screenplay.screenplay_fragments (tenant_id, session_id, step_id, position, kind, \"character\", content)
           SELECT '{tenant}', st.session_id, st.id, p,
                  (ARRAY['scene_heading', 'action', 'character', 'dialogue', 'action'])[p % 5 + 1],
                  CASE WHEN p % 5 = 3 THEN 'ALICE' END,
                  CASE p % 5 WHEN 0 THEN 'INT. KITCHEN - NIGHT' WHEN 2 THEN 'ALICE'
                       ELSE 'Rain hammers the window while the kettle screams; line ' || p || ' of ' || st.title END
           FROM screenplay.outline_steps st, generate_series(0, {fragments} - 1) p;
         INSERT INTO screenplay.llm_call_logs (tenant_id, session_id, step_id, provider, model, prompt_tokens,
                                               completion_tokens, cost_usd, latency_ms, status)
           SELECT '{tenant}', st.session_id, st.id, 'openai', 'gpt-4o', 1200, 300, 0.0123, 900, 'succeeded'
           FROM screenplay.outline_steps st;
         ANALYZE;",
        sessions = o.sessions,
        steps = o.steps,
        fragments = o.fragments,
    );
    owner.execute_unprepared(&sql).await?;
    owner.close().await?;
    Ok((tenant, user))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    screenplay_api::runtime::init_tls();
    let o = options();
    let home = std::env::var_os("SCREENPLAY_HOME").map(std::path::PathBuf::from);
    let port = std::env::var("SCREENPLAY_DB_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(54329);
    let local = LocalDb::new(home, port)?;
    let urls = local.start().await?;
    let admin = Database::connect(&urls.superuser).await?;
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        .await?;
    admin.close().await?;
    create_database(&urls.superuser, DATABASE, None).await?;
    let owner_url = LocalUrls::with_database(&urls.owner, DATABASE);
    let app_url = LocalUrls::with_database(&urls.app, DATABASE);
    screenplay_api::db::migrate_up(&owner_url).await?;
    let started = Instant::now();
    let (tenant, user) = seed(&owner_url, &o).await?;
    eprintln!(
        "seeded {} sessions × {} steps × {} fragments in {:.1} s",
        o.sessions,
        o.steps,
        o.fragments,
        started.elapsed().as_secs_f64()
    );

    let serve = ServeArgs::parse_flags(&["--bind", "127.0.0.1:0", "--jwt-secret", SECRET, "--no-migrate"])?;
    let mut db_args = DatabaseArgs::at(&app_url, Some(&owner_url));
    db_args.pool_size = 32;
    let server = Application::build(Config::from_args(serve, db_args)?).await?.spawn();
    let token = server
        .state
        .issuer
        .issue(&user.to_string(), Some(tenant), Role::Member, Duration::from_secs(3600))?
        .0;
    let url = format!("http://{}/graphql", server.addr);

    // Every page's cursor, so that requests cycle through the whole list.
    let query = o.query;
    let client = reqwest::Client::new();
    let mut cursors: Vec<Option<String>> = vec![None];
    loop {
        let body: Value = client
            .post(&url)
            .bearer_auth(&token)
            .json(&json!({ "query": query, "variables": { "after": cursors.last().cloned().flatten() } }))
            .send()
            .await?
            .json()
            .await?;
        let end = body["data"]["sessions"]["pageInfo"]["endCursor"]
            .as_str()
            .map(str::to_owned);
        if body["data"]["sessions"]["edges"].as_array().map_or(0, Vec::len) < 20 || end.is_none() {
            cursors.pop();
            break;
        }
        cursors.push(end);
    }
    let pages = cursors.len().max(1);
    eprintln!("{pages} pages of 20 sessions");

    println!("| connections | requests | req/s | p50 | p99 | statements/request | response size |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for &connections in &o.concurrency {
        // Warm up, then measure for a fixed time.
        let run = |duration: Duration| {
            let cursors = cursors.clone();
            let url = url.clone();
            let token = token.clone();
            async move {
                let deadline = Instant::now() + duration;
                let mut tasks = Vec::new();
                let query = query;
                for worker in 0..connections {
                    let (cursors, url, token) = (cursors.clone(), url.clone(), token.clone());
                    tasks.push(tokio::spawn(async move {
                        let client = reqwest::Client::builder()
                            .pool_max_idle_per_host(1)
                            .build()
                            .expect("client");
                        let mut latencies = Vec::new();
                        let mut bytes = 0usize;
                        let mut i = worker;
                        while Instant::now() < deadline {
                            let after = cursors[i % cursors.len()].clone();
                            let start = Instant::now();
                            let raw = client
                                .post(&url)
                                .bearer_auth(&token)
                                .json(&json!({ "query": query, "variables": { "after": after } }))
                                .send()
                                .await
                                .expect("request")
                                .bytes()
                                .await
                                .expect("body");
                            latencies.push(start.elapsed());
                            bytes += raw.len();
                            let body: Value = serde_json::from_slice(&raw).expect("json");
                            let edges = body["data"]["sessions"]["edges"].as_array().map_or(0, Vec::len);
                            assert!(body.get("errors").is_none() && edges == 20, "bad answer: {body}");
                            i += connections;
                        }
                        (latencies, bytes)
                    }));
                }
                let mut all = Vec::new();
                let mut bytes = 0;
                for t in tasks {
                    let (latencies, b) = t.await.expect("worker");
                    all.extend(latencies);
                    bytes += b;
                }
                (all, bytes)
            }
        };
        run(Duration::from_secs(2)).await;
        let statements_before = server.state.db.stats().statements();
        let started = Instant::now();
        let (mut latencies, bytes) = run(Duration::from_secs(o.seconds)).await;
        let elapsed = started.elapsed();
        let statements = server.state.db.stats().statements() - statements_before;
        latencies.sort();
        let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
        println!(
            "| {connections} | {} | {:.0} | {} | {} | {:.1} | {:.0} KB |",
            latencies.len(),
            latencies.len() as f64 / elapsed.as_secs_f64(),
            ms(percentile(&latencies, 50.0)),
            ms(percentile(&latencies, 99.0)),
            statements as f64 / latencies.len().max(1) as f64,
            bytes as f64 / latencies.len().max(1) as f64 / 1024.0,
        );
    }
    server.stop().await?;
    Ok(())
}
