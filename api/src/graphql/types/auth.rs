use async_graphql::SimpleObject;
use chrono::{DateTime, Utc};

use super::{tenant::Tenant, user::User};
use crate::auth::Role;

/// Tokens of a signed-in session.
#[derive(SimpleObject)]
pub struct AuthPayload {
    /// Bearer token for `Authorization: Bearer …`.
    pub access_token: String,
    /// Exchange it with `refreshToken` before `expiresAt`; single use.
    pub refresh_token: String,
    /// When the access token expires.
    pub expires_at: DateTime<Utc>,
    pub user: User,
}

/// The caller.
#[derive(SimpleObject)]
pub struct Me {
    /// The token's subject.
    pub subject: String,
    pub role: Role,
    /// Absent for platform admins.
    pub user: Option<User>,
    /// Absent for platform admins.
    pub tenant: Option<Tenant>,
}
