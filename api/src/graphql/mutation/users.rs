use async_graphql::{Context, InputObject, Object, SimpleObject};
use entity::enums;
use uuid::Uuid;

use crate::{
    auth::Action,
    graphql::{
        context::ContextExt,
        guards::Allow,
        types::{User, UserRole},
    },
    service::users::{self, NewUser, UserChange},
};

#[derive(InputObject)]
pub struct CreateUserInput {
    pub email: String,
    pub display_name: String,
    /// Omit for agents (tokens come from `screenplay token issue`) and SSO users.
    #[graphql(secret)]
    pub password: Option<String>,
    pub role: UserRole,
    /// The `sub` of an external identity provider's tokens for this user.
    pub external_subject: Option<String>,
}

#[derive(InputObject)]
pub struct UpdateUserInput {
    pub id: Uuid,
    pub display_name: Option<String>,
    pub role: Option<UserRole>,
}

#[derive(SimpleObject)]
pub struct UserPayload {
    pub user: User,
}

#[derive(Default)]
pub struct UserMutation;

#[Object]
impl UserMutation {
    /// Creates a user in the caller's tenant (tenant admins).
    #[graphql(guard = "Allow(Action::ManageUsers)")]
    async fn create_user(&self, ctx: &Context<'_>, input: CreateUserInput) -> async_graphql::Result<UserPayload> {
        let (tx, caller) = ctx.scope().tenant().await?;
        let user = users::create(
            &*tx,
            &caller,
            NewUser {
                email: input.email,
                display_name: input.display_name,
                password: input.password,
                role: input.role.into(),
                external_subject: input.external_subject,
            },
        )
        .await?;
        ctx.scope().note_change("user", user.id, None, Some(&user));
        Ok(UserPayload { user: user.into() })
    }

    /// Changes a user's display name or role (tenant admins).
    #[graphql(guard = "Allow(Action::ManageUsers)")]
    async fn update_user(&self, ctx: &Context<'_>, input: UpdateUserInput) -> async_graphql::Result<UserPayload> {
        let (tx, caller) = ctx.scope().tenant().await?;
        let (before, user) = users::update(
            &*tx,
            &caller,
            input.id,
            UserChange {
                display_name: input.display_name,
                role: input.role.map(Into::into),
            },
        )
        .await?;
        ctx.scope().note_change("user", user.id, Some(&before), Some(&user));
        Ok(UserPayload { user: user.into() })
    }

    /// Disables a user: its tokens are refused from the next request on.
    #[graphql(guard = "Allow(Action::ManageUsers)")]
    async fn disable_user(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<UserPayload> {
        let (tx, caller) = ctx.scope().tenant().await?;
        let (before, user) = users::set_status(&*tx, &caller, id, enums::UserStatus::Disabled).await?;
        ctx.scope().note_change("user", id, Some(&before), Some(&user));
        Ok(UserPayload { user: user.into() })
    }

    /// Enables a disabled user (and lifts a sign-in lock).
    #[graphql(guard = "Allow(Action::ManageUsers)")]
    async fn enable_user(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<UserPayload> {
        let (tx, caller) = ctx.scope().tenant().await?;
        let (before, user) = users::set_status(&*tx, &caller, id, enums::UserStatus::Active).await?;
        ctx.scope().note_change("user", id, Some(&before), Some(&user));
        Ok(UserPayload { user: user.into() })
    }
}
