use async_graphql::{Context, InputObject, Object, SimpleObject};

use crate::{
    error::AppError,
    graphql::{context::ContextExt, types::AuthPayload},
    service::auth,
};

#[derive(InputObject)]
pub struct LoginInput {
    pub tenant_slug: String,
    pub email: String,
    #[graphql(secret)]
    pub password: String,
}

#[derive(InputObject)]
pub struct RefreshTokenInput {
    #[graphql(secret)]
    pub refresh_token: String,
}

#[derive(InputObject)]
pub struct LogoutInput {
    #[graphql(secret)]
    pub refresh_token: String,
}

#[derive(SimpleObject)]
pub struct LogoutPayload {
    /// Whether a sign-in was revoked (false when the token was unknown).
    pub ok: bool,
}

#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Signs in with tenant slug, email and password.
    async fn login(&self, ctx: &Context<'_>, input: LoginInput) -> async_graphql::Result<AuthPayload> {
        let app = ctx.app();
        app.login_limiter
            .check(ctx.scope().meta.client_ip, &input.tenant_slug, &input.email)
            .map_err(AppError::rate_limited)?;
        let session = auth::login(
            &app.db,
            &app.issuer,
            app.config.auth.refresh_token_ttl,
            &input.tenant_slug,
            &input.email,
            input.password,
        )
        .await?;
        ctx.scope().note_resources("user", [session.user.id]);
        Ok(session.into())
    }

    /// Exchanges a refresh token for new tokens; the old one stops working.
    async fn refresh_token(&self, ctx: &Context<'_>, input: RefreshTokenInput) -> async_graphql::Result<AuthPayload> {
        let app = ctx.app();
        let session = auth::refresh(
            &app.db,
            &app.issuer,
            app.config.auth.refresh_token_ttl,
            &input.refresh_token,
        )
        .await?;
        Ok(session.into())
    }

    /// Signs out: the refresh token and every token rotated from the same sign-in stop working.
    async fn logout(&self, ctx: &Context<'_>, input: LogoutInput) -> async_graphql::Result<LogoutPayload> {
        let ok = auth::logout(&ctx.app().db, &input.refresh_token).await?;
        Ok(LogoutPayload { ok })
    }
}

impl From<auth::Session> for AuthPayload {
    fn from(s: auth::Session) -> Self {
        Self {
            access_token: s.access_token,
            refresh_token: s.refresh_token,
            expires_at: s.expires_at,
            user: s.user.into(),
        }
    }
}
