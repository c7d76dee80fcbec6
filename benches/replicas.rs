//! Read throughput with one streaming replica against the primary alone
//! (issue 15).
//!
//! Seeds `screenplay_bench` as `cargo bench --bench sessions` does, makes a
//! hot standby of the local development cluster (`pg_basebackup -R` into
//! `<home>/bench-standby`, port 54369), and starts two servers in-process on
//! the same primary: one alone, one whose queries go to the standby
//! (`SCREENPLAY_DATABASE_REPLICA_URLS`). Then interleaved rounds (the order
//! flipped every round) of the nested and flat session pages at each
//! concurrency, printing req/s, p50, p99 per round and the median ratio
//! with-replica / primary-alone. Both servers have the same pool size.
//!
//! ```sh
//! cargo bench --bench replicas -- [--rounds 5] [--seconds 6] [--concurrency 1,16]
//! ```

mod support;

use std::{sync::Arc, time::Duration};

use screenplay_api::{
    app::Application,
    config::{Config, DatabaseArgs, Secret, ServeArgs},
    db::local::{LocalDb, LocalUrls},
};
use serde_json::json;
use support::{FLAT, NESTED, Sample, full_page, load, ms};

const STANDBY_PORT: u16 = 54369;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    screenplay_api::runtime::init_tls();
    let rounds: usize = support::flag("--rounds").unwrap_or(5);
    let seconds: u64 = support::flag("--seconds").unwrap_or(6);
    let alone = support::seeded_server(&support::Dataset::from_args()).await?;
    let primary = support::local_cluster()?;
    let standby =
        LocalDb::ephemeral(primary.home().join("bench-standby"), STANDBY_PORT)?.with_bin_dir(primary.bin_dir());
    let standby_urls = standby.start_standby_of(&primary).await?;
    let replica_url = LocalUrls::with_database(&standby_urls.app, support::DATABASE);

    let serve = ServeArgs::parse_flags(&["--bind", "127.0.0.1:0", "--jwt-secret", support::SECRET, "--no-migrate"])?;
    let mut db_args = DatabaseArgs::at(&alone.app_url, Some(&alone.owner_url));
    db_args.pool_size = 32;
    db_args.replica_urls = vec![Secret::new(replica_url)];
    let routed = Application::build(Config::from_args(serve, db_args)?).await?.spawn();
    let replicas = routed.state.replicas.clone().expect("replicas configured");
    while !replicas.states().iter().all(|r| r.usable) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let with_replica = format!("http://{}/graphql", routed.addr);
    let token = alone.token.clone();

    println!(
        "| workload | conns | round | alone req/s | alone p50 | alone p99 | replica req/s | replica p50 | replica p99 | replica/alone |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut summary = Vec::new();
    for (name, query) in [("nested", NESTED), ("flat", FLAT)] {
        let pages = support::pages(&alone.url, &token, query).await?;
        let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
            pages
                .iter()
                .map(|(after, _)| {
                    json!({ "query": query, "variables": { "after": after } })
                        .to_string()
                        .into_bytes()
                })
                .collect(),
        );
        for connections in support::concurrency() {
            let servers = (alone.url.as_str(), with_replica.as_str());
            let mut ratios = rounds_of(name, servers, &token, &bodies, connections, (rounds, seconds)).await;
            ratios.sort_by(f64::total_cmp);
            summary.push((name, connections, ratios));
        }
    }
    let reads: u64 = replicas.states().iter().map(|r| r.reads).sum();
    println!("\n| workload | conns | median replica/alone | lowest | highest |");
    println!("|---|---:|---:|---:|---:|");
    for (name, connections, r) in summary {
        println!(
            "| {name} | {connections} | **{:.2}** | {:.2} | {:.2} |",
            r[r.len() / 2],
            r[0],
            r[r.len() - 1]
        );
    }
    println!(
        "\nreads served by the replica: {reads}; sent to the primary: {}",
        replicas.fallbacks()
    );
    routed.stop().await?;
    alone.server.stop().await?;
    standby.stop()?;
    Ok(())
}

/// Warms both servers up, then `rounds` rounds of each, the order flipped
/// every round; prints a row per round and returns the ratios of req/s.
async fn rounds_of(
    name: &str,
    (alone, routed): (&str, &str),
    token: &str,
    bodies: &Arc<Vec<Vec<u8>>>,
    connections: usize,
    (rounds, seconds): (usize, u64),
) -> Vec<f64> {
    let warm = Duration::from_secs(2);
    load(alone, token, bodies, connections, warm, full_page).await;
    load(routed, token, bodies, connections, warm, full_page).await;
    let time = Duration::from_secs(seconds);
    let mut ratios = Vec::new();
    for round in 1..=rounds {
        let (a, b) = if round % 2 == 1 {
            let a = load(alone, token, bodies, connections, time, full_page).await;
            (a, load(routed, token, bodies, connections, time, full_page).await)
        } else {
            let b = load(routed, token, bodies, connections, time, full_page).await;
            (load(alone, token, bodies, connections, time, full_page).await, b)
        };
        let ratio = b.rate() / a.rate();
        println!(
            "| {name} | {connections} | {round} | {} | {} | {ratio:.2} |",
            columns(&a),
            columns(&b)
        );
        ratios.push(ratio);
    }
    ratios
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
