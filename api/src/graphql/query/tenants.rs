use async_graphql::{Context, Object};
use uuid::Uuid;

use crate::{
    auth::Action,
    error::NotFoundAsNone,
    graphql::{
        connection::{self, Page, TotalCount, cursor},
        context::ContextExt,
        guards::Allow,
        types::{Tenant, TenantStatus},
    },
    service::{page, tenants},
};

#[derive(Default)]
pub struct TenantQuery;

#[Object]
impl TenantQuery {
    /// Every tenant, newest first (platform admins).
    #[graphql(
        guard = "Allow(Action::ManageTenants)",
        complexity = "crate::graphql::cost::page(first, last, child_complexity)"
    )]
    async fn tenants(
        &self,
        ctx: &Context<'_>,
        status: Option<TenantStatus>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Page<Tenant>> {
        let page = page::Page::new(first, after, last, before, ctx.app().config.limits.max_page_size)?;
        let tx = ctx.scope().platform().await?;
        let status = status.map(Into::into);
        let rows = tenants::list(&*tx, status, &page).await?;
        let total = TotalCount::new(move || {
            let tx = tx.clone();
            Box::pin(async move { tenants::count(&*tx, status).await })
        });
        Ok(connection::page(
            rows,
            |t| cursor(&t.created_at, t.id),
            Tenant::from,
            total,
        ))
    }

    /// One tenant (platform admins); null when there is none with this id.
    #[graphql(guard = "Allow(Action::ManageTenants)")]
    async fn tenant(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Option<Tenant>> {
        let tx = ctx.scope().platform().await?;
        Ok(tenants::get(&*tx, id).await.optional()?.map(Into::into))
    }
}
