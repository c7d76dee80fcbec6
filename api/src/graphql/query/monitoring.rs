//! Platform-admin queries over the seed's monitoring views.

use async_graphql::{Context, Object};

use crate::{
    auth::Action,
    graphql::{
        context::ContextExt,
        guards::Allow,
        types::monitoring::{CacheHitRatio, ConnectionStat, IndexUsage, SlowQueries, TableSize, VectorDbMetrics},
    },
    service::monitoring,
};

#[derive(Default)]
pub struct MonitoringQuery;

#[Object]
impl MonitoringQuery {
    /// Size of every table (partitions included) and its indexes: `screenplay.table_sizes`.
    #[graphql(guard = "Allow(Action::Operate)")]
    async fn table_sizes(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<TableSize>> {
        let tx = ctx.scope().platform().await?;
        Ok(monitoring::table_sizes(&*tx)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// The vector store and the Milvus migration triggers: `screenplay.vector_db_metrics`.
    #[graphql(guard = "Allow(Action::Operate)")]
    async fn vector_db_metrics(&self, ctx: &Context<'_>) -> async_graphql::Result<VectorDbMetrics> {
        let tx = ctx.scope().platform().await?;
        Ok(monitoring::vector_db_metrics(&*tx).await?.into())
    }

    /// Slow statements from pg_stat_statements: `screenplay.slow_queries`.
    #[graphql(guard = "Allow(Action::Operate)")]
    async fn slow_queries(&self, ctx: &Context<'_>) -> async_graphql::Result<SlowQueries> {
        let tx = ctx.scope().platform().await?;
        Ok(monitoring::slow_queries(&*tx).await?.into())
    }

    /// Scans and size of every index: `screenplay.index_usage`.
    #[graphql(guard = "Allow(Action::Operate)")]
    async fn index_usage(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<IndexUsage>> {
        let tx = ctx.scope().platform().await?;
        Ok(monitoring::index_usage(&*tx)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Buffer cache hit ratio (should stay above 0.99): `screenplay.cache_hit_ratio`.
    #[graphql(guard = "Allow(Action::Operate)")]
    async fn cache_hit_ratio(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<CacheHitRatio>> {
        let tx = ctx.scope().platform().await?;
        Ok(monitoring::cache_hit_ratio(&*tx)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Connections to the database by role, application and state: `screenplay.connection_stats`.
    #[graphql(guard = "Allow(Action::Operate)")]
    async fn connection_stats(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ConnectionStat>> {
        let tx = ctx.scope().platform().await?;
        Ok(monitoring::connection_stats(&*tx)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }
}
