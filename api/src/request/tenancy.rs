//! The one place a principal becomes a confirmed caller: GraphQL
//! operations, subscriptions and the CLI all enter through [`begin_as`].

use sea_orm::DatabaseTransaction;
use uuid::Uuid;

use crate::{
    auth::{Principal, Role, TenantCaller},
    db::{AdminStatus, CallerStatus, Db, TxScope},
    domain::TenantId,
    error::{AppError, AppResult},
};

/// The confirmed caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Tenant(TenantCaller),
    Platform { subject: String },
}

impl Caller {
    /// The caller's tenant; platform admins have none and get `FORBIDDEN`.
    pub fn tenant(&self) -> AppResult<TenantCaller> {
        match self {
            Self::Tenant(caller) => Ok(*caller),
            Self::Platform { .. } => Err(AppError::forbidden(
                "platform admins belong to no tenant; use the tenant's own accounts for its content",
            )),
        }
    }
}

/// A transaction opened for a confirmed caller, with what the database
/// reported in the same round trip.
pub struct Entry {
    pub tx: DatabaseTransaction,
    pub caller: Caller,
    /// The tenant's request rate limit, if any.
    pub requests_per_minute: Option<i32>,
    /// The connection has the prepared audit INSERT (`db::audit_statement`).
    pub audit_insert_prepared: bool,
    /// The server process of the transaction's connection.
    pub backend_pid: Option<i32>,
}

/// Opens the transaction `principal` works in and confirms the caller: a
/// tenant caller's first statement scopes the transaction to the tenant
/// (row-level security) and reports whether the tenant is active and the
/// user exists, is enabled and still has the token's role; a platform admin
/// works in the platform role. Anonymous callers are `UNAUTHENTICATED`.
pub async fn begin_as(db: &Db, principal: &Principal) -> AppResult<Entry> {
    match principal {
        Principal::Anonymous { .. } => Err(principal.unauthenticated()),
        Principal::Platform {
            subject,
            issuer,
            issued_at,
        } => {
            let (tx, status) = db.begin_platform_admin(issuer, subject).await?;
            confirm_admin(status.as_ref(), *issued_at)?;
            let backend_pid = status.map(|s| s.backend_pid);
            Ok(Entry {
                backend_pid,
                tx,
                caller: Caller::Platform {
                    subject: subject.clone(),
                },
                requests_per_minute: None,
                audit_insert_prepared: false,
            })
        }
        Principal::Tenant {
            tenant_id,
            subject,
            role,
            session,
        } => {
            let (tx, status) = db
                .begin(&TxScope::Tenant {
                    tenant_id: *tenant_id,
                    subject: subject.clone(),
                    session: *session,
                })
                .await?;
            let status = status.ok_or_else(|| AppError::internal(anyhow::anyhow!("no caller status")))?;
            let caller = confirm(*tenant_id, *role, &status)?;
            Ok(Entry {
                tx,
                caller: Caller::Tenant(caller),
                requests_per_minute: status.requests_per_minute,
                audit_insert_prepared: status.audit_insert_prepared,
                backend_pid: Some(status.backend_pid),
            })
        }
    }
}

/// Checks what `begin_tenant_request` reported against the token.
fn confirm(tenant_id: TenantId, claimed: Role, status: &CallerStatus) -> AppResult<TenantCaller> {
    match status.tenant_status.as_deref() {
        Some("active") => {}
        Some(_) => return Err(AppError::Unauthenticated("tenant is suspended".into())),
        None => return Err(AppError::Unauthenticated("tenant does not exist".into())),
    }
    let user_id: Uuid = status
        .user_id
        .ok_or_else(|| AppError::Unauthenticated("user does not exist".into()))?;
    if status.user_status.as_deref() != Some("active") {
        return Err(AppError::Unauthenticated("user is disabled".into()));
    }
    if status.session_revoked {
        return Err(AppError::Unauthenticated(
            "this sign-in ended (signed out or revoked); sign in again".into(),
        ));
    }
    let current = status.user_role.as_deref().and_then(Role::parse);
    if current != Some(claimed) {
        return Err(AppError::Unauthenticated(
            "the user's role changed since this token was issued; sign in again".into(),
        ));
    }
    Ok(TenantCaller {
        tenant_id,
        user_id: Some(user_id),
        role: claimed,
    })
}

/// Checks a platform admin's row: present (the allow-list), enabled, and
/// its tokens not revoked since this one was issued.
fn confirm_admin(status: Option<&AdminStatus>, issued_at: Option<u64>) -> AppResult<()> {
    let status = status.ok_or_else(|| AppError::Unauthenticated("not a platform admin".into()))?;
    if !status.active {
        return Err(AppError::Unauthenticated("platform admin is disabled".into()));
    }
    if let Some(after) = status.tokens_valid_after {
        let issued = issued_at.map_or(i64::MIN, |t| i64::try_from(t).unwrap_or(i64::MAX));
        if issued < after {
            return Err(AppError::Unauthenticated(
                "this token was revoked; ask for a new one".into(),
            ));
        }
    }
    Ok(())
}

/// A short tenant transaction for the caller of a subscription: the same
/// checks as every request (tenant active, user enabled, role current),
/// then read and roll back.
pub struct ShortTx {
    pub tx: DatabaseTransaction,
    pub caller: TenantCaller,
}

impl ShortTx {
    pub async fn open(db: &Db, principal: &Principal) -> AppResult<Self> {
        let entry = begin_as(db, principal).await?;
        let caller = entry.caller.tenant()?;
        Ok(Self { tx: entry.tx, caller })
    }

    /// Ends the transaction (it only read).
    pub async fn close(self) {
        let _ = self.tx.rollback().await;
    }
}
