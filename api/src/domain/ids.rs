//! Typed ids: a tenant id cannot be passed where a workspace or user id is
//! meant.

use std::fmt;

use uuid::Uuid;

/// The id of a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct TenantId(Uuid);

impl TenantId {
    pub const fn new(id: Uuid) -> Self {
        Self(id)
    }

    pub const fn uuid(self) -> Uuid {
        self.0
    }
}

impl From<Uuid> for TenantId {
    fn from(id: Uuid) -> Self {
        Self(id)
    }
}

impl From<TenantId> for Uuid {
    fn from(id: TenantId) -> Self {
        id.0
    }
}

impl PartialEq<Uuid> for TenantId {
    fn eq(&self, other: &Uuid) -> bool {
        self.0 == *other
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<TenantId> for sea_orm::Value {
    fn from(id: TenantId) -> Self {
        id.0.into()
    }
}
