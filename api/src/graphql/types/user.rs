use async_graphql::SimpleObject;
use chrono::{DateTime, FixedOffset};
use entity::users;
use uuid::Uuid;

use super::enums::{UserRole, UserStatus};

/// A person or agent service account of a tenant.
#[derive(SimpleObject, Clone)]
pub struct User {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub email: String,
    pub display_name: String,
    pub role: UserRole,
    pub status: UserStatus,
    /// Whether the user can sign in with a password.
    pub has_password: bool,
    pub external_subject: Option<String>,
    pub last_login_at: Option<DateTime<FixedOffset>>,
    pub created_at: DateTime<FixedOffset>,
    pub updated_at: DateTime<FixedOffset>,
}

impl From<users::Model> for User {
    fn from(m: users::Model) -> Self {
        Self {
            id: m.id,
            tenant_id: m.tenant_id,
            email: m.email,
            display_name: m.display_name,
            role: m.role.into(),
            status: m.status.into(),
            has_password: m.password_hash.is_some(),
            external_subject: m.external_subject,
            last_login_at: m.last_login_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}
