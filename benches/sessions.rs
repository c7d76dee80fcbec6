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

mod support;

use std::{sync::Arc, time::Duration};

use serde_json::json;
use support::{Dataset, FLAT, NESTED, full_page, load, ms};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    screenplay_api::runtime::init_tls();
    let dataset = Dataset::from_args();
    let seconds: u64 = support::flag("--seconds").unwrap_or(15);
    let query = if support::switch("--flat") { FLAT } else { NESTED };
    let bench = support::seeded_server(&dataset).await?;

    // Every page's cursor, so that requests cycle through the whole list.
    let pages = support::pages(&bench.url, &bench.token, query).await?;
    eprintln!("{} pages of 20 sessions", pages.len());
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

    println!("| connections | requests | req/s | p50 | p99 | statements/request | response size |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for connections in support::concurrency() {
        // Warm up, then measure for a fixed time.
        let (url, token) = (&bench.url, &bench.token);
        load(url, token, &bodies, connections, Duration::from_secs(2), full_page).await;
        let statements_before = bench.server.state.db.stats().statements();
        let sample = load(
            url,
            token,
            &bodies,
            connections,
            Duration::from_secs(seconds),
            full_page,
        )
        .await;
        let statements = bench.server.state.db.stats().statements() - statements_before;
        println!(
            "| {connections} | {} | {:.0} | {} | {} | {:.1} | {:.0} KB |",
            sample.requests(),
            sample.rate(),
            ms(sample.percentile(50.0)),
            ms(sample.percentile(99.0)),
            statements as f64 / sample.requests().max(1) as f64,
            sample.mean_bytes() / 1024.0,
        );
    }
    bench.server.stop().await?;
    Ok(())
}
