//! `screenplay bench middleware`: what the audit and quota middleware costs,
//! measured through the real HTTP server in one run. A tool, not a test.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::{
    app::{Application, Running, database as setup},
    auth::{Role, TenantCaller},
    config::{Config, DatabaseArgs, JwtArgs, Secret, ServeArgs},
    service::{
        tenants::{self, Limits, NewTenant},
        workspaces::{self, NewWorkspace},
    },
};

/// How long and how hard to measure.
#[derive(Debug, Clone, clap::Args)]
pub struct MiddlewareArgs {
    /// Seconds per measurement.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Concurrent connections.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Rounds; each round measures every configuration once, interleaved.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
}

/// Throughput and latency of a small read and a small mutation with the
/// audit/quota middleware on and off.
pub async fn run(args: MiddlewareArgs, db_args: DatabaseArgs) -> anyhow::Result<()> {
    middleware(
        db_args,
        Duration::from_secs(args.seconds),
        args.concurrency,
        args.rounds,
    )
    .await
}

/// One load run's numbers.
pub(super) struct Sample {
    requests: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Sample {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    pub(super) fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let mut sorted = self.latencies.clone();
        sorted.sort();
        sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
    }
}

async fn spawn_server(audit: bool, secret: &str, db_args: &DatabaseArgs) -> anyhow::Result<(String, Running)> {
    let audit = audit.to_string();
    let flags = [
        "--bind",
        "127.0.0.1:0",
        "--jwt-secret",
        secret,
        "--audit",
        &audit,
        "--no-migrate",
    ];
    let config = Config::from_args(ServeArgs::parse_flags(&flags)?, db_args.clone())?;
    let server = Application::build(config).await?.spawn();
    Ok((format!("http://{}/graphql", server.addr), server))
}

/// Loads `url` with `concurrency` connections; connection `i` sends
/// `bodies[i % bodies.len()]` in a loop until `duration` has passed.
pub(super) async fn load(
    url: &str,
    token: &str,
    bodies: &[serde_json::Value],
    concurrency: usize,
    duration: Duration,
) -> Sample {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("client");
    let start = Instant::now();
    let deadline = start + duration;
    let mut workers = Vec::new();
    for i in 0..concurrency {
        let body = bodies[i % bodies.len()].clone();
        let (client, url, token) = (client.clone(), url.to_owned(), token.to_owned());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                let ok = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                    .map(|r| r.status().is_success())
                    .unwrap_or(false);
                if ok {
                    latencies.push(t.elapsed());
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for w in workers {
        latencies.extend(w.await.unwrap_or_default());
    }
    Sample {
        requests: latencies.len(),
        elapsed: start.elapsed(),
        latencies,
    }
}

async fn middleware(
    db_args: DatabaseArgs,
    duration: Duration,
    concurrency: usize,
    rounds: usize,
) -> anyhow::Result<()> {
    let (database, db) = setup::open_for_command(&db_args).await?;
    let (admin, tenant, workspace_ids) = bench_tenant(&db, concurrency).await?;
    let (secret, token) = bench_token(&database, admin, tenant)?;
    let on = spawn_server(true, secret.expose(), &db_args).await?;
    let off = spawn_server(false, secret.expose(), &db_args).await?;

    let read =
        json!({ "query": "query Read { me { role } workspaces(first: 5) { totalCount edges { node { id name } } } }" });
    let write = |id: uuid::Uuid| {
        json!({
            "query": "mutation Write($i: UpdateWorkspaceInput!) { updateWorkspace(input: $i) { workspace { id name } } }",
            "variables": { "i": { "id": id, "description": "benchmark" } }
        })
    };
    let reads = vec![read];
    let writes: Vec<_> = workspace_ids.iter().copied().map(write).collect();
    let hot_row = vec![write(workspace_ids[0])];
    let configs = [
        ("read", &reads),
        ("mutation", &writes),
        ("mutation, one hot row", &hot_row),
    ];
    let servers = [("on", on.0.as_str()), ("off", off.0.as_str())];
    let results = measure(&servers, &configs, &token, concurrency, duration, rounds).await;
    print_results(&configs, &results, rounds);
    on.1.stop().await?;
    off.1.stop().await?;
    Ok(())
}

/// The signing secret of the database's servers and a tenant admin's token.
pub(super) fn bench_token(
    database: &setup::ResolvedDatabase,
    admin: uuid::Uuid,
    tenant: uuid::Uuid,
) -> anyhow::Result<(Secret<String>, String)> {
    let secret = setup::signing_secret(
        &JwtArgs {
            jwt_secret: None,
            jwt_issuer: None,
            jwt_audience: None,
            platform_token_max_ttl: Duration::from_secs(12 * 3600),
        },
        database,
    )
    .or_else(|_| std::env::var("SCREENPLAY_JWT_SECRET").map(Secret::new))?;
    let issuer = crate::auth::jwt::JwtIssuer::from_config(&crate::config::AuthConfig {
        jwt_secret: Some(secret.clone()),
        idp: crate::config::IdpConfig::default(),
        issuer: None,
        audience: None,
        access_token_ttl: Duration::from_secs(3600),
        refresh_token_ttl: Duration::from_secs(7200),
        platform_token_max_ttl: std::time::Duration::from_secs(12 * 3600),
    });
    let (token, _) = issuer.issue(
        &admin.to_string(),
        Some(tenant),
        Role::TenantAdmin,
        Duration::from_secs(3600),
    )?;
    Ok((secret, token))
}

type Configs<'a> = [(&'static str, &'a Vec<serde_json::Value>); 3];
type Results = std::collections::BTreeMap<(&'static str, &'static str), Vec<Sample>>;

/// A tenant of its own, without limits, with one workspace per connection:
/// users update their own rows, not one row eight at a time (that variant
/// is measured separately as "hot row"). Returns its admin, id and workspaces.
pub(super) async fn bench_tenant(
    db: &crate::db::Db,
    concurrency: usize,
) -> anyhow::Result<(uuid::Uuid, uuid::Uuid, Vec<uuid::Uuid>)> {
    let slug = format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let tx = db.begin_platform().await?;
    let (tenant, admin) = tenants::create(
        &tx,
        NewTenant {
            slug,
            name: "Benchmark".into(),
            plan: entity::enums::TenantPlan::Enterprise,
            limits: Limits::default(),
            settings: None,
            admin_email: "bench@bench.test".into(),
            admin_password: "benchmark-password".into(),
            admin_display_name: None,
        },
    )
    .await?;
    let caller = TenantCaller {
        tenant_id: tenant.id.into(),
        user_id: Some(admin.id),
        role: Role::TenantAdmin,
    };
    let mut workspace_ids = Vec::with_capacity(concurrency);
    for i in 0..concurrency.max(1) {
        let new = NewWorkspace {
            name: format!("Bench {i}"),
            slug: None,
            description: None,
            settings: None,
        };
        workspace_ids.push(workspaces::create(&tx, &caller, new).await?.id);
    }
    sea_orm::TransactionSession::commit(tx).await?;
    Ok((admin.id, tenant.id, workspace_ids))
}

/// Warms both servers up, then measures every configuration on each in
/// interleaved rounds.
async fn measure(
    servers: &[(&'static str, &str); 2],
    configs: &Configs<'_>,
    token: &str,
    concurrency: usize,
    duration: Duration,
    rounds: usize,
) -> Results {
    for (_, url) in servers {
        for (_, body) in configs {
            load(url, token, body, concurrency, Duration::from_millis(500)).await;
        }
    }
    let mut results = Results::new();
    for round in 0..rounds {
        for (kind, body) in configs {
            // Alternate the order so neither side always runs second.
            let order: Vec<_> = if round % 2 == 0 {
                servers.to_vec()
            } else {
                servers.iter().rev().copied().collect()
            };
            for (mode, url) in order {
                let sample = load(url, token, body, concurrency, duration).await;
                results.entry((kind, mode)).or_default().push(sample);
            }
        }
    }
    results
}

fn print_results(configs: &Configs<'_>, results: &Results, rounds: usize) {
    println!("| operation | middleware | req/s (median of {rounds}) | p50 ms | p99 ms |\n|---|---|---:|---:|---:|");
    for (kind, _) in configs {
        for mode in ["on", "off"] {
            let samples = &results[&(*kind, mode)];
            let all = Sample {
                requests: 0,
                elapsed: Duration::from_secs(1),
                latencies: samples.iter().flat_map(|s| s.latencies.iter().copied()).collect(),
            };
            println!(
                "| {kind} | {mode} | {:.0} | {:.2} | {:.2} |",
                median(samples.iter().map(Sample::rps).collect()),
                all.percentile(0.5).as_secs_f64() * 1e3,
                all.percentile(0.99).as_secs_f64() * 1e3
            );
        }
    }
    // The cost from each round's on/off pair, measured back to back, so a
    // slow minute on a shared machine moves both sides of a ratio together.
    println!("\n| operation | cost, median of {rounds} paired rounds | quartiles | min–max |\n|---|---:|---:|---:|");
    for (kind, _) in configs {
        let mut costs: Vec<f64> = results[&(*kind, "on")]
            .iter()
            .zip(&results[&(*kind, "off")])
            .map(|(on, off)| (1.0 - on.rps() / off.rps()) * 100.0)
            .collect();
        costs.sort_by(f64::total_cmp);
        let at = |p: f64| costs[((costs.len() as f64 - 1.0) * p).round() as usize];
        println!(
            "| {kind} | {:.1} % | {:.1} – {:.1} % | {:.1} – {:.1} % |",
            median(costs.clone()),
            at(0.25),
            at(0.75),
            costs[0],
            costs[costs.len() - 1]
        );
    }
}

pub(super) fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return 0.0;
    }
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}
