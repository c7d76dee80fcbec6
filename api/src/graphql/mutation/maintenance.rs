//! Platform-admin maintenance that can run online, inside the operation's
//! transaction. VACUUM and REINDEX CONCURRENTLY cannot: they are
//! `screenplay maintenance vacuum|reindex` and the scheduler's.

use async_graphql::{Context, Object};

use crate::{
    auth::Action,
    graphql::{
        context::ContextExt,
        guards::Allow,
        types::monitoring::{AnalyzeAllTablesPayload, CleanupOldLogsPayload},
    },
    service::monitoring,
};

#[derive(Default)]
pub struct MaintenanceMutation;

#[Object]
impl MaintenanceMutation {
    /// ANALYZE every table (`screenplay.analyze_all_tables()`), refreshing the planner's statistics.
    #[graphql(guard = "Allow(Action::Operate)")]
    async fn analyze_all_tables(&self, ctx: &Context<'_>) -> async_graphql::Result<AnalyzeAllTablesPayload> {
        let tx = ctx.scope().platform().await?;
        let (run, tables) = monitoring::analyze_all_tables(&*tx).await?;
        ctx.scope().note_change("maintenance_run", run.id, None, Some(&run));
        Ok(AnalyzeAllTablesPayload {
            run_id: run.id,
            tables: tables.into_iter().map(Into::into).collect(),
        })
    }

    /// Removes log rows older than `days` days (`screenplay.cleanup_old_logs(days)`):
    /// old partitions are dropped, the boundary one is trimmed.
    #[graphql(guard = "Allow(Action::Operate)")]
    async fn cleanup_old_logs(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 90)] days: i32,
    ) -> async_graphql::Result<CleanupOldLogsPayload> {
        let tx = ctx.scope().platform().await?;
        let (run, tables) = monitoring::cleanup_old_logs(&*tx, days).await?;
        ctx.scope().note_change("maintenance_run", run.id, None, Some(&run));
        Ok(CleanupOldLogsPayload {
            run_id: run.id,
            tables: tables.into_iter().map(Into::into).collect(),
        })
    }
}
