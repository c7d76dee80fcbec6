use async_graphql::{Context, Object};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    auth::Action,
    error::NotFoundAsNone,
    graphql::{
        connection::{self, Page, TotalCount, cursor},
        context::ContextExt,
        guards::Allow,
        types::{Session, SessionOrderBy, SessionStatus},
    },
    service::{
        page,
        sessions::{self, SessionFilter, SessionOrder},
    },
};

#[derive(Default)]
pub struct SessionQuery;

#[Object]
impl SessionQuery {
    /// The tenant's screenplay sessions (newest first unless `orderBy` says otherwise).
    #[graphql(
        guard = "Allow(Action::ReadContent)",
        complexity = "crate::graphql::cost::page(first, last, child_complexity)"
    )]
    async fn sessions(
        &self,
        ctx: &Context<'_>,
        workspace_id: Option<Uuid>,
        status: Option<SessionStatus>,
        #[graphql(desc = "Created at or after this time.")] created_after: Option<DateTime<Utc>>,
        #[graphql(desc = "Created before this time.")] created_before: Option<DateTime<Utc>>,
        #[graphql(desc = "Case-insensitive text in the title or logline.")] search: Option<String>,
        #[graphql(desc = "CREATED_AT_DESC when omitted.")] order_by: Option<SessionOrderBy>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Page<Session>> {
        let page = page::Page::new(first, after, last, before, ctx.app().config.limits.max_page_size)?;
        let filter = SessionFilter {
            workspace_id,
            status: status.map(Into::into),
            created_after,
            created_before,
            search,
        };
        let order: SessionOrder = order_by.unwrap_or_default().into();
        let (tx, caller) = ctx.scope().tenant().await?;
        let rows = sessions::list(&*tx, &caller, &filter, order, &page).await?;
        let total = TotalCount::new(move || {
            let tx = tx.clone();
            let filter = filter.clone();
            Box::pin(async move { sessions::count(&*tx, &caller, &filter).await })
        });
        let by_updated = matches!(order, SessionOrder::UpdatedDesc | SessionOrder::UpdatedAsc);
        Ok(connection::page(
            rows,
            |s| {
                if by_updated {
                    cursor(&s.updated_at, s.id)
                } else {
                    cursor(&s.created_at, s.id)
                }
            },
            Session::from,
            total,
        ))
    }

    /// One session of the tenant; null when there is none with this id.
    #[graphql(guard = "Allow(Action::ReadContent)")]
    async fn session(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Option<Session>> {
        let (tx, caller) = ctx.scope().tenant().await?;
        if ctx.look_ahead().field("outline").exists() {
            // The detail page: the session and its steps in one statement.
            let found = sessions::get_with_outline(&*tx, &caller, id).await.optional()?;
            return Ok(found.map(|(session, steps)| Session::with_outline(session, steps)));
        }
        Ok(sessions::get(&*tx, &caller, id).await.optional()?.map(Into::into))
    }
}
