//! Log partitions created ahead of time by every server: at start, then
//! every six hours, `screenplay.ensure_log_partitions(0, 3)` makes sure the
//! current month and the next three have partitions, so inserts never fail
//! at a month boundary even if no one runs `screenplay maintenance
//! partitions`. Idempotent, so several instances may run it.

use std::time::Duration;

use crate::{db::Db, runtime::ShutdownSignal};

/// Months of partitions kept ahead of the current one.
pub const MONTHS_AHEAD: i32 = 3;
/// How often the partitions are checked.
pub const INTERVAL: Duration = Duration::from_secs(6 * 3600);

/// Creates missing partitions once; returns the names created.
pub async fn ensure_ahead(db: &Db) -> anyhow::Result<Vec<String>> {
    let tx = db.begin_platform().await?;
    let rows = super::ensure_log_partitions(&tx, 0, MONTHS_AHEAD).await?;
    tx.commit().await?;
    Ok(rows.into_iter().filter(|r| r.created).map(|r| r.partition).collect())
}

/// The background task: runs until `shutdown`.
pub async fn keep_ahead(db: Db, shutdown: ShutdownSignal) {
    loop {
        match ensure_ahead(&db).await {
            Ok(created) if !created.is_empty() => {
                tracing::info!(partitions = ?created, "created log partitions ahead of time");
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %format!("{err:#}"), "could not create log partitions ahead"),
        }
        tokio::select! {
            () = tokio::time::sleep(INTERVAL) => {}
            () = shutdown.clone().wait() => return,
        }
    }
}
