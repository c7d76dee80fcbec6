//! One GraphQL operation's scope: the principal, the facts of the request
//! behind it, the transaction every resolver shares (opened on first use
//! through [`begin_as`], within the tenant's share of the pool) and the
//! notes its audit row is made from.
//!
//! A tenant's query (an operation that only reads, see
//! [`RequestScope::reads_only`]) reads from a usable replica when the server
//! has replicas; whatever must write opens the primary's transaction
//! ([`RequestScope::tenant_primary`]), and every read after that goes to the
//! primary too, so a request sees its own writes.
//!
//! An operation that ends without [`RequestScope::finish`] (timed out,
//! its client gone) is abandoned: the statement its connection runs is
//! cancelled and the transaction rolled back before the connection (and
//! the tenant's share) is given back, so the pool never gets a connection
//! still waiting on a lock or inside a transaction.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use sea_orm::DatabaseTransaction;
use tokio::sync::Mutex;

use super::{
    bulkhead::{TenantBulkhead, TenantPermit},
    tenancy::{Caller, begin_as},
};
use crate::{
    audit::{AuditRecord, diff, insert_and_commit},
    auth::{Principal, TenantCaller},
    db::{Db, Picked, Replicas},
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
    replicas: Option<Arc<Replicas>>,
    /// The operation only reads: a replica may serve it.
    reads_only: AtomicBool,
}

/// Where a transaction runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Primary,
    Replica,
}

/// An open transaction and the database it runs on.
struct Opened {
    tx: Arc<DatabaseTransaction>,
    /// The server process of the transaction's connection.
    backend_pid: Option<i32>,
    db: Db,
}

#[derive(Default)]
struct ScopeState {
    primary: Option<Opened>,
    replica: Option<Opened>,
    caller: Option<Caller>,
    /// The tenant's request rate limit, as the database reported it.
    requests_per_minute: Option<i32>,
    /// The primary transaction's connection has the prepared audit INSERT.
    audit_insert_prepared: bool,
    /// The tenant's share of the pool this operation's transactions hold.
    permit: Option<TenantPermit>,
    /// Something asked for the primary to write ([`RequestScope::open_primary`]).
    writes: bool,
    finished: bool,
}

impl ScopeState {
    /// The transaction reads use: the primary's once there is one.
    fn reading(&self) -> Option<(Arc<DatabaseTransaction>, Caller, Source)> {
        let caller = self.caller.clone()?;
        match (&self.primary, &self.replica) {
            (Some(p), _) => Some((p.tx.clone(), caller, Source::Primary)),
            (None, Some(r)) => Some((r.tx.clone(), caller, Source::Replica)),
            (None, None) => None,
        }
    }
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
            replicas: None,
            reads_only: AtomicBool::new(false),
        }
    }

    /// The operation only reads (a query): before its transaction opens,
    /// this lets a tenant's reads go to a replica.
    pub fn reads_only(&self) {
        self.reads_only.store(true, Ordering::Relaxed);
    }

    /// Reads of tenants' queries may go to these replicas.
    pub fn with_replicas(mut self, replicas: Option<Arc<Replicas>>) -> Self {
        self.replicas = replicas;
        self
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

    /// The operation's transaction for reading and its confirmed caller,
    /// opened on first use (on a replica when the operation only reads).
    pub async fn open(&self) -> AppResult<(Arc<DatabaseTransaction>, Caller)> {
        let (tx, caller, _) = self.open_routed().await?;
        Ok((tx, caller))
    }

    /// [`Self::open`], and where the transaction runs.
    pub async fn open_routed(&self) -> AppResult<(Arc<DatabaseTransaction>, Caller, Source)> {
        let mut state = self.usable_state().await?;
        if let Some(open) = state.reading() {
            return Ok(open);
        }
        let tenant_reads = self.reads_only.load(Ordering::Relaxed) && self.principal.tenant_id().is_some();
        let replica = match &self.replicas {
            Some(replicas) if tenant_reads => replicas.pick(),
            _ => None,
        };
        self.begin_on(&mut state, replica).await
    }

    /// The primary's transaction, for what must write; later reads of the
    /// operation use it too.
    pub async fn open_primary(&self) -> AppResult<(Arc<DatabaseTransaction>, Caller)> {
        let mut state = self.usable_state().await?;
        state.writes = true;
        if let (Some(primary), Some(caller)) = (&state.primary, &state.caller) {
            return Ok((primary.tx.clone(), caller.clone()));
        }
        let (tx, caller, _) = self.begin_on(&mut state, None).await?;
        Ok((tx, caller))
    }

    async fn usable_state(&self) -> AppResult<tokio::sync::MutexGuard<'_, ScopeState>> {
        let state = self.state.lock().await;
        if state.finished {
            return Err(AppError::internal(anyhow::anyhow!(
                "request transaction used after it finished"
            )));
        }
        Ok(state)
    }

    /// Begins on `replica`, or on the primary (also when the replica turns
    /// out to be unreachable), within the tenant's share of the pool.
    async fn begin_on(
        &self,
        state: &mut ScopeState,
        replica: Option<Picked>,
    ) -> AppResult<(Arc<DatabaseTransaction>, Caller, Source)> {
        if state.permit.is_none()
            && let (Some(bulkhead), Some(tenant)) = (&self.bulkhead, self.principal.tenant_id())
        {
            state.permit = Some(bulkhead.acquire(tenant).await?);
        }
        if let Some(picked) = replica {
            match begin_as(picked.db(), &self.principal).await {
                Ok(entry) => {
                    picked.began();
                    return Ok(keep(state, entry, picked.db().clone(), Source::Replica));
                }
                Err(AppError::Unavailable) => tracing::warn!("a replica did not answer; reading from the primary"),
                // A caller the replica has not seen yet (a user created a
                // moment ago) is confirmed by the primary.
                Err(AppError::Unauthenticated(_)) => {}
                Err(err) => return Err(err),
            }
            picked.fell_back();
        }
        let entry = begin_as(&self.db, &self.principal).await?;
        Ok(keep(state, entry, self.db.clone(), Source::Primary))
    }

    /// The transaction and caller of a tenant operation; platform admins
    /// have no tenant and get `FORBIDDEN`.
    pub async fn tenant(&self) -> AppResult<(Arc<DatabaseTransaction>, TenantCaller)> {
        let (tx, caller) = self.open().await?;
        Ok((tx, caller.tenant()?))
    }

    /// The tenant transaction for work that `writes` (the primary's) or
    /// only reads (routed).
    pub async fn tenant_for(&self, writes: bool) -> AppResult<(Arc<DatabaseTransaction>, TenantCaller)> {
        if writes {
            return self.tenant_primary().await;
        }
        let (tx, caller, _) = self.open_routed().await?;
        Ok((tx, caller.tenant()?))
    }

    /// The primary's transaction of a tenant operation, for what writes.
    pub async fn tenant_primary(&self) -> AppResult<(Arc<DatabaseTransaction>, TenantCaller)> {
        let (tx, caller) = self.open_primary().await?;
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
        let state = self.state.lock().await;
        state.primary.is_some() || state.replica.is_some()
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
    ///
    /// An operation that only read does not wait for its transactions to
    /// end: a ROLLBACK changes nothing the caller could see. The tenant's
    /// share is given back with them; the pool has the connection again
    /// one round trip later.
    pub async fn finish(&self, commit: bool, audit: Option<AuditRecord>) -> AppResult<bool> {
        let (primary, replica, prepared, permit, writes) = {
            let mut state = self.state.lock().await;
            state.finished = true;
            let taken = (state.primary.take(), state.replica.take());
            (
                taken.0,
                taken.1,
                state.audit_insert_prepared,
                state.permit.take(),
                state.writes,
            )
        };
        let primary = primary.map(|p| unshared(p.tx)).transpose();
        let replica = replica.map(|r| unshared(r.tx)).transpose();
        let (primary, replica) = (primary?, replica?);
        let read = self.reads_only.load(Ordering::Relaxed) && !writes && audit.is_none();
        if read {
            // Nothing to keep: dropped, each transaction queues its ROLLBACK,
            // which goes out with the check the pool makes of every
            // connection given back (one round trip, not two).
            drop((primary, replica, permit));
            return Ok(false);
        }
        end(None, replica, commit).await?;
        match (primary, audit) {
            (Some(tx), Some(record)) if commit => {
                insert_and_commit(tx, record, prepared).await?;
                Ok(true)
            }
            (primary, _) => {
                end(primary, None, commit).await?;
                Ok(false)
            }
        }
    }

    /// Abandons the transactions now (the operation ran out of time): their
    /// statements are cancelled and the transactions rolled back; nothing
    /// they did is kept.
    pub async fn abort(&self) {
        let (opened, permit) = {
            let mut state = self.state.lock().await;
            state.finished = true;
            ([state.primary.take(), state.replica.take()], state.permit.take())
        };
        for open in opened.into_iter().flatten() {
            abandon(open).await;
        }
        drop(permit);
    }
}

/// Keeps a transaction just begun in the operation's state.
fn keep(
    state: &mut ScopeState,
    entry: super::tenancy::Entry,
    db: Db,
    source: Source,
) -> (Arc<DatabaseTransaction>, Caller, Source) {
    let tx = Arc::new(entry.tx);
    let opened = Opened {
        tx: tx.clone(),
        backend_pid: entry.backend_pid,
        db,
    };
    match source {
        Source::Primary => {
            state.audit_insert_prepared = entry.audit_insert_prepared;
            state.primary = Some(opened);
        }
        Source::Replica => state.replica = Some(opened),
    }
    state.requests_per_minute = entry.requests_per_minute;
    state.caller = Some(entry.caller.clone());
    (tx, entry.caller, source)
}

/// Ends the transactions: the replica's only read, so it is rolled back;
/// the primary's commits when `commit`.
async fn end(
    primary: Option<DatabaseTransaction>,
    replica: Option<DatabaseTransaction>,
    commit: bool,
) -> AppResult<()> {
    if let Some(replica) = replica {
        replica.rollback().await?;
    }
    match primary {
        Some(tx) if commit => tx.commit().await?,
        Some(tx) => tx.rollback().await?,
        None => {}
    }
    Ok(())
}

/// The transaction, once no resolver shares it any more.
fn unshared(tx: Arc<DatabaseTransaction>) -> AppResult<DatabaseTransaction> {
    Arc::try_unwrap(tx).map_err(|_| {
        AppError::internal(anyhow::anyhow!(
            "request transaction still in use after execution; rolled back"
        ))
    })
}

impl Drop for RequestScope {
    /// An operation dropped with its transaction open (its client went
    /// away, or a layer above gave up on it): abandoned on a task of its own.
    fn drop(&mut self) {
        let state = self.state.get_mut();
        let opened = [state.primary.take(), state.replica.take()];
        if opened.iter().all(Option::is_none) {
            return;
        }
        let permit = state.permit.take();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                for open in opened.into_iter().flatten() {
                    abandon(open).await;
                }
                drop(permit);
            });
        }
        // Without a runtime, dropping the transaction queues its rollback.
    }
}

/// Cancels the statement of an abandoned transaction and rolls it back.
/// The connection is held throughout, so the process id cannot belong to
/// another request's connection by the time the cancel arrives.
async fn abandon(open: Opened) {
    if let Some(pid) = open.backend_pid {
        open.db.cancel_backend(pid).await;
    }
    let mut tx = open.tx;
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
