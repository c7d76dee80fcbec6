//! What the HTTP benchmarks share: the seeded dataset of the session page
//! (`screenplay_bench` on the local development cluster: `$SCREENPLAY_HOME`,
//! `$SCREENPLAY_DB_PORT`), our server on it with a signed-in member's token,
//! and a timed load of keep-alive clients. Each bench target uses a part
//! of it.
#![allow(dead_code)]

use std::{
    str::FromStr,
    sync::Arc,
    time::{Duration, Instant},
};

use screenplay_api::{
    app::{Application, Running},
    auth::Role,
    config::{Config, DatabaseArgs, ServeArgs},
    db::local::{LocalDb, LocalUrls, create_database},
};
use sea_orm::{ConnectionTrait, Database};
use serde::{
    Deserialize,
    de::{DeserializeOwned, IgnoredAny},
};
use serde_json::{Value, json};
use uuid::Uuid;

/// The HS256 secret of the bench server's tokens.
pub const SECRET: &str = "4a8c2e6f0b1d3f5a7c9e2b4d6f8a0c1e3b5d7f9a2c4e6b8d0f1a3c5e7b9d2f4a";
/// The bench database on the local development cluster.
pub const DATABASE: &str = "screenplay_bench";

/// The nested page: 20 sessions × 10 steps × 5 fragments, with usage totals.
pub const NESTED: &str = "query($after: String) { sessions(first: 20, after: $after) { pageInfo { endCursor }
  edges { node { id title status usage { totalTokens costUsd callCount }
    outline { id title status fragments { id kind character content version } } } } } }";
/// The same page without nested fields (20 rows), to compare with a plain list endpoint.
pub const FLAT: &str = "query($after: String) { sessions(first: 20, after: $after) { pageInfo { endCursor }
  edges { node { id title logline status version createdAt updatedAt } } } }";

/// A timed answer's `data`, when it has no `errors`. Read into the shape
/// the check needs, skipping the rest, not into a JSON tree: the load runs
/// in the bench process, and building a tree of a 171 KB page took a sixth
/// of that process's CPU, time a one-connection client adds to every
/// request of either server.
pub fn answer<D: DeserializeOwned>(raw: &[u8]) -> Option<D> {
    #[derive(Deserialize)]
    struct Answer<D> {
        data: Option<D>,
        errors: Option<IgnoredAny>,
    }
    let answer: Answer<D> = serde_json::from_slice(raw).ok()?;
    match answer.errors {
        Some(_) => None,
        None => answer.data,
    }
}

/// A page of 20 sessions and no errors.
pub fn full_page(raw: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Data {
        sessions: Edges,
    }
    #[derive(Deserialize)]
    struct Edges {
        edges: Vec<IgnoredAny>,
    }
    answer::<Data>(raw).is_some_and(|d| d.sessions.edges.len() == 20)
}

/// The value after `name` on the command line (`cargo bench` adds flags of
/// its own, such as `--bench`; anything unknown is ignored).
pub fn flag<T: FromStr>(name: &str) -> Option<T> {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|a| a == name)?;
    let value = args.get(at + 1)?;
    Some(
        value
            .parse()
            .unwrap_or_else(|_| panic!("{name}: cannot read {value:?}")),
    )
}

/// Whether `name` is on the command line.
pub fn switch(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

/// `--concurrency 1,16`.
pub fn concurrency() -> Vec<usize> {
    flag::<String>("--concurrency").map_or(vec![1, 16], |v| {
        v.split(',').map(|c| c.parse().expect("--concurrency 1,16")).collect()
    })
}

/// The size of the seeded data: sessions × steps × fragments, one LLM call
/// per step.
pub struct Dataset {
    pub sessions: u32,
    pub steps: u32,
    pub fragments: u32,
}

impl Dataset {
    /// `--sessions 1000 --steps 10 --fragments 5` (the defaults).
    pub fn from_args() -> Self {
        Self {
            sessions: flag("--sessions").unwrap_or(1000),
            steps: flag("--steps").unwrap_or(10),
            fragments: flag("--fragments").unwrap_or(5),
        }
    }
}

/// Our server on the freshly seeded database.
pub struct Seeded {
    pub server: Running,
    /// Our `POST /graphql`.
    pub url: String,
    /// A member of the bench tenant, valid for a day.
    pub token: String,
    /// The bench database as its owner (migrations, seeding).
    pub owner_url: String,
    /// The bench database as `screenplay_app` (row-level security applies).
    pub app_url: String,
}

/// The local development cluster (`$SCREENPLAY_HOME`, `$SCREENPLAY_DB_PORT`).
pub fn local_cluster() -> anyhow::Result<LocalDb> {
    let home = std::env::var_os("SCREENPLAY_HOME").map(std::path::PathBuf::from);
    let port = std::env::var("SCREENPLAY_DB_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(54329);
    LocalDb::new(home, port)
}

/// Drops and recreates `screenplay_bench`, migrates and seeds it, and starts
/// our server on a loopback port (pool of 32).
pub async fn seeded_server(d: &Dataset) -> anyhow::Result<Seeded> {
    let urls = local_cluster()?.start().await?;
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
    let (tenant, user) = seed(&owner_url, d).await?;
    eprintln!(
        "seeded {} sessions × {} steps × {} fragments in {:.1} s",
        d.sessions,
        d.steps,
        d.fragments,
        started.elapsed().as_secs_f64()
    );

    let serve = ServeArgs::parse_flags(&["--bind", "127.0.0.1:0", "--jwt-secret", SECRET, "--no-migrate"])?;
    let mut db_args = DatabaseArgs::at(&app_url, Some(&owner_url));
    db_args.pool_size = 32;
    let server = Application::build(Config::from_args(serve, db_args)?).await?.spawn();
    let token = server
        .state
        .issuer
        .issue(
            &user.to_string(),
            Some(tenant),
            Role::Member,
            Duration::from_secs(86_400),
        )?
        .0;
    let url = format!("http://{}/graphql", server.addr);
    Ok(Seeded {
        server,
        url,
        token,
        owner_url,
        app_url,
    })
}

async fn seed(owner_url: &str, d: &Dataset) -> anyhow::Result<(Uuid, Uuid)> {
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
        sessions = d.sessions,
        steps = d.steps,
        fragments = d.fragments,
    );
    owner.execute_unprepared(&sql).await?;
    owner.close().await?;
    Ok((tenant, user))
}

/// One GraphQL request; the parsed answer, whatever its status.
pub async fn post(client: &reqwest::Client, url: &str, token: &str, body: &Value) -> anyhow::Result<Value> {
    Ok(client
        .post(url)
        .bearer_auth(token)
        .json(body)
        .send()
        .await?
        .json()
        .await?)
}

/// Every page of `query` (variables `$after`, result under `data.sessions`
/// with `pageInfo { endCursor }` and `edges`), first to last full page of 20:
/// the cursor each page was asked with, and its edges.
pub async fn pages(url: &str, token: &str, query: &str) -> anyhow::Result<Vec<(Option<String>, Value)>> {
    let client = reqwest::Client::new();
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let body = post(
            &client,
            url,
            token,
            &json!({ "query": query, "variables": { "after": after } }),
        )
        .await?;
        anyhow::ensure!(body.get("errors").is_none(), "{url} answered {body}");
        let sessions = &body["data"]["sessions"];
        let edges = sessions["edges"].clone();
        if edges.as_array().map_or(0, Vec::len) < 20 {
            break;
        }
        let end = sessions["pageInfo"]["endCursor"].as_str().map(str::to_owned);
        out.push((after, edges));
        match end {
            Some(end) => after = Some(end),
            None => break,
        }
    }
    anyhow::ensure!(!out.is_empty(), "{url}: not one full page of 20 sessions");
    Ok(out)
}

/// What one timed load measured.
pub struct Sample {
    /// Sorted.
    pub latencies: Vec<Duration>,
    pub bytes: usize,
    pub elapsed: Duration,
}

impl Sample {
    pub fn requests(&self) -> usize {
        self.latencies.len()
    }

    pub fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    /// The `p`th percentile latency (nearest rank).
    pub fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * self.latencies.len() as f64).ceil() as usize;
        self.latencies[rank.clamp(1, self.latencies.len()) - 1]
    }

    pub fn mean_bytes(&self) -> f64 {
        self.bytes as f64 / self.latencies.len().max(1) as f64
    }
}

/// Milliseconds with one decimal.
pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// `connections` clients (one keep-alive connection each) post the
/// `bodies` (JSON, in turn, each client starting at its own index) to `url`
/// for `duration`; every answer must pass `check`, or the load panics with it.
pub async fn load(
    url: &str,
    token: &str,
    bodies: &Arc<Vec<Vec<u8>>>,
    connections: usize,
    duration: Duration,
    check: fn(&[u8]) -> bool,
) -> Sample {
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for worker in 0..connections {
        let (bodies, url, auth) = (Arc::clone(bodies), url.to_owned(), format!("Bearer {token}"));
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .expect("client");
            let (mut latencies, mut bytes, mut i) = (Vec::new(), 0usize, worker);
            while Instant::now() < deadline {
                let start = Instant::now();
                let raw = client
                    .post(&url)
                    .header("authorization", &auth)
                    .header("content-type", "application/json")
                    .body(bodies[i % bodies.len()].clone())
                    .send()
                    .await
                    .expect("request")
                    .bytes()
                    .await
                    .expect("body");
                latencies.push(start.elapsed());
                bytes += raw.len();
                if !check(&raw) {
                    let text: String = String::from_utf8_lossy(&raw).chars().take(2000).collect();
                    panic!("bad answer from {url}: {text}");
                }
                i += connections;
            }
            (latencies, bytes)
        }));
    }
    let mut sample = Sample {
        latencies: Vec::new(),
        bytes: 0,
        elapsed: Duration::ZERO,
    };
    for t in tasks {
        let (latencies, bytes) = t.await.expect("worker");
        sample.latencies.extend(latencies);
        sample.bytes += bytes;
    }
    sample.elapsed = started.elapsed();
    sample.latencies.sort();
    sample
}
