//! `screenplay bench logins`: a storm of anonymous sign-ins against a server
//! process of its own, measuring the server's peak memory (VmHWM) and what
//! the storm does to another tenant's reads. `--server-bin` runs another
//! build of `screenplay` (an older one, to compare). A tool, not a test.

use std::{
    path::PathBuf,
    process::Stdio,
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::{
    app::database as setup,
    auth::{Role, jwt::JwtIssuer},
    config::{AuthConfig, DatabaseArgs, Secret},
    service::tenants::{self, Limits, NewTenant},
};

/// How hard to storm.
#[derive(Debug, Clone, clap::Args)]
pub struct LoginsArgs {
    /// Sign-ins in flight at once.
    #[arg(long, default_value_t = 200)]
    pub concurrency: usize,
    /// Waves of `concurrency` sign-ins.
    #[arg(long, default_value_t = 5)]
    pub waves: usize,
    /// The `screenplay` binary to serve with (default: this one).
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
}

const SECRET: &str = "b7e2c91f04a6d38e5f1a7c2b9d4e6f08a3c5e7f9b1d2a4c6e8f0a2b4c6d8e0f1";

pub async fn run(args: LoginsArgs, db_args: DatabaseArgs) -> anyhow::Result<()> {
    let (database, db) = setup::open_for_command(&db_args).await?;
    let (tenant, admin, slug) = reader_tenant(&db).await?;
    let bin = match args.server_bin {
        Some(bin) => bin,
        None => std::env::current_exe()?,
    };
    let port = free_port()?;
    let mut server = serve(&bin, port, database.app_url.expose()).await?;
    let base = format!("http://127.0.0.1:{port}/graphql");
    let issuer = JwtIssuer::from_config(&AuthConfig {
        jwt_secret: Some(Secret::new(SECRET.to_owned())),
        idp: Default::default(),
        issuer: None,
        audience: None,
        access_token_ttl: Duration::from_secs(3600),
        refresh_token_ttl: Duration::from_secs(7200),
        platform_token_max_ttl: std::time::Duration::from_secs(12 * 3600),
    });
    let token = issuer
        .issue(
            &admin.to_string(),
            Some(tenant),
            Role::TenantAdmin,
            Duration::from_secs(3600),
        )?
        .0;
    let pid = server.id().unwrap_or_default();
    let idle = reads(&base, &token, Duration::from_secs(3)).await;
    let rss_idle = memory(pid, "VmRSS");
    let storm = tokio::spawn(storm(base.clone(), slug, args.concurrency, args.waves));
    let during = reads(&base, &token, Duration::from_secs(3)).await;
    let outcomes = storm.await??;
    let rss_after = memory(pid, "VmRSS");
    let peak = memory(pid, "VmHWM");
    let _ = server.kill().await;
    println!("server: {}", bin.display());
    println!(
        "{} sign-ins ({} at once, {} waves): {}",
        args.concurrency * args.waves,
        args.concurrency,
        args.waves,
        outcomes
    );
    println!("server memory: {rss_idle} MiB idle, peak {peak} MiB, {rss_after} MiB after");
    println!("another tenant's read, median: {idle:?} idle, {during:?} during the storm");
    Ok(())
}

/// A tenant whose admin reads during the storm (and whose slug the storm
/// guesses passwords for).
async fn reader_tenant(db: &crate::db::Db) -> anyhow::Result<(uuid::Uuid, uuid::Uuid, String)> {
    let slug = format!("logins-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let tx = db.begin_platform().await?;
    let new = NewTenant {
        slug: slug.clone(),
        name: "Sign-in storm".into(),
        plan: entity::enums::TenantPlan::Enterprise,
        limits: Limits::default(),
        settings: None,
        admin_email: "reader@logins.test".into(),
        admin_password: "benchmark-password".into(),
        admin_display_name: None,
    };
    let (tenant, admin) = tenants::create(&tx, new).await?;
    sea_orm::TransactionSession::commit(tx).await?;
    Ok((tenant.id, admin.id, slug))
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The server, started and ready. Sign-in limits per client are lifted: the
/// storm comes from one address, and the point is what hashing costs.
async fn serve(bin: &PathBuf, port: u16, database_url: &str) -> anyhow::Result<Child> {
    let child = Command::new(bin)
        .args(["serve", "--no-migrate", "--bind", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", database_url)
        .env("SCREENPLAY_JWT_SECRET", SECRET)
        .env("SCREENPLAY_LOGIN_PER_CLIENT_PER_MINUTE", "1000000")
        .env("SCREENPLAY_LOGIN_PER_TENANT_PER_MINUTE", "1000000")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let client = reqwest::Client::new();
    let ready = format!("http://127.0.0.1:{port}/readyz");
    for _ in 0..300 {
        if client.get(&ready).send().await.is_ok_and(|r| r.status().is_success()) {
            return Ok(child);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the server did not become ready")
}

/// A process's memory line from /proc (e.g. `VmHWM`, its peak RSS), in MiB.
fn memory(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)?
                .trim_start_matches(':')
                .trim()
                .strip_suffix(" kB")?
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kb| kb / 1024)
}

/// Median latency of a small read, from four readers, for `length`.
async fn reads(url: &str, token: &str, length: Duration) -> Duration {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + length;
    let readers = (0..4).map(|_| {
        let (client, url, token) = (client.clone(), url.to_owned(), token.to_owned());
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let started = Instant::now();
                let body = json!({ "query": "{ me { role } workspaces(first: 5) { totalCount } }" });
                let ok = client.post(&url).bearer_auth(&token).json(&body).send().await;
                if ok.is_ok_and(|r| r.status().is_success()) {
                    latencies.push(started.elapsed());
                }
            }
            latencies
        })
    });
    let mut all = Vec::new();
    for reader in readers {
        all.extend(reader.await.unwrap_or_default());
    }
    all.sort();
    all.get(all.len() / 2).copied().unwrap_or_default()
}

/// Waves of anonymous sign-ins: unknown tenants, unknown accounts and wrong
/// passwords on a real one, in turn. Returns the answers by code.
async fn storm(url: String, slug: String, concurrency: usize, waves: usize) -> anyhow::Result<String> {
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    let mut codes = std::collections::BTreeMap::<String, usize>::new();
    for wave in 0..waves {
        let attempts = (0..concurrency).map(|i| {
            let (tenant, email) = match i % 3 {
                0 => (format!("nowhere-{wave}-{i}"), "a@b.test".to_owned()),
                1 => (slug.clone(), format!("nobody-{wave}-{i}@logins.test")),
                _ => (slug.clone(), "reader@logins.test".to_owned()),
            };
            let body = json!({
                "query": "mutation($i: LoginInput!) { login(input: $i) { accessToken } }",
                "variables": { "i": { "tenantSlug": tenant, "email": email, "password": "not the password" } },
            });
            let request = client.post(&url).json(&body);
            async move {
                match request.send().await {
                    Ok(response) => response
                        .json::<Value>()
                        .await
                        .ok()
                        .and_then(|b| b["errors"][0]["extensions"]["code"].as_str().map(str::to_owned)),
                    Err(_) => None,
                }
            }
        });
        for code in futures::future::join_all(attempts).await {
            *codes.entry(code.unwrap_or_else(|| "no answer".into())).or_default() += 1;
        }
    }
    Ok(codes
        .iter()
        .map(|(c, n)| format!("{n} {c}"))
        .collect::<Vec<_>>()
        .join(", "))
}
