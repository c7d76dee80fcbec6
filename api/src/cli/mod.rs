//! The `screenplay` command line.

mod backup;
mod db;
mod export;
mod healthcheck;
mod ingest;
mod maintenance;
mod migrate;
mod platform_admin;
mod serve;
mod tenant;
mod token;
mod vectors;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::{
    config::{DatabaseArgs, LogFormat, ServeArgs, without_empty_env},
    runtime,
    telemetry::Telemetry,
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
    /// Exit 0 when the server on this machine is ready (GET /readyz), 1 otherwise.
    Healthcheck(healthcheck::HealthcheckArgs),
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
    /// Measure through the real HTTP server (numbers for BENCHMARKS.md).
    Bench {
        #[command(subcommand)]
        action: crate::bench::BenchAction,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Print a session's screenplay (Fountain, plain text or JSON).
    Export {
        #[command(flatten)]
        args: export::ExportArgs,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Platform admins and the identity-provider subjects allowed to be one.
    PlatformAdmin {
        #[command(subcommand)]
        action: platform_admin::PlatformAdminAction,
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
    /// Database maintenance: vacuum, analyze, reindex, log cleanup, partitions.
    Maintenance {
        #[command(subcommand)]
        action: maintenance::MaintenanceAction,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Dump the database (pg_dump, custom format) and delete old dumps.
    Backup {
        /// Folder of the dumps.
        #[arg(long, default_value = "backups")]
        out: std::path::PathBuf,
        /// Delete this database's dumps older than this many days (0 keeps all).
        #[arg(long, default_value_t = 30)]
        keep_days: u32,
        #[command(flatten)]
        pg_bin: backup::PgBinArgs,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Move vector search between pgvector and Milvus (`migrate --to`, `verify`).
    Vectors {
        #[command(subcommand)]
        action: vectors::VectorsAction,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Restore a dump made by `screenplay backup` (pg_restore, one transaction).
    Restore {
        /// The dump file.
        file: std::path::PathBuf,
        /// Restore into this database (the owner's URL; default: the configured database).
        #[arg(long, hide_env_values = true)]
        into: Option<crate::config::Secret<String>>,
        /// Replace what the target database holds (drops the dump's objects first).
        #[arg(long)]
        clean: bool,
        #[command(flatten)]
        pg_bin: backup::PgBinArgs,
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

/// Parses the command line and runs it; the process exit code follows the result.
pub async fn run() -> anyhow::Result<()> {
    let matches = without_empty_env(Cli::command()).get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // Traces are the server's: other commands run too briefly to need them.
    let telemetry = match &cli.command {
        Command::Serve { .. } => Telemetry::from_env()?,
        _ => None,
    };
    runtime::init_logging(cli.log_format, telemetry.as_ref());
    let result = run_command(cli.command).await;
    if let Some(telemetry) = telemetry {
        telemetry.shutdown().await;
    }
    result
}

async fn run_command(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve { serve, db } => serve::run(*serve, db).await,
        Command::Migrate { action, db } => migrate::run(action.unwrap_or_default(), db).await,
        Command::Db { action, db } => db::run(action, db).await,
        Command::Token { action, db } => token::run(action, db).await,
        Command::Tenant { action, db } => tenant::run(action, db).await,
        Command::PlatformAdmin { action, db } => platform_admin::run(action, db).await,
        Command::Bench { action, db } => crate::bench::run(action, db).await,
        Command::Maintenance { action, db } => maintenance::run(action, db).await,
        Command::Backup {
            out,
            keep_days,
            pg_bin,
            db,
        } => backup::run_backup(out, keep_days, pg_bin, db).await,
        Command::Restore {
            file,
            into,
            clean,
            pg_bin,
            db,
        } => backup::run_restore(file, into, clean, pg_bin, db).await,
        Command::Export { args, db } => export::run(args, db).await,
        Command::Vectors { action, db } => vectors::run(action, db).await,
        Command::Ingest { ingest, db } => ingest::run(*ingest, db).await,
        Command::Healthcheck(args) => healthcheck::run(args).await,
        Command::Schema => {
            print!("{}", crate::graphql::sdl());
            Ok(())
        }
    }
}
