//! The pool: opening it, what the server's login role is allowed, the
//! statement counters, readiness, and the plain transaction every other
//! transaction starts from.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::Context;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, Statement,
    TransactionTrait, error::ConnAcquireErr,
};

use crate::error::{AppError, AppResult};

use super::{audit_statement, migrations::pending_migrations};

/// Counters of the statements the server sent; read by tests and metrics.
#[derive(Debug, Default)]
pub struct DbStats {
    statements: AtomicU64,
    failed: AtomicU64,
    /// Sum of statement durations in microseconds.
    busy_micros: AtomicU64,
    /// Transactions waiting for a pool connection (and their BEGIN).
    waiting: AtomicU64,
    /// The last BEGIN found the database unreachable.
    unreachable: AtomicBool,
}

impl DbStats {
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    pub fn busy(&self) -> Duration {
        Duration::from_micros(self.busy_micros.load(Ordering::Relaxed))
    }

    pub fn waiting(&self) -> u64 {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Whether the last BEGIN found the database unreachable.
    pub fn unreachable(&self) -> bool {
        self.unreachable.load(Ordering::Relaxed)
    }

    /// A look from outside (the replica watcher) found the database answering.
    pub(super) fn set_reachable(&self) {
        self.unreachable.store(false, Ordering::Relaxed);
    }
}

/// How long a BEGIN may wait for a connection before the server checks that
/// the database answers at all (a pool waiting to reconnect to a database
/// that is down would otherwise wait its whole acquire timeout).
const SUSPECT_AFTER: Duration = Duration::from_millis(500);

/// A pooled connection idle longer than this is pinged before it is used.
const PING_IDLE_AFTER: Duration = Duration::from_secs(1);

/// How long the reachability check (one new connection) may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// One transaction waiting for a pool connection, for the metrics.
struct Waiting<'a>(&'a DbStats);

impl<'a> Waiting<'a> {
    fn enter(stats: &'a DbStats) -> Self {
        stats.waiting.fetch_add(1, Ordering::Relaxed);
        Self(stats)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The database pool as seen when scraped.
#[derive(Debug, Clone, Copy)]
pub struct PoolState {
    pub in_use: u32,
    pub idle: u32,
    pub waiting: u64,
    pub max: u32,
}

/// How to open the pool.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub max_connections: u32,
    /// Behind PgBouncer in transaction mode: no statement cache, and every
    /// transaction starts by dropping prepared statements another client may
    /// have left on the server connection.
    pub pgbouncer: bool,
    pub application_name: String,
    /// A read replica's pool: nothing is prepared for writing.
    pub read_only: bool,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            pgbouncer: false,
            application_name: "screenplay".into(),
            read_only: false,
        }
    }
}

/// The server's database handle. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    conn: DatabaseConnection,
    pub(super) pgbouncer: bool,
    /// The login role bypasses row-level security (superuser, table owner or
    /// BYPASSRLS): every tenant transaction then drops to `screenplay_app`.
    switch_to_app_role: bool,
    max_connections: u32,
    stats: Arc<DbStats>,
    /// `set_config` calls for the select list of a transaction's first
    /// statement (statement and lock timeouts), each led by a comma; empty
    /// when the transactions have no timeouts.
    pub(super) tx_settings: Arc<str>,
    /// A second, tiny pool for cancelling statements of abandoned
    /// transactions and for the replica watcher: the main pool may have no
    /// connection to spare then.
    control: DatabaseConnection,
    /// Where a one-off connection checks that the database is there.
    probe: sea_orm::sqlx::postgres::PgConnectOptions,
}

impl Db {
    /// Opens the pool (connections are made on demand).
    pub async fn connect(url: &str, options: &PoolOptions) -> anyhow::Result<Self> {
        let mut opts = ConnectOptions::new(url.to_owned());
        let pgbouncer = options.pgbouncer;
        let app_name = options.application_name.clone();
        opts.max_connections(options.max_connections)
            .min_connections(0)
            .connect_timeout(Duration::from_secs(5))
            .acquire_timeout(Duration::from_secs(10))
            .idle_timeout(Duration::from_secs(300))
            .sqlx_logging(false)
            .connect_lazy(true)
            .map_sqlx_postgres_opts(move |o| {
                let o = o.application_name(&app_name);
                if pgbouncer { o.statement_cache_capacity(0) } else { o }
            });
        // sqlx would ping every connection it hands out: a round trip per
        // request. Only one idle long enough to have been closed meanwhile
        // (a restart, a proxy's timeout) is asked.
        opts.test_before_acquire_if_idle_for(PING_IDLE_AFTER);
        if !pgbouncer && !options.read_only {
            // Behind PgBouncer in transaction mode a session's prepared
            // statements are not ours to keep; there the plain INSERT is used.
            opts.map_sqlx_postgres_pool_opts(|pool| pool.after_connect(|conn, _| Box::pin(prepare_audit_insert(conn))));
        }
        let mut conn = Database::connect(opts).await.context("opening the database pool")?;
        let stats = Arc::new(DbStats::default());
        let counter = stats.clone();
        conn.set_metric_callback(move |info| {
            counter.statements.fetch_add(1, Ordering::Relaxed);
            if info.failed {
                counter.failed.fetch_add(1, Ordering::Relaxed);
            }
            counter
                .busy_micros
                .fetch_add(info.elapsed.as_micros() as u64, Ordering::Relaxed);
        });
        let mut control = ConnectOptions::new(url.to_owned());
        let control_name = format!("{}-control", options.application_name);
        control
            .max_connections(2)
            .min_connections(0)
            .connect_timeout(Duration::from_secs(2))
            .acquire_timeout(Duration::from_secs(2))
            .idle_timeout(Duration::from_secs(60))
            .sqlx_logging(false)
            .connect_lazy(true)
            .map_sqlx_postgres_opts(move |o| o.application_name(&control_name).statement_cache_capacity(0));
        let control = Database::connect(control)
            .await
            .context("opening the control connection pool")?;
        Ok(Self {
            conn,
            pgbouncer,
            switch_to_app_role: false,
            max_connections: options.max_connections,
            stats,
            tx_settings: Arc::from(""),
            control,
            probe: url
                .parse::<sea_orm::sqlx::postgres::PgConnectOptions>()
                .context("reading the database URL")?
                .application_name(&format!("{}-probe", options.application_name))
                .statement_cache_capacity(0),
        })
    }

    /// Every transaction begun from now on limits its statements with
    /// PostgreSQL's `statement_timeout` and `lock_timeout` (set local to the
    /// transaction, in its first statement: no extra round trip).
    pub fn with_timeouts(mut self, statement: Duration, lock: Duration) -> Self {
        let millis = |d: Duration| d.as_millis().max(1);
        self.tx_settings = Arc::from(format!(
            ", set_config('statement_timeout', '{}', true) AS statement_timeout, \
             set_config('lock_timeout', '{}', true) AS lock_timeout",
            millis(statement),
            millis(lock)
        ));
        self
    }

    /// A replica's handle: the primary's transaction settings and role switch.
    pub(super) fn like(mut self, primary: &Db) -> Self {
        self.tx_settings = primary.tx_settings.clone();
        self.switch_to_app_role = primary.switch_to_app_role;
        self
    }

    pub(super) fn max_connections(&self) -> u32 {
        self.max_connections
    }

    pub(super) fn control(&self) -> &DatabaseConnection {
        &self.control
    }

    /// Cancels the statement the backend `pid` is running, from the control
    /// pool (`pg_cancel_backend`: the same login role may). Only for a
    /// backend whose connection the caller still holds, so that it cannot
    /// be another request's by now; a backend between statements ignores it.
    pub async fn cancel_backend(&self, pid: i32) {
        let cancel = self.control.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_cancel_backend($1)",
            [pid.into()],
        ));
        match tokio::time::timeout(Duration::from_secs(2), cancel).await {
            Ok(Ok(_)) => tracing::debug!(pid, "cancelled the statement of an abandoned transaction"),
            Ok(Err(err)) => tracing::warn!(pid, error = %err, "could not cancel an abandoned statement"),
            Err(_) => tracing::warn!(pid, "cancelling an abandoned statement timed out"),
        }
    }

    /// Checks how the login role relates to row-level security. A role that
    /// is not a member of `screenplay_app` would see nothing and is refused;
    /// a role that bypasses row-level security is accepted with a warning and
    /// every tenant transaction assumes `screenplay_app`, so tenants stay apart.
    pub async fn check_login_role(&mut self) -> anyhow::Result<LoginRole> {
        // In a transaction, like every statement (PgBouncer in transaction mode).
        let tx = self.begin_raw().await?;
        let row = tx
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT current_user::text AS name, r.rolsuper AS superuser, r.rolbypassrls AS bypassrls, \
                        EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = 'screenplay' \
                                AND pg_has_role(current_user, tableowner, 'USAGE')) AS owner, \
                        pg_has_role(current_user, 'screenplay_app', 'MEMBER') AS app_member \
                 FROM pg_roles r WHERE r.rolname = current_user",
            ))
            .await
            .context("checking the database role")?
            .context("the current role is missing from pg_roles")?;
        tx.commit().await?;
        let role = LoginRole {
            name: row.try_get("", "name")?,
            superuser: row.try_get("", "superuser")?,
            bypass_rls: row.try_get("", "bypassrls")?,
            owner: row.try_get("", "owner")?,
            app_member: row.try_get("", "app_member")?,
        };
        if !role.superuser && !role.app_member {
            anyhow::bail!(
                "DATABASE_URL connects as `{}`, which is not a member of screenplay_app: \
                 GRANT screenplay_app TO {} (see docs/configuration.md, \"Database roles\")",
                role.name,
                role.name
            );
        }
        self.switch_to_app_role = role.bypasses_rls();
        Ok(role)
    }

    /// The pool, for code that needs no tenant (health checks, migrations status).
    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    pub fn stats(&self) -> &Arc<DbStats> {
        &self.stats
    }

    /// Connections in use and idle.
    pub fn pool_state(&self) -> (u32, u32) {
        let pool = self.conn.get_postgres_connection_pool();
        let size = pool.size();
        let idle = pool.num_idle() as u32;
        (size.saturating_sub(idle), idle)
    }

    /// The pool for the metrics endpoint: in use, idle, waiting, maximum.
    pub fn pool_metrics(&self) -> PoolState {
        let (in_use, idle) = self.pool_state();
        PoolState {
            in_use,
            idle,
            waiting: self.stats.waiting(),
            max: self.max_connections,
        }
    }

    /// Begins a plain transaction (no tenant, no elevation).
    pub(crate) async fn begin_raw(&self) -> AppResult<DatabaseTransaction> {
        let tx = {
            // Counted while waiting, also when the caller gives up (drops the future).
            let _waiting = Waiting::enter(&self.stats);
            // sqlx's BEGIN is not cancel safe: dropped after BEGIN was sent
            // but before its answer, it leaves the connection inside a
            // transaction sqlx does not know of, and the pool hands that to
            // the next caller ("there is already a transaction in progress").
            // On a task of its own the BEGIN always completes; if the caller
            // left meanwhile, the transaction is dropped there and rolled back.
            self.begin_on_task().await?
        };
        let mut prelude = String::new();
        if self.pgbouncer {
            // Another client's statements may still be prepared on this server
            // connection; sqlx names its statements per client, so clear them.
            prelude.push_str("DEALLOCATE ALL;");
        }
        if self.switch_to_app_role {
            prelude.push_str("SET LOCAL ROLE screenplay_app;");
        }
        if !prelude.is_empty() {
            tx.execute_unprepared(&prelude).await?;
        }
        Ok(tx)
    }

    /// BEGIN on a task of its own; a database that does not answer is
    /// `UNAVAILABLE` within about a second rather than a pool timeout.
    async fn begin_on_task(&self) -> AppResult<DatabaseTransaction> {
        let conn = self.conn.clone();
        let mut begin = tokio::spawn(async move { conn.begin().await });
        let patience = if self.stats.unreachable() {
            Duration::ZERO
        } else {
            SUSPECT_AFTER
        };
        let joined = match tokio::time::timeout(patience, &mut begin).await {
            Ok(joined) => joined,
            Err(_) if self.refuses_connections().await => {
                Ok(Err(DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed)))
            }
            Err(_) => begin.await,
        };
        let result = joined
            .map_err(|e| AppError::internal(anyhow::anyhow!("BEGIN task failed: {e}")))?
            .map_err(AppError::from);
        let unreachable = matches!(result, Err(AppError::Unavailable));
        self.stats.unreachable.store(unreachable, Ordering::Relaxed);
        result
    }

    /// Whether a new connection to the database fails outright (refused,
    /// reset, the server shutting down). A connection that is merely slow
    /// (a busy machine, an unroutable host) proves nothing: the BEGIN goes
    /// on waiting, and a pool timeout answers `TIMEOUT`.
    async fn refuses_connections(&self) -> bool {
        use sea_orm::sqlx::Connection;
        let attempt = sea_orm::sqlx::PgConnection::connect_with(&self.probe);
        match tokio::time::timeout(PROBE_TIMEOUT, attempt).await {
            Ok(Ok(conn)) => {
                tokio::spawn(conn.close());
                false
            }
            Ok(Err(err)) => crate::error::is_unreachable_sqlx(&err),
            Err(_) => false,
        }
    }

    /// Whether the database answers and no migration is pending.
    pub async fn readiness(&self) -> Result<(), String> {
        let check = async {
            // In a transaction, like every statement (PgBouncer in transaction mode).
            let tx = self
                .begin_raw()
                .await
                .map_err(|e| format!("database unreachable: {}", anyhow::Error::from(e)))?;
            let pending = pending_migrations(&tx)
                .await
                .map_err(|e| format!("cannot read migrations: {e}"))?;
            let _ = tx.rollback().await;
            if pending > 0 {
                return Err(format!("{pending} migration(s) pending"));
            }
            Ok(())
        };
        tokio::time::timeout(PROBE_TIMEOUT, check)
            .await
            .unwrap_or_else(|_| Err("database check timed out".into()))
    }

    /// Closes the pool.
    pub async fn close(&self) {
        let _ = self.conn.close_by_ref().await;
        let _ = self.control.close_by_ref().await;
    }
}

/// The server's login role, as PostgreSQL sees it.
#[derive(Debug, Clone)]
pub struct LoginRole {
    pub name: String,
    pub superuser: bool,
    pub bypass_rls: bool,
    /// Owns (or can act as the owner of) the screenplay tables.
    pub owner: bool,
    pub app_member: bool,
}

impl LoginRole {
    /// Row-level security would not apply to this role's own statements.
    pub fn bypasses_rls(&self) -> bool {
        self.superuser || self.bypass_rls || self.owner
    }
}

/// Prepares a mutation's audit INSERT on a new pooled connection (see
/// [`audit_statement`]). The database refusing it does not make the
/// connection unusable: before the migrations have created `audit_logs`,
/// say, the connection works without the statement and its marker, and
/// mutations use the plain INSERT. A broken connection is still an error.
async fn prepare_audit_insert(conn: &mut sea_orm::sqlx::PgConnection) -> Result<(), sea_orm::sqlx::Error> {
    use sea_orm::sqlx::{AssertSqlSafe, Error, Executor};
    match conn
        .execute(sea_orm::sqlx::raw_sql(AssertSqlSafe(audit_statement::prepare_sql())))
        .await
    {
        Ok(_) => Ok(()),
        Err(Error::Database(err)) => {
            tracing::warn!(error = %err, "audit INSERT not prepared on a new connection; the plain INSERT will be used");
            Ok(())
        }
        Err(err) => Err(err),
    }
}
