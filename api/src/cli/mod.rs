//! The `screenplay` command line.

mod db;
mod ingest;
mod migrate;
mod serve;
mod tenant;
mod token;

use clap::{Parser, Subcommand};

use crate::{
    config::{DatabaseArgs, LogFormat, ServeArgs},
    telemetry,
};

/// RAG screenplay backend: GraphQL API, database and operations.
#[derive(Debug, Parser)]
#[command(
    name = "screenplay",
    version,
    about = "RAG screenplay backend: GraphQL API, database and operations"
)]
pub struct Cli {
    /// Log format.
    #[arg(long, global = true, env = "SCREENPLAY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the GraphQL server (starts a local database when DATABASE_URL is unset).
    Serve {
        #[command(flatten)]
        serve: Box<ServeArgs>,
        #[command(flatten)]
        db: DatabaseArgs,
        /// Do not apply pending migrations at start.
        #[arg(long, env = "SCREENPLAY_NO_MIGRATE")]
        no_migrate: bool,
    },
    /// Apply or inspect schema migrations.
    Migrate {
        #[command(subcommand)]
        action: Option<migrate::MigrateAction>,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Manage the local development database.
    Db {
        #[command(subcommand)]
        action: db::DbAction,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Benchmark search and ingest on a synthetic dataset (see BENCHMARKS.md).
    Bench {
        #[command(flatten)]
        bench: crate::bench::run::BenchArgs,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Ingest files and folders into a workspace's reference documents.
    Ingest {
        #[command(flatten)]
        ingest: Box<ingest::IngestCommand>,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Issue access tokens (platform admins, agent workers).
    Token {
        #[command(subcommand)]
        action: token::TokenAction,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Manage tenants from the shell.
    Tenant {
        #[command(subcommand)]
        action: tenant::TenantAction,
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

/// Parses the command line and runs it; the process exit code follows the result.
pub async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init(cli.log_format);
    match cli.command {
        Command::Serve { serve, db, no_migrate } => serve::run(*serve, db, no_migrate).await,
        Command::Migrate { action, db } => migrate::run(action.unwrap_or_default(), db).await,
        Command::Db { action, db } => db::run(action, db).await,
        Command::Token { action, db } => token::run(action, db).await,
        Command::Tenant { action, db } => tenant::run(action, db).await,
        Command::Ingest { ingest, db } => ingest::run(*ingest, db).await,
        Command::Bench { bench, db } => crate::bench::run::run(bench, db).await,
        Command::Schema => {
            print!("{}", crate::graphql::sdl());
            Ok(())
        }
    }
}
