//! Tenant and platform transactions.
//!
//! Every statement the server sends runs in one of these. A tenant
//! transaction starts with `screenplay.begin_tenant_request`, which does
//! `SET LOCAL app.tenant_id` and, in the same round trip, reports whether the
//! tenant is active and the caller still exists and is enabled. PostgreSQL
//! row-level security then limits every later statement of the transaction to
//! that tenant, whatever the query says. Platform transactions assume the
//! `screenplay_platform` role for the length of the transaction. The same
//! first statement sets the transaction's `statement_timeout` and
//! `lock_timeout` (when the server has them, see [`Db::with_timeouts`]) and
//! reports the backend's process id, so that an abandoned request's
//! statement can be cancelled.

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement};
use uuid::Uuid;

use super::pool::Db;
use crate::{
    domain::TenantId,
    error::{AppError, AppResult},
};

/// Who a transaction acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxScope {
    /// A signed-in caller of one tenant; `subject` is the token's `sub`,
    /// `session` its sign-in (`sid`), if it has one.
    Tenant {
        tenant_id: TenantId,
        subject: String,
        session: Option<Uuid>,
    },
    /// One tenant's data without a caller (sign-in, CLI, background work).
    TenantSystem { tenant_id: TenantId },
    /// Work across tenants: platform admins and the server's own writers.
    Platform,
}

/// What the database says about the caller of a tenant transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerStatus {
    /// `None` when the tenant does not exist (any more).
    pub tenant_status: Option<String>,
    pub user_id: Option<Uuid>,
    pub user_role: Option<String>,
    pub user_status: Option<String>,
    /// The tenant's request rate limit (requests per minute), if any.
    pub requests_per_minute: Option<i32>,
    /// The connection has the prepared audit INSERT (see [`super::audit_statement`]).
    pub audit_insert_prepared: bool,
    /// The token's sign-in was revoked (logout, refresh-token reuse).
    pub session_revoked: bool,
    /// The server process of the transaction's connection (`pg_backend_pid()`).
    pub backend_pid: i32,
}

/// What the database says about a platform admin (`platform_admins`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminStatus {
    pub active: bool,
    /// Tokens issued before this (seconds since the epoch, rounded up: a
    /// token issued in the second of a revocation is refused too) are refused.
    pub tokens_valid_after: Option<i64>,
    /// The server process of the transaction's connection (`pg_backend_pid()`).
    pub backend_pid: i32,
}

impl Db {
    /// Begins a transaction for `scope`. For [`TxScope::Tenant`] the caller's
    /// status comes back too; checking it is the caller's business (see
    /// `request::tenancy`).
    pub async fn begin(&self, scope: &TxScope) -> AppResult<(DatabaseTransaction, Option<CallerStatus>)> {
        let tx = self.begin_raw().await?;
        match scope {
            TxScope::Tenant {
                tenant_id,
                subject,
                session,
            } => {
                let row = tx
                    .query_one_raw(Statement::from_sql_and_values(
                        DbBackend::Postgres,
                        format!(
                            "SELECT tenant_status, user_id, user_role, user_status, requests_per_minute, \
                             session_revoked, pg_backend_pid() AS backend_pid, \
                             current_setting($4, true) IS NOT DISTINCT FROM 'on' AS audit_insert_prepared{} \
                             FROM screenplay.begin_tenant_request($1, $2, $3)",
                            self.tx_settings
                        ),
                        [
                            (*tenant_id).into(),
                            subject.clone().into(),
                            (*session).into(),
                            super::audit_statement::PREPARED_MARKER.into(),
                        ],
                    ))
                    .await?
                    .ok_or_else(|| AppError::internal(anyhow::anyhow!("begin_tenant_request returned no row")))?;
                let status = CallerStatus {
                    tenant_status: row.try_get("", "tenant_status")?,
                    user_id: row.try_get("", "user_id")?,
                    user_role: row.try_get("", "user_role")?,
                    user_status: row.try_get("", "user_status")?,
                    requests_per_minute: row.try_get("", "requests_per_minute")?,
                    session_revoked: row.try_get("", "session_revoked")?,
                    backend_pid: row.try_get("", "backend_pid")?,
                    // Behind PgBouncer the marker may belong to another client's session.
                    audit_insert_prepared: !self.pgbouncer && row.try_get("", "audit_insert_prepared")?,
                };
                Ok((tx, Some(status)))
            }
            TxScope::TenantSystem { tenant_id } => {
                tx.execute_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    format!("SELECT set_config('app.tenant_id', $1, true){}", self.tx_settings),
                    [tenant_id.to_string().into()],
                ))
                .await?;
                Ok((tx, None))
            }
            TxScope::Platform => {
                tx.execute_unprepared(&format!(
                    "SELECT set_config('role', 'screenplay_platform', true){}",
                    self.tx_settings
                ))
                .await?;
                Ok((tx, None))
            }
        }
    }

    /// A transaction scoped to one tenant, without a caller check.
    pub async fn begin_tenant(&self, tenant_id: TenantId) -> AppResult<DatabaseTransaction> {
        Ok(self.begin(&TxScope::TenantSystem { tenant_id }).await?.0)
    }

    /// A platform admin's transaction: its first statement reads the admin's
    /// row and, only when there is one, assumes the platform role (the same
    /// round trip). `None`: no such admin (the transaction is not in the
    /// platform role then); checking the status is the caller's business.
    pub async fn begin_platform_admin(
        &self,
        issuer: &str,
        subject: &str,
    ) -> AppResult<(DatabaseTransaction, Option<AdminStatus>)> {
        let tx = self.begin_raw().await?;
        let row = tx
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                format!(
                    "SELECT status, \
                     CASE WHEN isfinite(tokens_valid_after) THEN ceil(extract(epoch FROM tokens_valid_after))::bigint \
                     END AS tokens_valid_after, pg_backend_pid() AS backend_pid, \
                     set_config('role', 'screenplay_platform', true) AS role{} \
                     FROM screenplay.platform_admin_status($1, $2)",
                    self.tx_settings
                ),
                [issuer.into(), subject.into()],
            ))
            .await?;
        let status = match row {
            Some(row) => Some(AdminStatus {
                active: row.try_get::<String>("", "status")? == "active",
                tokens_valid_after: row.try_get("", "tokens_valid_after")?,
                backend_pid: row.try_get("", "backend_pid")?,
            }),
            None => None,
        };
        Ok((tx, status))
    }

    /// A transaction in the platform role (all tenants).
    pub async fn begin_platform(&self) -> AppResult<DatabaseTransaction> {
        Ok(self.begin(&TxScope::Platform).await?.0)
    }
}
