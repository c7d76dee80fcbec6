//! Subscription roots, one per domain, merged. Subscriptions run over
//! `graphql-transport-ws` at `/graphql/ws` (see `http::ws`) and must not hold
//! the operation's transaction open for their lifetime: they check access
//! with a [`ShortTx`] of their own and then wait for events.

mod sessions;

use async_graphql::MergedSubscription;
use sea_orm::DatabaseTransaction;

use crate::{
    auth::{Principal, TenantCaller, principal::confirm_tenant_caller},
    db::TxScope,
    error::{AppError, AppResult},
    graphql::context::RequestScope,
};

/// The Subscription type.
#[derive(MergedSubscription, Default)]
#[graphql(name = "Subscription")]
pub struct SubscriptionRoot(sessions::SessionSubscription);

/// A short tenant transaction for the caller of a subscription: the same
/// checks as every request (tenant active, user enabled, role current),
/// then read and roll back.
pub struct ShortTx {
    pub tx: DatabaseTransaction,
    pub caller: TenantCaller,
}

impl ShortTx {
    pub async fn open(scope: &RequestScope) -> AppResult<Self> {
        let principal = scope.principal();
        let (tenant_id, subject, role) = match principal {
            Principal::Anonymous { .. } => return Err(principal.unauthenticated()),
            Principal::Platform { .. } => {
                return Err(AppError::forbidden(
                    "platform admins belong to no tenant; use the tenant's own accounts for its content",
                ));
            }
            Principal::Tenant {
                tenant_id,
                subject,
                role,
            } => (*tenant_id, subject.clone(), *role),
        };
        let (tx, status) = scope.db().begin(&TxScope::Tenant { tenant_id, subject }).await?;
        let status = status.ok_or_else(|| AppError::internal(anyhow::anyhow!("no caller status")))?;
        let caller = confirm_tenant_caller(tenant_id, role, &status)?;
        Ok(Self { tx, caller })
    }

    /// Ends the transaction (it only read).
    pub async fn close(self) {
        let _ = self.tx.rollback().await;
    }
}
