use async_graphql::{Context, Object};
use uuid::Uuid;

use crate::{
    auth::Action,
    error::NotFoundAsNone,
    graphql::{
        connection::{self, Page, TotalCount, cursor},
        context::ContextExt,
        guards::Allow,
        types::{User, UserRole, UserStatus},
    },
    service::{page, users},
};

#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    /// The tenant's users, newest first (tenant admins).
    #[graphql(
        guard = "Allow(Action::ManageUsers)",
        complexity = "crate::graphql::cost::page(first, last, child_complexity)"
    )]
    async fn users(
        &self,
        ctx: &Context<'_>,
        role: Option<UserRole>,
        status: Option<UserStatus>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Page<User>> {
        let page = page::Page::new(first, after, last, before, ctx.app().config.limits.max_page_size)?;
        let (tx, caller) = ctx.scope().tenant().await?;
        let (role, status) = (role.map(Into::into), status.map(Into::into));
        let rows = users::list(&*tx, &caller, role, status, &page).await?;
        let total = TotalCount::new(move || {
            let tx = tx.clone();
            Box::pin(async move { users::count(&*tx, &caller, role, status).await })
        });
        Ok(connection::page(
            rows,
            |u| cursor(&u.created_at, u.id),
            User::from,
            total,
        ))
    }

    /// One user of the tenant (tenant admins); null when there is none with this id.
    #[graphql(guard = "Allow(Action::ManageUsers)")]
    async fn user(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Option<User>> {
        let (tx, caller) = ctx.scope().tenant().await?;
        Ok(users::get(&*tx, &caller, id).await.optional()?.map(Into::into))
    }
}
