//! `screenplay maintenance vacuum|analyze|reindex|cleanup --days N|partitions`:
//! the seed's maintenance jobs, including the ones PostgreSQL does not allow
//! inside a SQL function (VACUUM, REINDEX CONCURRENTLY). They run as the
//! schema owner (`SCREENPLAY_MIGRATION_DATABASE_URL`, or the local database's
//! owner) and are recorded in `screenplay.maintenance_runs`.

use clap::Subcommand;

use crate::{
    app::database as setup,
    config::DatabaseArgs,
    maintenance::{Job, JobReport, OwnerConnection, RunOutcome, StartedBy},
};

#[derive(Debug, Subcommand)]
pub enum MaintenanceAction {
    /// VACUUM (ANALYZE) every table of the schema (the seed's daily job).
    Vacuum,
    /// ANALYZE every table (screenplay.analyze_all_tables()).
    Analyze,
    /// Rebuild every index online, table by table (REINDEX TABLE CONCURRENTLY).
    Reindex,
    /// Remove logs older than N days: drop old partitions, delete in the boundary one.
    Cleanup {
        /// Days of logs to keep.
        #[arg(long, default_value_t = 90)]
        days: i32,
    },
    /// Create the log tables' monthly partitions ahead of time.
    Partitions {
        /// Months ahead of the current one.
        #[arg(long, default_value_t = 3)]
        months_ahead: i32,
        /// Months before the current one (for back-filled logs).
        #[arg(long, default_value_t = 0)]
        months_back: i32,
    },
}

pub async fn run(action: MaintenanceAction, args: DatabaseArgs) -> anyhow::Result<()> {
    let job = match action {
        MaintenanceAction::Vacuum => Job::Vacuum,
        MaintenanceAction::Analyze => Job::Analyze,
        MaintenanceAction::Reindex => Job::Reindex,
        MaintenanceAction::Cleanup { days } => {
            if days < 1 {
                anyhow::bail!("--days must be at least 1");
            }
            Job::Cleanup { days }
        }
        MaintenanceAction::Partitions {
            months_ahead,
            months_back,
        } => Job::Partitions {
            months_back,
            months_ahead,
        },
    };
    let database = setup::resolve_database(&args, setup::Local::Existing).await?;
    if database.is_local() {
        setup::migrate(&database).await?;
    }
    let owner = OwnerConnection::connect(database.migration_url.expose()).await?;
    let instance = format!("cli-{}", std::process::id());
    let outcome = owner.run(job, StartedBy::Cli, None, &instance).await;
    owner.close().await;
    match outcome? {
        RunOutcome::Done(report) => {
            print_report(&report);
            eprintln!("{}: {}", job.kind(), report.summary());
            Ok(())
        }
        RunOutcome::Busy => anyhow::bail!(
            "another `{}` is running on this database (its advisory lock is held); try again when it ends",
            job.kind()
        ),
        RunOutcome::AlreadyRan => unreachable!("manual runs have no slot"),
    }
}

fn print_report(report: &JobReport) {
    match report {
        JobReport::Tables(steps) => {
            for step in steps {
                println!("{:<28} {:>9.1} ms", step.table, step.duration.as_secs_f64() * 1000.0);
            }
        }
        JobReport::Cleanup(rows) => {
            println!("{:<16} {:>12} {:>10}  cutoff", "table", "rows", "partitions");
            for row in rows {
                println!(
                    "{:<16} {:>12} {:>10}  {}",
                    row.table,
                    row.deleted,
                    row.partitions_dropped,
                    row.cutoff.to_rfc3339()
                );
            }
        }
        JobReport::Partitions(rows) => {
            for row in rows {
                println!(
                    "{:<28} {}",
                    row.partition,
                    if row.created { "created" } else { "present" }
                );
            }
        }
    }
}
