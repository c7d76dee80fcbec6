//! The composition root: configuration → database → state → a bound
//! server → a running one. The one place the server is wired:
//! `screenplay serve`, the test harness and the benchmarks all go through
//! [`Application::build`].

pub mod database;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use tokio::{net::TcpListener, sync::watch, task::JoinHandle};

pub use database::ResolvedDatabase;

use crate::{
    audit::AuditSink,
    auth::{
        jwt::{JwtIssuer, JwtVerifier},
        password::{self, HashingLimits},
    },
    config::{Config, LoginConfig, Secret, StoreKind},
    db::{Db, Replicas},
    events::EventHub,
    graphql::build_schemas,
    http::router,
    maintenance::{partitions, scheduler::Scheduler},
    metrics::{SearchLatencyRecorder, flush_loop},
    request::{
        bulkhead::TenantBulkhead,
        persisted::PersistedQueryStore,
        rate_limit::{LoginLimiter, RateLimiter},
    },
    runtime::ShutdownSignal,
    search::{Milvus, MilvusStore, PgVectorStore, ResidentVectors, SharedVectorStore},
    service::{
        demo::{self, DemoAccess},
        indexing::{Indexer, IndexerSettings},
        vector_sync,
    },
    state::{AppState, SharedState},
};

/// A server bound to its address, with its state, ready to run.
pub struct Application {
    listener: TcpListener,
    state: SharedState,
    database: ResolvedDatabase,
    demo: Option<DemoAccess>,
}

/// What shutdown may take beyond the grace period for each of its last
/// steps (answers leaving, the pool closing).
const STOP_AFTER_GRACE: Duration = Duration::from_millis(400);

/// How long the local demo tokens last.
const DEMO_TOKEN_TTL: Duration = Duration::from_secs(12 * 3600);

impl Application {
    /// Resolves the database (`DATABASE_URL`, or the local development
    /// database), applies pending migrations unless told not to, opens the
    /// pool, builds the shared state and binds `config.bind` (port 0 picks a
    /// free port).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let database = database::resolve_database(&config.database, database::Local::Create).await?;
        if config.migrate {
            database::migrate(&database).await?;
        }
        let fairness = config.fairness;
        let db = database::connect(&database, &config.database)
            .await?
            .with_timeouts(fairness.statement_timeout, fairness.lock_timeout);
        let replicas = database::replicas(&db, &config.database).await?;
        let mut state = build_state(config, db, replicas, &database).await?;
        // Local development only: a demo tenant, and GraphiQL signed in as its admin.
        let demo = match database.is_local() {
            true => Some(demo::ensure(&state.db, &state.issuer, DEMO_TOKEN_TTL).await?),
            false => None,
        };
        state.graphiql_headers = demo
            .as_ref()
            .and_then(|d| d.admin_token.as_ref())
            .map(|token| serde_json::json!({ "Authorization": format!("Bearer {token}") }).to_string());
        let state = Arc::new(state);
        let bind = state.config.bind;
        let listener = TcpListener::bind(bind)
            .await
            .with_context(|| format!("binding {bind}"))?;
        Ok(Self {
            listener,
            state,
            database,
            demo,
        })
    }

    /// The demo tenant's access, when the local development database is used.
    pub fn demo(&self) -> Option<&DemoAccess> {
        self.demo.as_ref()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener has an address")
    }

    pub fn state(&self) -> &SharedState {
        &self.state
    }

    pub fn database(&self) -> &ResolvedDatabase {
        &self.database
    }

    /// Serves until `shutdown` fires, then stops in order: the listener
    /// closes, open websockets close (1001), in-flight requests finish (up
    /// to the grace period; those still running then are cancelled,
    /// answered and audited), the audit queue is written, background
    /// writers make their last write, and the pool closes.
    pub async fn run_until_stopped(self, shutdown: ShutdownSignal) -> anyhow::Result<()> {
        let state = self.state.clone();
        let app = router(state.clone(), build_schemas(state.clone()), shutdown.clone());
        let serve = axum::serve(self.listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown.clone().wait());
        let background = spawn_background(&state, &self.database, &shutdown);
        let served = tokio::spawn(async move { serve.await });
        shutdown.wait().await;
        // Subscriptions end: their sockets close on the signal, the listener stops.
        state.events.stop();
        let grace = state.config.http.shutdown_grace;
        tracing::info!(grace = ?grace, "shutting down: finishing in-flight requests");
        let mut served = served;
        if let Ok(result) = tokio::time::timeout(grace, &mut served).await {
            result.context("server task")?.context("serving")?;
        } else {
            tracing::warn!("in-flight requests did not finish within the grace period; cancelling them");
            let _ = state.grace_over.send(true);
            // Cancelled operations answer at once; give their answers a moment to leave.
            if tokio::time::timeout(STOP_AFTER_GRACE, &mut served).await.is_err() {
                tracing::warn!("connections still open after the grace period; closing them");
                served.abort();
            }
        }
        // Every answered request's audit row is queued by now: write them all.
        state.audit.shutdown().await;
        for task in background {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        if let Some(replicas) = &state.replicas {
            let _ = tokio::time::timeout(STOP_AFTER_GRACE, replicas.close()).await;
        }
        if tokio::time::timeout(STOP_AFTER_GRACE, state.db.close()).await.is_err() {
            tracing::warn!("the pool did not close in time; exiting anyway");
        }
        Ok(())
    }
}

/// A server running on a task of its own (tests and benchmarks).
pub struct Running {
    pub addr: SocketAddr,
    pub state: SharedState,
    trigger: watch::Sender<bool>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Application {
    /// Runs the server on a task until [`Running::stop`].
    pub fn spawn(self) -> Running {
        let (trigger, signal) = ShutdownSignal::new();
        Running {
            addr: self.local_addr(),
            state: self.state.clone(),
            trigger,
            task: tokio::spawn(self.run_until_stopped(signal)),
        }
    }
}

impl Running {
    /// Shuts the server down (gracefully) and waits for it.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.trigger.send(true);
        self.task.await.context("server task")?
    }

    /// Starts the shutdown without waiting for it.
    pub fn signal_stop(&self) {
        let _ = self.trigger.send(true);
    }
}

/// The shared state. In local development without a configured secret, a
/// signing secret is created once in the database home.
async fn build_state(
    mut config: Config,
    db: Db,
    replicas: Option<Arc<Replicas>>,
    database: &ResolvedDatabase,
) -> anyhow::Result<AppState> {
    if config.auth.jwt_secret.is_none()
        && let Some(home) = &database.local_home
    {
        config.auth.jwt_secret = Some(Secret::new(database::local_jwt_secret(home)?));
    }
    if config.auth.jwt_secret.is_none() && config.auth.idp.public_key.is_none() && config.auth.idp.jwks.is_none() {
        anyhow::bail!(
            "no token keys: set SCREENPLAY_JWT_SECRET (and/or SCREENPLAY_JWT_PUBLIC_KEY or SCREENPLAY_JWT_JWKS)"
        );
    }
    let verifier = JwtVerifier::from_config(&config.auth).await?;
    let issuer = JwtIssuer::from_config(&config.auth);
    let persisted = Arc::new(PersistedQueryStore::load(&config.persisted)?);
    let audit = AuditSink::start(db.clone(), config.audit_enabled);
    let listen_url = config
        .listen_database_url
        .clone()
        .unwrap_or_else(|| database.app_url.clone());
    let embedder = crate::embedding::from_config(&config.embedding)?;
    let chunking = crate::ingest::ChunkPolicy::load(&config.chunking, embedder.model())?;
    let reranker = match &config.rerank {
        Some(rerank) => Some(Arc::new(crate::embedding::Reranker::new(rerank.clone())?)),
        None => None,
    };
    tracing::info!(
        model = embedder.model(),
        tokenizer = chunking.tokenizer().map(|t| t.name()),
        "embedding provider"
    );
    password::start(hashing_limits(&config.login));
    let login_limiter = LoginLimiter::new(config.login.limits);
    let bulkhead = TenantBulkhead::new(config.fairness.tenant_max_connections, config.fairness.tenant_wait);
    let (vectors, milvus) = vector_store(&config, &db).await?;
    // Copies are checked against PostgreSQL's rows; Milvus searches elsewhere.
    let resident_vectors = ResidentVectors::new(
        (config.vectors.store == StoreKind::PgVector).then(|| db.clone()),
        config.vectors.resident_bytes,
    );
    Ok(AppState {
        config,
        db,
        replicas,
        verifier,
        issuer,
        audit,
        rate_limiter: RateLimiter::default(),
        bulkhead,
        grace_over: watch::channel(false).0,
        login_limiter,
        persisted,
        parsed: Default::default(),
        events: EventHub::new(listen_url),
        embedder,
        vectors,
        workspace_sizes: Default::default(),
        resident_vectors,
        milvus,
        chunking,
        reranker,
        graphiql_headers: None,
    })
}

/// The store searches use, and Milvus when configured (checked: reachable,
/// its collection usable, and for the Milvus store the mirror complete).
async fn vector_store(config: &Config, db: &Db) -> anyhow::Result<(SharedVectorStore, Option<Arc<Milvus>>)> {
    let milvus = match &config.vectors.milvus {
        Some(settings) => Some(Arc::new(Milvus::connect(settings).await?)),
        None => None,
    };
    let store: SharedVectorStore = match (config.vectors.store, &milvus) {
        (StoreKind::Milvus, Some(milvus)) => {
            vector_sync::require_mirror(db).await?;
            Arc::new(MilvusStore::new(milvus.clone()))
        }
        _ => Arc::new(PgVectorStore),
    };
    tracing::info!(store = store.name(), milvus = milvus.is_some(), "vector store");
    Ok((store, milvus))
}

/// The configured hashing capacity (0: the defaults, per core).
fn hashing_limits(login: &LoginConfig) -> HashingLimits {
    let defaults = HashingLimits::default();
    let threads = match login.hashing_threads {
        0 => defaults.threads,
        n => n,
    };
    HashingLimits {
        threads,
        queue: match login.hashing_queue {
            0 => 16 * threads,
            n => n,
        },
    }
}

/// The server's own background work, stopped by `shutdown`: log
/// partitions kept ahead, search latency written for vector_db_metrics,
/// the identity provider's JWKS kept fresh, and the maintenance scheduler
/// when it is on.
fn spawn_background(
    state: &SharedState,
    database: &ResolvedDatabase,
    shutdown: &ShutdownSignal,
) -> Vec<JoinHandle<()>> {
    let instance = instance_name();
    let recorder = SearchLatencyRecorder::register(instance.clone());
    let mut tasks = vec![
        tokio::spawn(partitions::keep_ahead(state.db.clone(), shutdown.clone())),
        tokio::spawn(flush_loop(recorder, state.db.clone(), shutdown.clone())),
    ];
    let indexing = IndexerSettings {
        lease: state.config.ingest.indexing_lease,
        max_attempts: state.config.ingest.indexing_max_attempts,
        ..IndexerSettings::default()
    };
    let indexer = Indexer::new(state.db.clone(), state.embedder.clone(), instance.clone(), indexing);
    for _ in 0..state.config.ingest.indexing_workers {
        tasks.push(tokio::spawn(indexer.clone().run(shutdown.clone())));
    }
    if let Some(milvus) = &state.milvus {
        let drain = vector_sync::run(
            state.db.clone(),
            milvus.clone(),
            Duration::from_millis(200),
            shutdown.clone(),
        );
        tasks.push(tokio::spawn(drain));
    }
    if let Some(jwks) = state.verifier.jwks() {
        tasks.push(tokio::spawn(jwks.run(shutdown.clone())));
    }
    if let Some(plan) = state.config.maintenance_schedule.clone() {
        let scheduler = Scheduler::new(database.migration_url.clone(), plan, instance);
        tasks.push(tokio::spawn(scheduler.run(shutdown.clone())));
    }
    tasks
}

/// This process among the instances writing to the database: the host
/// name and process id, or a random suffix without a host name.
fn instance_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .map(|h| format!("{h}-{}", std::process::id()))
        .unwrap_or_else(|| {
            format!(
                "pid{}-{}",
                std::process::id(),
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            )
        })
}
