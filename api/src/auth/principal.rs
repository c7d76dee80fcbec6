//! Who is calling: the principal from the token, and the caller the database
//! confirmed at the start of the request's transaction.

use entity::enums::UserRole;
use uuid::Uuid;

use crate::{domain::TenantId, error::AppError};

/// The roles of the permission table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, async_graphql::Enum)]
pub enum Role {
    /// Manages tenants; belongs to no tenant.
    PlatformAdmin,
    /// Everything inside its tenant.
    TenantAdmin,
    /// Creates and edits sessions and documents.
    Member,
    /// Reads only.
    Viewer,
    /// Service account of agent workers: steps, fragments, retrievals, logs.
    Agent,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::PlatformAdmin,
        Role::TenantAdmin,
        Role::Member,
        Role::Viewer,
        Role::Agent,
    ];

    /// The claim value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PlatformAdmin => "platform_admin",
            Self::TenantAdmin => "tenant_admin",
            Self::Member => "member",
            Self::Viewer => "viewer",
            Self::Agent => "agent",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The tenant role stored for users; `None` for platform admins.
    pub fn as_user_role(self) -> Option<UserRole> {
        match self {
            Self::PlatformAdmin => None,
            Self::TenantAdmin => Some(UserRole::TenantAdmin),
            Self::Member => Some(UserRole::Member),
            Self::Viewer => Some(UserRole::Viewer),
            Self::Agent => Some(UserRole::Agent),
        }
    }
}

impl From<UserRole> for Role {
    fn from(role: UserRole) -> Self {
        match role {
            UserRole::TenantAdmin => Self::TenantAdmin,
            UserRole::Member => Self::Member,
            UserRole::Viewer => Self::Viewer,
            UserRole::Agent => Self::Agent,
        }
    }
}

/// The caller as the token describes it, before the database has a say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// No token, or a token that was refused (the reason is kept for the error).
    Anonymous { token_error: Option<String> },
    /// A platform admin; the database must know `(issuer, subject)`.
    Platform {
        subject: String,
        /// `""` for our own tokens, the identity provider's `iss` for its.
        issuer: String,
        /// The token's `iat` (revocation refuses tokens issued earlier).
        issued_at: Option<u64>,
    },
    /// A user or agent of one tenant.
    Tenant {
        tenant_id: TenantId,
        subject: String,
        role: Role,
        /// The sign-in the token belongs to (its refresh-token family), if any.
        session: Option<Uuid>,
    },
}

/// What a verified token says besides subject, tenant and role.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenFacts {
    /// `""` for our own tokens, the identity provider's `iss` for its.
    pub issuer: String,
    pub issued_at: Option<u64>,
    pub session: Option<Uuid>,
}

impl Principal {
    pub fn anonymous() -> Self {
        Self::Anonymous { token_error: None }
    }

    /// The caller a verified token describes, if its parts fit together:
    /// platform admins have no tenant, everyone else has one. Our tokens
    /// and identity providers' tokens both end here; `tenant_claim` names
    /// the claim in the message.
    pub fn from_token(
        subject: &str,
        tenant: Option<Uuid>,
        role: Role,
        tenant_claim: &str,
        facts: TokenFacts,
    ) -> Result<Self, String> {
        if subject.trim().is_empty() {
            return Err("token has an empty subject".into());
        }
        let subject = subject.to_owned();
        match (role, tenant) {
            (Role::PlatformAdmin, None) => Ok(Self::Platform {
                subject,
                issuer: facts.issuer,
                issued_at: facts.issued_at,
            }),
            (Role::PlatformAdmin, Some(_)) => Err("a platform_admin token must not name a tenant".into()),
            (_, Some(tenant_id)) => Ok(Self::Tenant {
                tenant_id: tenant_id.into(),
                subject,
                role,
                session: facts.session,
            }),
            (_, None) => Err(format!(
                "a {} token must name its tenant ({tenant_claim})",
                role.as_str()
            )),
        }
    }

    pub fn role(&self) -> Option<Role> {
        match self {
            Self::Anonymous { .. } => None,
            Self::Platform { .. } => Some(Role::PlatformAdmin),
            Self::Tenant { role, .. } => Some(*role),
        }
    }

    pub fn tenant_id(&self) -> Option<TenantId> {
        match self {
            Self::Tenant { tenant_id, .. } => Some(*tenant_id),
            _ => None,
        }
    }

    pub fn subject(&self) -> Option<&str> {
        match self {
            Self::Anonymous { .. } => None,
            Self::Platform { subject, .. } | Self::Tenant { subject, .. } => Some(subject),
        }
    }

    /// The `UNAUTHENTICATED` error for an anonymous caller.
    pub fn unauthenticated(&self) -> AppError {
        match self {
            Self::Anonymous { token_error: Some(e) } => AppError::Unauthenticated(e.clone()),
            _ => AppError::Unauthenticated("sign in first: send `Authorization: Bearer <token>`".into()),
        }
    }
}

/// A tenant caller the database confirmed (tenant active, user present,
/// enabled and still in the role the token claims; see
/// `request::tenancy::begin_as`), or the system acting in one tenant (the
/// CLI), which has no user. Services that act for a tenant take this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantCaller {
    pub tenant_id: TenantId,
    /// `None` for the system (the CLI).
    pub user_id: Option<Uuid>,
    pub role: Role,
}

impl TenantCaller {
    /// The system acting in `tenant_id` with an admin's rights (the CLI).
    pub fn system(tenant_id: TenantId) -> Self {
        Self {
            tenant_id,
            user_id: None,
            role: Role::TenantAdmin,
        }
    }
}
