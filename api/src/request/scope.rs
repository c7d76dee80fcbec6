//! One GraphQL operation's scope: the principal, the facts of the request
//! behind it, the transaction every resolver shares (opened on first use
//! through [`begin_as`], within the tenant's share of the pool) and the
//! notes its audit row is made from.
//!
//! An operation that ends without [`RequestScope::finish`] (timed out,
//! its client gone) is abandoned: the statement its connection runs is
//! cancelled and the transaction rolled back before the connection (and
//! the tenant's share) is given back, so the pool never gets a connection
//! still waiting on a lock or inside a transaction.

use std::{sync::Arc, time::Duration};

use sea_orm::DatabaseTransaction;
use tokio::sync::Mutex;

use super::{
    bulkhead::{TenantBulkhead, TenantPermit},
    tenancy::{Caller, begin_as},
};
use crate::{
    audit::{AuditRecord, diff, insert_and_commit},
    auth::{Principal, TenantCaller},
    db::Db,
    error::{AppError, AppResult},
};

/// Facts about the HTTP request or websocket connection behind an operation.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub request_id: String,
    pub client_ip: Option<std::net::IpAddr>,
    pub user_agent: Option<String>,
    /// When the request must be answered (`SCREENPLAY_REQUEST_TIMEOUT`);
    /// `None` for websocket operations.
    pub deadline: Option<tokio::time::Instant>,
}

impl RequestMeta {
    /// The same connection facts under a new request id (each operation on a
    /// websocket is a request of its own).
    pub fn for_operation(&self) -> Self {
        Self {
            request_id: uuid::Uuid::now_v7().to_string(),
            ..self.clone()
        }
    }
}

/// What a mutation changed, for its audit row: set by resolvers through
/// [`RequestScope::note_resources`] and [`RequestScope::note_change`].
#[derive(Debug, Clone, Default)]
pub struct AuditNotes {
    pub resource_type: Option<String>,
    pub resource_ids: Vec<String>,
    /// `{"type", "id", "before", "after"}` objects; for updates only the
    /// fields that changed.
    pub changes: Vec<serde_json::Value>,
}

/// One GraphQL operation's view of the database: the caller and the
/// transaction every resolver of the operation shares. The transaction is
/// opened on first use (for a tenant caller, that is also where the database
/// confirms the tenant is active and the user enabled) and finished once,
/// after execution, by the operation lifecycle (`graphql::lifecycle`).
pub struct RequestScope {
    db: Db,
    principal: Principal,
    pub meta: RequestMeta,
    state: Mutex<ScopeState>,
    notes: std::sync::Mutex<AuditNotes>,
    bulkhead: Option<TenantBulkhead>,
}

#[derive(Default)]
struct ScopeState {
    tx: Option<Arc<DatabaseTransaction>>,
    caller: Option<Caller>,
    /// The tenant's request rate limit, as the database reported it.
    requests_per_minute: Option<i32>,
    /// The transaction's connection has the prepared audit INSERT.
    audit_insert_prepared: bool,
    /// The server process of the transaction's connection.
    backend_pid: Option<i32>,
    /// The tenant's share of the pool this transaction holds.
    permit: Option<TenantPermit>,
    finished: bool,
}

impl RequestScope {
    pub fn new(db: Db, principal: Principal, meta: RequestMeta) -> Self {
        Self {
            db,
            principal,
            meta,
            state: Mutex::new(ScopeState::default()),
            notes: std::sync::Mutex::new(AuditNotes::default()),
            bulkhead: None,
        }
    }

    /// The transaction counts against its tenant's share of the pool.
    pub fn with_bulkhead(mut self, bulkhead: TenantBulkhead) -> Self {
        self.bulkhead = Some(bulkhead);
        self
    }

    /// Records the resources a mutation touched (type and ids).
    pub fn note_resources(&self, resource_type: &str, ids: impl IntoIterator<Item = uuid::Uuid>) {
        if let Ok(mut notes) = self.notes.lock() {
            notes.resource_type.get_or_insert_with(|| resource_type.to_owned());
            notes.resource_ids.extend(ids.into_iter().map(|id| id.to_string()));
        }
    }

    /// Records a change: `before` absent for creations, `after` absent for
    /// deletions; for updates only the fields that differ are kept.
    pub fn note_change<T: serde::Serialize>(
        &self,
        resource_type: &str,
        id: uuid::Uuid,
        before: Option<&T>,
        after: Option<&T>,
    ) {
        self.note_resources(resource_type, [id]);
        let change = diff::change(resource_type, id, before, after);
        if let Ok(mut notes) = self.notes.lock() {
            notes.changes.push(change);
        }
    }

    /// The notes taken so far.
    pub fn audit_notes(&self) -> AuditNotes {
        self.notes.lock().map(|n| n.clone()).unwrap_or_default()
    }

    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The operation's transaction and confirmed caller, opened on first use.
    pub async fn open(&self) -> AppResult<(Arc<DatabaseTransaction>, Caller)> {
        let mut state = self.state.lock().await;
        if state.finished {
            return Err(AppError::internal(anyhow::anyhow!(
                "request transaction used after it finished"
            )));
        }
        if let (Some(tx), Some(caller)) = (&state.tx, &state.caller) {
            return Ok((tx.clone(), caller.clone()));
        }
        let permit = match (&self.bulkhead, self.principal.tenant_id()) {
            (Some(bulkhead), Some(tenant)) => Some(bulkhead.acquire(tenant).await?),
            _ => None,
        };
        let entry = begin_as(&self.db, &self.principal).await?;
        let (tx, caller) = (entry.tx, entry.caller);
        state.requests_per_minute = entry.requests_per_minute;
        state.audit_insert_prepared = entry.audit_insert_prepared;
        state.backend_pid = entry.backend_pid;
        state.permit = permit;
        let tx = Arc::new(tx);
        state.tx = Some(tx.clone());
        state.caller = Some(caller.clone());
        Ok((tx, caller))
    }

    /// The transaction and caller of a tenant operation; platform admins
    /// have no tenant and get `FORBIDDEN`.
    pub async fn tenant(&self) -> AppResult<(Arc<DatabaseTransaction>, TenantCaller)> {
        let (tx, caller) = self.open().await?;
        Ok((tx, caller.tenant()?))
    }

    /// The transaction of a platform-admin operation (all tenants visible).
    pub async fn platform(&self) -> AppResult<Arc<DatabaseTransaction>> {
        match self.open().await? {
            (tx, Caller::Platform { .. }) => Ok(tx),
            (_, Caller::Tenant(_)) => Err(AppError::forbidden("only platform admins may do this")),
        }
    }

    /// Whether a transaction was opened (and not yet finished).
    pub async fn is_open(&self) -> bool {
        self.state.lock().await.tx.is_some()
    }

    /// The confirmed caller, when the transaction was opened.
    pub async fn caller_if_open(&self) -> Option<Caller> {
        self.state.lock().await.caller.clone()
    }

    /// The same without waiting (`None` also while another task holds the state).
    pub fn caller_if_open_now(&self) -> Option<Caller> {
        self.state.try_lock().ok().and_then(|s| s.caller.clone())
    }

    /// The tenant's request rate limit, known once the transaction is open.
    pub async fn requests_per_minute(&self) -> Option<i32> {
        self.state.lock().await.requests_per_minute
    }

    /// Ends the transaction: commits when `commit` (after inserting `audit`,
    /// so a change and its audit row commit together), rolls back otherwise.
    /// A transaction still shared (a resolver that outlived the operation)
    /// is rolled back. Returns whether `audit` was written.
    pub async fn finish(&self, commit: bool, audit: Option<AuditRecord>) -> AppResult<bool> {
        // The tenant's share is given back once the transaction has ended.
        let (tx, prepared, _permit) = {
            let mut state = self.state.lock().await;
            state.finished = true;
            (state.tx.take(), state.audit_insert_prepared, state.permit.take())
        };
        let Some(tx) = tx else { return Ok(false) };
        let tx = Arc::try_unwrap(tx).map_err(|_| {
            AppError::internal(anyhow::anyhow!(
                "request transaction still in use after execution; rolled back"
            ))
        })?;
        if !commit {
            tx.rollback().await?;
            return Ok(false);
        }
        match audit {
            Some(record) => {
                insert_and_commit(tx, record, prepared).await?;
                Ok(true)
            }
            None => {
                tx.commit().await?;
                Ok(false)
            }
        }
    }

    /// Abandons the transaction now (the operation ran out of time): its
    /// statement is cancelled and the transaction rolled back; nothing it
    /// did is kept.
    pub async fn abort(&self) {
        let (tx, pid, permit) = {
            let mut state = self.state.lock().await;
            state.finished = true;
            (state.tx.take(), state.backend_pid, state.permit.take())
        };
        if let Some(tx) = tx {
            abandon(self.db.clone(), tx, pid).await;
        }
        drop(permit);
    }
}

impl Drop for RequestScope {
    /// An operation dropped with its transaction open (its client went
    /// away, or a layer above gave up on it): abandoned on a task of its own.
    fn drop(&mut self) {
        let state = self.state.get_mut();
        let Some(tx) = state.tx.take() else { return };
        let (pid, permit) = (state.backend_pid, state.permit.take());
        let db = self.db.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                abandon(db, tx, pid).await;
                drop(permit);
            });
        }
        // Without a runtime, dropping the transaction queues its rollback.
    }
}

/// Cancels the statement of an abandoned transaction and rolls it back.
/// The connection is held throughout, so the process id cannot belong to
/// another request's connection by the time the cancel arrives.
async fn abandon(db: Db, tx: Arc<DatabaseTransaction>, pid: Option<i32>) {
    if let Some(pid) = pid {
        db.cancel_backend(pid).await;
    }
    let mut tx = tx;
    // Resolvers' clones go with the operation's futures; wait for stragglers briefly.
    for _ in 0..100 {
        match Arc::try_unwrap(tx) {
            Ok(owned) => {
                match tokio::time::timeout(Duration::from_secs(2), owned.rollback()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(err)) => tracing::warn!(error = %err, "rolling back an abandoned transaction failed"),
                    // Dropped, the transaction queues its rollback for the pool to send.
                    Err(_) => tracing::warn!("rolling back an abandoned transaction timed out"),
                }
                return;
            }
            Err(shared) => {
                tx = shared;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    tracing::warn!("an abandoned transaction is still shared; its rollback is left to the pool");
}
