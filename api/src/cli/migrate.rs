//! `screenplay migrate [up|down N|fresh|status]`.

use clap::Subcommand;
use migration::{Migrator, MigratorTrait};

use crate::{
    app::database::{Local, resolve_database},
    config::DatabaseArgs,
    db::with_migration_lock,
};

#[derive(Debug, Subcommand, Default)]
pub enum MigrateAction {
    /// Apply every pending migration (the default).
    #[default]
    Up,
    /// Revert the last N migrations.
    Down {
        /// How many to revert.
        #[arg(default_value_t = 1)]
        n: u32,
    },
    /// Revert every migration, then apply them all: an empty schema.
    Fresh,
    /// List migrations and whether each is applied.
    Status,
}

pub async fn run(action: MigrateAction, args: DatabaseArgs) -> anyhow::Result<()> {
    let database = resolve_database(&args, Local::Create).await?;
    let url = database.migration_url.expose().clone();
    with_migration_lock(&url, |conn| async move {
        match action {
            MigrateAction::Up => Migrator::up(&conn, None).await?,
            MigrateAction::Down { n } => Migrator::down(&conn, Some(n)).await?,
            MigrateAction::Fresh => {
                Migrator::down(&conn, None).await?;
                Migrator::up(&conn, None).await?;
            }
            MigrateAction::Status => {
                for m in Migrator::get_migration_with_status(&conn).await? {
                    println!("{:<10} {}", format!("{:?}", m.status()).to_lowercase(), m.name());
                }
            }
        }
        Ok(conn)
    })
    .await
}
