//! Tenant and platform transactions.
//!
//! Every statement the server sends runs in one of these. A tenant
//! transaction starts with `screenplay.begin_tenant_request`, which does
//! `SET LOCAL app.tenant_id` and, in the same round trip, reports whether the
//! tenant is active and the caller still exists and is enabled. PostgreSQL
//! row-level security then limits every later statement of the transaction to
//! that tenant, whatever the query says. Platform transactions assume the
//! `screenplay_platform` role for the length of the transaction.

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
    /// A signed-in caller of one tenant; `subject` is the token's `sub`.
    Tenant { tenant_id: TenantId, subject: String },
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
}

impl Db {
    /// Begins a transaction for `scope`. For [`TxScope::Tenant`] the caller's
    /// status comes back too; checking it is the caller's business (see
    /// `request::tenancy`).
    pub async fn begin(&self, scope: &TxScope) -> AppResult<(DatabaseTransaction, Option<CallerStatus>)> {
        let tx = self.begin_raw().await?;
        match scope {
            TxScope::Tenant { tenant_id, subject } => {
                let row = tx
                    .query_one_raw(Statement::from_sql_and_values(
                        DbBackend::Postgres,
                        "SELECT tenant_status, user_id, user_role, user_status, requests_per_minute, \
                         current_setting($3, true) IS NOT DISTINCT FROM 'on' AS audit_insert_prepared \
                         FROM screenplay.begin_tenant_request($1, $2)",
                        [
                            (*tenant_id).into(),
                            subject.clone().into(),
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
                    // Behind PgBouncer the marker may belong to another client's session.
                    audit_insert_prepared: !self.pgbouncer && row.try_get("", "audit_insert_prepared")?,
                };
                Ok((tx, Some(status)))
            }
            TxScope::TenantSystem { tenant_id } => {
                set_tenant(&tx, *tenant_id).await?;
                Ok((tx, None))
            }
            TxScope::Platform => {
                tx.execute_unprepared("SET LOCAL ROLE screenplay_platform").await?;
                Ok((tx, None))
            }
        }
    }

    /// A transaction scoped to one tenant, without a caller check.
    pub async fn begin_tenant(&self, tenant_id: TenantId) -> AppResult<DatabaseTransaction> {
        Ok(self.begin(&TxScope::TenantSystem { tenant_id }).await?.0)
    }

    /// A transaction in the platform role (all tenants).
    pub async fn begin_platform(&self) -> AppResult<DatabaseTransaction> {
        Ok(self.begin(&TxScope::Platform).await?.0)
    }
}

/// Scopes an open transaction to `tenant_id` (SET LOCAL app.tenant_id).
pub async fn set_tenant(tx: &DatabaseTransaction, tenant_id: TenantId) -> AppResult<()> {
    tx.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT set_config('app.tenant_id', $1, true)",
        [tenant_id.to_string().into()],
    ))
    .await?;
    Ok(())
}
