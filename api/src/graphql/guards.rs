//! Field guards: the policy of `auth::policy` applied to the operation's
//! principal.

use async_graphql::{Context, ErrorExtensions, Guard};

use super::context::ContextExt;
use crate::auth::policy::{Action, check};

/// Guard for resolvers: `#[graphql(guard = "Allow(Action::WriteSessions)")]`.
pub struct Allow(pub Action);

impl Guard for Allow {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        check(ctx.principal(), self.0).map(|_| ()).map_err(|e| e.extend())
    }
}

/// Guard for fields any signed-in caller may use.
pub struct SignedIn;

impl Guard for SignedIn {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let principal = ctx.principal();
        match principal.role() {
            Some(_) => Ok(()),
            None => Err(principal.unauthenticated().extend()),
        }
    }
}
