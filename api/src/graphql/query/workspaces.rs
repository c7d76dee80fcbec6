use async_graphql::{Context, Object};
use uuid::Uuid;

use crate::{
    auth::Action,
    error::NotFoundAsNone,
    graphql::{
        connection::{self, Page, TotalCount, cursor},
        context::ContextExt,
        guards::Allow,
        types::{Workspace, WorkspaceStatus},
    },
    service::{page, workspaces},
};

#[derive(Default)]
pub struct WorkspaceQuery;

#[Object]
impl WorkspaceQuery {
    /// The tenant's workspaces, newest first.
    #[graphql(
        guard = "Allow(Action::ReadContent)",
        complexity = "crate::graphql::cost::page(first, last, child_complexity)"
    )]
    async fn workspaces(
        &self,
        ctx: &Context<'_>,
        status: Option<WorkspaceStatus>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Page<Workspace>> {
        let page = page::Page::new(first, after, last, before, ctx.app().config.limits.max_page_size)?;
        let (tx, caller) = ctx.scope().tenant().await?;
        let status = status.map(Into::into);
        let rows = workspaces::list(&*tx, &caller, status, &page).await?;
        let total = TotalCount::new(move || {
            let tx = tx.clone();
            Box::pin(async move { workspaces::count(&*tx, &caller, status).await })
        });
        Ok(connection::page(
            rows,
            |w| cursor(&w.created_at, w.id),
            Workspace::from,
            total,
        ))
    }

    /// One workspace of the tenant; null when there is none with this id.
    #[graphql(guard = "Allow(Action::ReadContent)")]
    async fn workspace(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Option<Workspace>> {
        let (tx, caller) = ctx.scope().tenant().await?;
        Ok(workspaces::get(&*tx, &caller, id).await.optional()?.map(Into::into))
    }
}
