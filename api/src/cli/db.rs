//! `screenplay db start|stop|status|url`.

use clap::Subcommand;

use crate::{
    config::DatabaseArgs,
    db::local::{LocalDb, Status},
};

#[derive(Debug, Subcommand)]
pub enum DbAction {
    /// Install (first time), initialise and start the local database; no-op when running.
    Start,
    /// Stop the local database; its data stays.
    Stop,
    /// Print whether the local database is installed and running.
    Status,
    /// Print the local database's DATABASE_URL (the app role).
    Url {
        /// Print the schema owner's URL instead (migrations, psql as a DBA).
        #[arg(long)]
        owner: bool,
    },
}

pub async fn run(action: DbAction, args: DatabaseArgs) -> anyhow::Result<()> {
    let local = LocalDb::new(args.home, args.db_port)?;
    match action {
        DbAction::Start => {
            let urls = local.start().await?;
            eprintln!(
                "local database running on 127.0.0.1:{} (data in {})",
                urls.port,
                local.home().display()
            );
            Ok(())
        }
        DbAction::Stop => {
            local.stop()?;
            eprintln!("local database stopped");
            Ok(())
        }
        DbAction::Status => {
            let status = local.status()?;
            println!(
                "{}",
                match status {
                    Status::NotInstalled => "not installed",
                    Status::Stopped => "stopped",
                    Status::Running => "running",
                }
            );
            if status != Status::Running {
                std::process::exit(3);
            }
            Ok(())
        }
        DbAction::Url { owner } => {
            let urls = local.urls()?;
            println!("{}", if owner { urls.owner } else { urls.app });
            Ok(())
        }
    }
}
