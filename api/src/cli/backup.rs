//! `screenplay backup` and `screenplay restore`, around pg_dump and
//! pg_restore of the server's major version (see `maintenance::backup`).

use std::path::PathBuf;

use crate::{
    app::database as setup,
    config::{DatabaseArgs, Secret},
    db::local::LocalDb,
    maintenance::backup::{self, ToolSearch},
};

/// Where the PostgreSQL client programs are.
#[derive(Debug, Clone, clap::Args)]
pub struct PgBinArgs {
    /// Folder of pg_dump / pg_restore (default: the local installation, then
    /// /usr/lib/postgresql/<server major>/bin, then PATH; the version must match the server's).
    #[arg(long, env = "SCREENPLAY_PG_BIN")]
    pub pg_bin: Option<PathBuf>,
}

fn tools(pg_bin: &PgBinArgs, args: &DatabaseArgs) -> ToolSearch {
    let local = LocalDb::new(args.home.clone(), args.db_port)
        .ok()
        .map(|l| l.bin_dir())
        .filter(|dir| dir.join("pg_dump").is_file());
    ToolSearch {
        explicit: pg_bin.pg_bin.clone().filter(|p| !p.as_os_str().is_empty()),
        local,
    }
}

/// `screenplay backup`.
pub async fn run_backup(out: PathBuf, keep_days: u32, pg_bin: PgBinArgs, args: DatabaseArgs) -> anyhow::Result<()> {
    let database = setup::resolve_database(&args, setup::Local::Existing).await?;
    let tools = tools(&pg_bin, &args);
    let report = backup::backup(database.migration_url.expose(), &out, keep_days, &tools).await?;
    println!("{}", report.file.display());
    eprintln!(
        "backup written: {} ({:.1} MiB, pg_dump {} from {})",
        report.file.display(),
        report.bytes as f64 / 1_048_576.0,
        report.pg_dump.major,
        report.pg_dump.path.display()
    );
    for old in &report.removed {
        eprintln!("removed old backup {}", old.display());
    }
    Ok(())
}

/// `screenplay restore`.
pub async fn run_restore(
    file: PathBuf,
    into: Option<Secret<String>>,
    clean: bool,
    pg_bin: PgBinArgs,
    args: DatabaseArgs,
) -> anyhow::Result<()> {
    let url = match into {
        Some(url) => url,
        None => {
            setup::resolve_database(&args, setup::Local::Existing)
                .await?
                .migration_url
        }
    };
    let tools = tools(&pg_bin, &args);
    let report = backup::restore(&file, url.expose(), clean, &tools).await?;
    eprintln!(
        "restored {} into database {} (pg_restore {})",
        file.display(),
        report.database,
        report.pg_restore.major
    );
    if report.pending_migrations > 0 {
        eprintln!(
            "{} migration(s) newer than the backup are pending: run `screenplay migrate`",
            report.pending_migrations
        );
    }
    Ok(())
}
