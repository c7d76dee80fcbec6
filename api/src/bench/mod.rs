//! `screenplay bench …`: search latency and recall on a clustered
//! synthetic dataset, through the bare statements a DBA would write and through the GraphQL API
//! of a real server, and ingest throughput against a plain COPY (`search`);
//! background indexing against a slow provider (`ingest`); the middleware's
//! cost; a sign-in storm. Tools, not tests: their results are committed in
//! BENCHMARKS.md.

pub mod baseline;
pub mod copy;
pub mod data;
pub mod ingest;
pub mod logins;
pub mod middleware;
pub mod run;

/// `screenplay bench …`.
#[derive(Debug, clap::Subcommand)]
pub enum BenchAction {
    /// Search latency and recall against the bare statements, and ingest against COPY, on a
    /// synthetic dataset.
    Search(Box<run::BenchArgs>),
    /// Background indexing against a slow embedding provider, and the API's
    /// read latency while a large job runs.
    Ingest(ingest::IngestBenchArgs),
    /// What the audit and quota middleware costs (on against off, one run).
    Middleware(middleware::MiddlewareArgs),
    /// A storm of anonymous sign-ins: the server's peak memory, and another
    /// tenant's reads during it.
    Logins(logins::LoginsArgs),
}

/// Runs a benchmark.
pub async fn run(action: BenchAction, db: crate::config::DatabaseArgs) -> anyhow::Result<()> {
    match action {
        BenchAction::Search(args) => run::run(*args, db).await,
        BenchAction::Ingest(args) => ingest::run(args, db).await,
        BenchAction::Middleware(args) => middleware::run(args, db).await,
        BenchAction::Logins(args) => logins::run(args, db).await,
    }
}
