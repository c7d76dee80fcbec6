//! Migrations: applied under an advisory lock, and counted for readiness.

use std::time::Duration;

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};

/// Number of migrations not yet applied.
pub async fn pending_migrations(conn: &impl ConnectionTrait) -> Result<usize, sea_orm::DbErr> {
    let applied: std::collections::HashSet<String> = conn
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT version FROM public.seaql_migrations",
        ))
        .await?
        .iter()
        .filter_map(|row| row.try_get::<String>("", "version").ok())
        .collect();
    Ok(Migrator::migrations()
        .iter()
        .filter(|m| !applied.contains(m.name()))
        .count())
}

/// Runs pending migrations under an advisory lock, so that several server
/// instances starting together migrate once.
pub async fn migrate_up(url: &str) -> anyhow::Result<()> {
    with_migration_lock(url, |conn| async move {
        Migrator::up(&conn, None).await.context("applying migrations")?;
        Ok(conn)
    })
    .await
}

/// Connects for migrations (one connection, so the advisory lock holds).
pub async fn connect_for_migrations(url: &str) -> anyhow::Result<DatabaseConnection> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(1)
        .min_connections(1)
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10));
    Database::connect(opts).await.context("connecting for migrations")
}

/// Runs `work` on a single connection holding the migration advisory lock.
pub async fn with_migration_lock<F, Fut>(url: &str, work: F) -> anyhow::Result<()>
where
    F: FnOnce(DatabaseConnection) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<DatabaseConnection>>,
{
    /// Arbitrary, fixed: "screenplay migrations".
    const LOCK_KEY: i64 = 0x5343_5245_454e_4d49;
    let conn = connect_for_migrations(url).await?;
    conn.execute_unprepared(&format!("SELECT pg_advisory_lock({LOCK_KEY})"))
        .await?;
    let conn = work(conn).await?;
    conn.execute_unprepared(&format!("SELECT pg_advisory_unlock({LOCK_KEY})"))
        .await?;
    conn.close().await?;
    Ok(())
}
