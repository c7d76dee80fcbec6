//! DataLoaders: nested fields batch their reads per operation, so a nested
//! query costs a constant number of statements, not one per parent.
//!
//! One [`DataLoader`] per operation (made with the operation's
//! [`RequestScope`] and dropped with it, so nothing cached crosses requests
//! or tenants), with one key type per kind of read. Loads run in the
//! operation's own transaction (row-level security applies). There is no
//! cache: a mutation that reads after writing sees its writes.

use std::{
    collections::HashMap,
    sync::{Arc, Weak},
};

use async_graphql::{ErrorExtensions, dataloader::DataLoader};
use entity::{
    execution_logs, fragment_versions, llm_call_logs, outline_steps, retrieved_documents, screenplay_fragments,
    screenplay_sessions, workspaces,
};
use sea_orm::{ColumnTrait, DatabaseTransaction, QueryFilter};
use uuid::Uuid;

use super::waves::Waves;
use crate::{
    auth::TenantCaller,
    db::TenantOwned,
    error::AppError,
    request::RequestScope,
    service::{
        agent_records::{self, Usage},
        fragments, outline,
        page::{self, ChildTable, Page, PageResult},
        sessions,
    },
};

/// A failed load, shared by every field that waited for it.
#[derive(Debug, Clone)]
pub struct LoadError(Arc<AppError>);

impl From<AppError> for LoadError {
    fn from(err: AppError) -> Self {
        Self(Arc::new(err))
    }
}

impl From<LoadError> for async_graphql::Error {
    fn from(err: LoadError) -> Self {
        err.0.extend()
    }
}

impl LoadError {
    /// The error again as an [`AppError`] (same code and message).
    pub fn to_app(&self) -> AppError {
        match &*self.0 {
            AppError::Unauthenticated(m) => AppError::Unauthenticated(m.clone()),
            AppError::Forbidden(m) => AppError::Forbidden(m.clone()),
            AppError::NotFound { what } => AppError::NotFound { what },
            AppError::BadInput { field, message } => AppError::bad_input(field.clone(), message.clone()),
            AppError::Conflict(m) => AppError::Conflict(m.clone()),
            AppError::QuotaExceeded(q) => AppError::QuotaExceeded(q.clone()),
            AppError::RateLimited { retry_after_seconds } => AppError::RateLimited {
                retry_after_seconds: *retry_after_seconds,
            },
            AppError::Timeout(reason) => AppError::Timeout(*reason),
            AppError::Unavailable => AppError::Unavailable,
            other => AppError::internal(anyhow::anyhow!("load failed: {:?}", other)),
        }
    }
}

type LoadResult<V> = Result<HashMap<V, <ScopeLoader as LoaderValue<V>>::Value>, LoadError>;

/// Value type of each key (keeps the impls below short).
pub trait LoaderValue<K> {
    type Value;
}

/// The operation's loaders.
pub struct Loaders {
    pub loader: DataLoader<ScopeLoader>,
    /// Runs the operation so that its batches do not depend on timing.
    pub waves: Arc<Waves>,
}

impl Loaders {
    /// The loaders of `scope`'s operation. No batching delay: [`Waves`]
    /// starts each fetch once the resolvers have asked for every key.
    pub fn new(scope: &Arc<RequestScope>) -> Self {
        let waves = Arc::new(Waves::default());
        let spawner = waves.clone();
        let loader = ScopeLoader {
            scope: Arc::downgrade(scope),
            waves: waves.clone(),
        };
        Self {
            loader: DataLoader::new(loader, move |fetch| spawner.spawn(fetch)).delay(std::time::Duration::ZERO),
            waves,
        }
    }

    /// Loads one value (`None` when the key matched nothing).
    pub async fn one<K>(
        &self,
        key: K,
    ) -> Result<Option<<ScopeLoader as async_graphql::dataloader::Loader<K>>::Value>, LoadError>
    where
        K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
        ScopeLoader: async_graphql::dataloader::Loader<K, Error = LoadError>,
    {
        self.loader.load_one(key).await
    }
}

/// Loads through the operation's transaction. Holds the scope weakly: the
/// scope owns the loaders.
pub struct ScopeLoader {
    scope: Weak<RequestScope>,
    waves: Arc<Waves>,
}

impl ScopeLoader {
    async fn tx(&self) -> Result<(Arc<DatabaseTransaction>, TenantCaller), LoadError> {
        let scope = self
            .scope
            .upgrade()
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("load after the operation ended")))?;
        Ok(scope.tenant().await?)
    }

    /// A fetch's result, handed out between passes (see [`Waves`]).
    async fn handed<V>(&self, load: impl std::future::Future<Output = Result<V, LoadError>>) -> Result<V, LoadError> {
        let result = load.await;
        self.waves.deliver().await;
        result
    }
}

macro_rules! key {
    ($(#[$m:meta])* $name:ident($($field:ty),+) => $value:ty) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name($(pub $field),+);
        impl LoaderValue<$name> for ScopeLoader {
            type Value = $value;
        }
    };
}

key!(/// A session by id.
    SessionById(Uuid) => screenplay_sessions::Model);
key!(/// A workspace by id.
    WorkspaceById(Uuid) => workspaces::Model);
key!(/// Every step of a session, in sibling order.
    StepsOfSession(Uuid) => Arc<Vec<outline_steps::Model>>);
key!(/// A step by id.
    StepById(Uuid) => outline_steps::Model);
key!(/// The fragments of a step, in order.
    FragmentsOfStep(Uuid) => Arc<Vec<screenplay_fragments::Model>>);
key!(/// Every fragment of a session.
    FragmentsOfSession(Uuid) => Arc<Vec<screenplay_fragments::Model>>);
key!(/// A fragment by id.
    FragmentById(Uuid) => screenplay_fragments::Model);
key!(/// Earlier versions of a fragment, oldest first.
    VersionsOfFragment(Uuid) => Arc<Vec<fragment_versions::Model>>);
key!(/// Retrievals recorded for a step.
    RetrievalsOfStep(Uuid) => Arc<Vec<retrieved_documents::Model>>);
key!(/// LLM usage totals of a session.
    UsageOfSession(Uuid) => Usage);
key!(/// A page of a session's fragments.
    FragmentPage(Uuid, Page) => Arc<PageResult<screenplay_fragments::Model>>);
key!(/// A page of a session's retrievals.
    RetrievalPage(Uuid, Page) => Arc<PageResult<retrieved_documents::Model>>);
key!(/// A page of a session's execution logs.
    ExecutionPage(Uuid, Page) => Arc<PageResult<execution_logs::Model>>);
key!(/// A page of a session's LLM calls.
    LlmCallPage(Uuid, Page) => Arc<PageResult<llm_call_logs::Model>>);
key!(/// Rows of a child table for a parent.
    ChildCount(Uuid, ChildTable) => u64);

fn ids<K: Copy>(keys: &[K], id: impl Fn(K) -> Uuid) -> Vec<Uuid> {
    let mut out: Vec<Uuid> = keys.iter().map(|k| id(*k)).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Rows grouped under a key, every key present.
fn grouped<K, M>(keys: &[K], rows: Vec<M>, key_of: impl Fn(&M) -> Option<K>) -> HashMap<K, Arc<Vec<M>>>
where
    K: std::hash::Hash + Eq + Copy,
{
    let mut map: HashMap<K, Vec<M>> = keys.iter().map(|k| (*k, Vec::new())).collect();
    for row in rows {
        if let Some(k) = key_of(&row)
            && let Some(list) = map.get_mut(&k)
        {
            list.push(row);
        }
    }
    map.into_iter().map(|(k, v)| (k, Arc::new(v))).collect()
}

macro_rules! by_id_loader {
    ($key:ident, $load:expr, $id:expr) => {
        impl async_graphql::dataloader::Loader<$key> for ScopeLoader {
            type Value = <ScopeLoader as LoaderValue<$key>>::Value;
            type Error = LoadError;

            async fn load(&self, keys: &[$key]) -> LoadResult<$key> {
                self.handed(async {
                    let (tx, caller) = self.tx().await?;
                    let wanted = ids(keys, |k| k.0);
                    let rows = $load(&*tx, &caller, &wanted).await?;
                    Ok(rows.into_iter().map(|m| ($key($id(&m)), m)).collect())
                })
                .await
            }
        }
    };
}

by_id_loader!(SessionById, sessions::get_many, |m: &screenplay_sessions::Model| m.id);
by_id_loader!(StepById, outline::get_many, |m: &outline_steps::Model| m.id);
by_id_loader!(FragmentById, fragments::get_many, |m: &screenplay_fragments::Model| m
    .id);

impl async_graphql::dataloader::Loader<WorkspaceById> for ScopeLoader {
    type Value = workspaces::Model;
    type Error = LoadError;

    async fn load(&self, keys: &[WorkspaceById]) -> LoadResult<WorkspaceById> {
        self.handed(async {
            let (tx, caller) = self.tx().await?;
            let rows = workspaces::Entity::find_in(caller.tenant_id)
                .filter(workspaces::Column::Id.eq_any(ids(keys, |k| k.0)))
                .all(&*tx)
                .await
                .map_err(AppError::from)?;
            Ok(rows.into_iter().map(|m| (WorkspaceById(m.id), m)).collect())
        })
        .await
    }
}

macro_rules! grouped_loader {
    ($key:ident, $load:expr, $parent:expr) => {
        impl async_graphql::dataloader::Loader<$key> for ScopeLoader {
            type Value = <ScopeLoader as LoaderValue<$key>>::Value;
            type Error = LoadError;

            async fn load(&self, keys: &[$key]) -> LoadResult<$key> {
                self.handed(async {
                    let (tx, caller) = self.tx().await?;
                    let rows = $load(&*tx, &caller, &ids(keys, |k| k.0)).await?;
                    Ok(grouped(keys, rows, |m| $parent(m).map($key)))
                })
                .await
            }
        }
    };
}

grouped_loader!(StepsOfSession, outline::for_sessions, |m: &outline_steps::Model| Some(
    m.session_id
));
grouped_loader!(
    FragmentsOfStep,
    fragments::for_steps,
    |m: &screenplay_fragments::Model| Some(m.step_id)
);
grouped_loader!(
    FragmentsOfSession,
    fragments::for_sessions,
    |m: &screenplay_fragments::Model| Some(m.session_id)
);
grouped_loader!(
    VersionsOfFragment,
    fragments::versions_for,
    |m: &fragment_versions::Model| Some(m.fragment_id)
);
grouped_loader!(
    RetrievalsOfStep,
    agent_records::retrievals_for_steps,
    |m: &retrieved_documents::Model| m.step_id
);

impl async_graphql::dataloader::Loader<UsageOfSession> for ScopeLoader {
    type Value = Usage;
    type Error = LoadError;

    async fn load(&self, keys: &[UsageOfSession]) -> LoadResult<UsageOfSession> {
        self.handed(async {
            let (tx, caller) = self.tx().await?;
            let usage = agent_records::usage_for_sessions(&*tx, &caller, &ids(keys, |k| k.0)).await?;
            Ok(usage.into_iter().map(|(id, u)| (UsageOfSession(id), u)).collect())
        })
        .await
    }
}

/// Groups page keys by page request: one statement per distinct request.
fn by_page<K: Copy>(keys: &[K], split: impl Fn(K) -> (Uuid, Page)) -> HashMap<Page, Vec<Uuid>> {
    let mut groups: HashMap<Page, Vec<Uuid>> = HashMap::new();
    for key in keys {
        let (id, page) = split(*key);
        groups.entry(page).or_default().push(id);
    }
    groups
}

macro_rules! page_loader {
    ($key:ident, $load:expr) => {
        impl async_graphql::dataloader::Loader<$key> for ScopeLoader {
            type Value = <ScopeLoader as LoaderValue<$key>>::Value;
            type Error = LoadError;

            async fn load(&self, keys: &[$key]) -> LoadResult<$key> {
                self.handed(async {
                    let (tx, caller) = self.tx().await?;
                    let mut out = HashMap::new();
                    for (page, parents) in by_page(keys, |k| (k.0, k.1)) {
                        for (parent, result) in $load(&*tx, &caller, &parents, &page).await? {
                            out.insert($key(parent, page), Arc::new(result));
                        }
                    }
                    Ok(out)
                })
                .await
            }
        }
    };
}

page_loader!(FragmentPage, fragments::page_per_session);
page_loader!(RetrievalPage, agent_records::retrievals_page_per_session);
page_loader!(ExecutionPage, agent_records::executions_page_per_session);
page_loader!(LlmCallPage, agent_records::llm_calls_page_per_session);

impl async_graphql::dataloader::Loader<ChildCount> for ScopeLoader {
    type Value = u64;
    type Error = LoadError;

    async fn load(&self, keys: &[ChildCount]) -> LoadResult<ChildCount> {
        self.handed(async {
            let (tx, caller) = self.tx().await?;
            let mut tables: HashMap<ChildTable, Vec<Uuid>> = HashMap::new();
            for key in keys {
                tables.entry(key.1).or_default().push(key.0);
            }
            let mut out = HashMap::new();
            for (table, parents) in tables {
                for (parent, n) in page::count_per_parent(&*tx, table, caller.tenant_id, &parents).await? {
                    out.insert(ChildCount(parent, table), n);
                }
            }
            Ok(out)
        })
        .await
    }
}
