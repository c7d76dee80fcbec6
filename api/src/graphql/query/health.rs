use async_graphql::{Context, Object};

use crate::graphql::context::ContextExt;

/// Liveness and build facts; no sign-in needed.
#[derive(Default)]
pub struct HealthQuery;

#[Object]
impl HealthQuery {
    /// `ok` when the server answers GraphQL (see `/readyz` for the database).
    async fn health(&self) -> &'static str {
        "ok"
    }

    /// The server's version.
    async fn version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }

    /// Whether the database answers and its schema is current.
    async fn database_ready(&self, ctx: &Context<'_>) -> bool {
        ctx.app().db.readiness().await.is_ok()
    }
}
