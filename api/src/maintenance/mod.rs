//! Database maintenance: the seed's daily VACUUM/ANALYZE, weekly log
//! cleanup and monthly reindex, log partitions created ahead, backups.
//!
//! VACUUM and REINDEX CONCURRENTLY cannot run inside a transaction (nor in
//! a SQL function), so they run here, statement by statement, on a
//! connection of the schema owner ([`OwnerConnection`]), which holds a
//! session advisory lock per job so that two runs of the same job (two
//! server instances, or a server and the CLI) never overlap. The same jobs
//! are reached from `screenplay maintenance ...`, the optional
//! [`scheduler`], and (for the ones that can run in a transaction) the
//! platform-admin GraphQL mutations.

pub mod backup;
pub mod partitions;
pub mod scheduler;

use std::{fmt, time::Duration};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement, TransactionSession,
    TransactionTrait,
};

/// The maintenance jobs (names as in `screenplay maintenance <job>` and
/// `screenplay.maintenance_runs.job`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    Vacuum,
    Analyze,
    Reindex,
    Cleanup,
    Partitions,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Vacuum => "vacuum",
            Self::Analyze => "analyze",
            Self::Reindex => "reindex",
            Self::Cleanup => "cleanup",
            Self::Partitions => "partitions",
        }
    }

    /// The advisory lock key of this job ("screenplay maintenance" + job).
    pub fn lock_key(self) -> i64 {
        const BASE: i64 = 0x5350_4d41_494e_0000;
        BASE + match self {
            Self::Vacuum => 1,
            Self::Analyze => 2,
            Self::Reindex => 3,
            Self::Cleanup => 4,
            Self::Partitions => 5,
        }
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who started a run (`maintenance_runs.started_by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartedBy {
    Schedule,
    Cli,
    Api,
}

impl StartedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Schedule => "schedule",
            Self::Cli => "cli",
            Self::Api => "api",
        }
    }
}

/// One table's line of a VACUUM or REINDEX run.
#[derive(Debug, Clone, PartialEq)]
pub struct TableStep {
    pub table: String,
    pub duration: Duration,
}

/// One log table's line of a cleanup (`screenplay.cleanup_old_logs`).
#[derive(Debug, Clone, PartialEq)]
pub struct CleanupRow {
    pub table: String,
    pub deleted: i64,
    pub partitions_dropped: i32,
    pub cutoff: DateTime<Utc>,
}

/// One partition of `screenplay.ensure_log_partitions`.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionRow {
    pub parent: String,
    pub partition: String,
    pub created: bool,
}

/// What a job did, for the CLI, the scheduler's log and `maintenance_runs.detail`.
#[derive(Debug, Clone, PartialEq)]
pub enum JobReport {
    Tables(Vec<TableStep>),
    Cleanup(Vec<CleanupRow>),
    Partitions(Vec<PartitionRow>),
}

impl JobReport {
    /// One line.
    pub fn summary(&self) -> String {
        match self {
            Self::Tables(steps) => {
                let total: Duration = steps.iter().map(|s| s.duration).sum();
                format!("{} tables in {:.1} s", steps.len(), total.as_secs_f64())
            }
            Self::Cleanup(rows) => rows
                .iter()
                .map(|r| {
                    format!(
                        "{}: {} rows ({} partitions dropped)",
                        r.table, r.deleted, r.partitions_dropped
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
            Self::Partitions(rows) => {
                let created: Vec<&str> = rows
                    .iter()
                    .filter(|r| r.created)
                    .map(|r| r.partition.as_str())
                    .collect();
                if created.is_empty() {
                    format!("{} partitions present, none created", rows.len())
                } else {
                    format!("created {}", created.join(", "))
                }
            }
        }
    }
}

/// A job with its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    Vacuum,
    Analyze,
    Reindex,
    Cleanup { days: i32 },
    Partitions { months_back: i32, months_ahead: i32 },
}

impl Job {
    pub fn kind(self) -> JobKind {
        match self {
            Self::Vacuum => JobKind::Vacuum,
            Self::Analyze => JobKind::Analyze,
            Self::Reindex => JobKind::Reindex,
            Self::Cleanup { .. } => JobKind::Cleanup,
            Self::Partitions { .. } => JobKind::Partitions,
        }
    }
}

/// The outcome of [`OwnerConnection::run`].
#[derive(Debug)]
pub enum RunOutcome {
    Done(JobReport),
    /// Another session holds the job's advisory lock.
    Busy,
    /// A scheduled slot another instance already ran (or is running).
    AlreadyRan,
}

/// One connection as the schema owner: VACUUM and REINDEX need the owner,
/// and the session advisory locks need one session.
pub struct OwnerConnection {
    conn: DatabaseConnection,
}

impl OwnerConnection {
    /// Connects and checks that the role owns schema `screenplay`.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let mut opts = ConnectOptions::new(url.to_owned());
        opts.max_connections(1)
            .min_connections(0)
            .sqlx_logging(false)
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(60))
            // Long jobs hold session locks: never recycle the connection under them.
            .max_lifetime(None)
            .idle_timeout(None)
            .map_sqlx_postgres_opts(|o| o.application_name("screenplay-maintenance"));
        let conn = Database::connect(opts)
            .await
            .context("connecting as the schema owner for maintenance")?;
        let row = conn
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT current_user::text AS role, \
                        coalesce((SELECT pg_has_role(current_user, n.nspowner, 'USAGE') \
                                  FROM pg_namespace n WHERE n.nspname = 'screenplay'), false) AS owner, \
                        to_regprocedure('screenplay.cleanup_old_logs(integer)') IS NOT NULL AS migrated",
            ))
            .await?
            .context("no answer from the database")?;
        let role: String = row.try_get("", "role")?;
        if !row.try_get::<bool>("", "migrated")? {
            bail!("the database has no maintenance functions yet: run `screenplay migrate` first");
        }
        if !row.try_get::<bool>("", "owner")? {
            bail!(
                "maintenance must run as the owner of schema screenplay, but this connection is `{role}`: \
                 set SCREENPLAY_MIGRATION_DATABASE_URL to the owner's URL (a direct connection, not PgBouncer)"
            );
        }
        Ok(Self { conn })
    }

    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    pub async fn close(self) {
        let _ = self.conn.close().await;
    }

    /// Runs `job` under its advisory lock, recording it in
    /// `maintenance_runs`. With a `slot` (the scheduler), a slot that was
    /// already claimed is not run again.
    pub async fn run(
        &self,
        job: Job,
        started_by: StartedBy,
        slot: Option<DateTime<Utc>>,
        instance: &str,
    ) -> anyhow::Result<RunOutcome> {
        let kind = job.kind();
        if !self.try_lock(kind).await? {
            return Ok(RunOutcome::Busy);
        }
        let result = async {
            let Some(run_id) = self.claim(kind, started_by, slot, instance).await? else {
                return Ok(RunOutcome::AlreadyRan);
            };
            let outcome = self.execute(job).await;
            let (status, detail) = match &outcome {
                Ok(report) => ("succeeded", report.summary()),
                Err(err) => ("failed", format!("{err:#}")),
            };
            self.finish(run_id, status, &detail).await?;
            outcome.map(RunOutcome::Done)
        }
        .await;
        self.unlock(kind).await?;
        result
    }

    /// Runs `job` now, without lock or record (tests, and the bodies of [`run`](Self::run)).
    pub async fn execute(&self, job: Job) -> anyhow::Result<JobReport> {
        match job {
            Job::Vacuum => self.per_table("VACUUM (ANALYZE)", false).await.map(JobReport::Tables),
            Job::Reindex => {
                self.drop_interrupted_reindexes().await?;
                self.per_table("REINDEX TABLE CONCURRENTLY", true)
                    .await
                    .map(JobReport::Tables)
            }
            Job::Analyze => analyze_all_tables(&self.conn)
                .await
                .map(JobReport::Tables)
                .map_err(Into::into),
            Job::Cleanup { days } => cleanup_old_logs(&self.conn, days)
                .await
                .map(JobReport::Cleanup)
                .map_err(Into::into),
            Job::Partitions {
                months_back,
                months_ahead,
            } => ensure_log_partitions(&self.conn, months_back, months_ahead)
                .await
                .map(JobReport::Partitions)
                .map_err(Into::into),
        }
    }

    /// Runs `command screenplay.<table>` for every table of the schema, one
    /// statement at a time, outside any transaction.
    async fn per_table(&self, command: &str, with_indexes_only: bool) -> anyhow::Result<Vec<TableStep>> {
        let tables = self
            .conn
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                format!(
                    "SELECT c.relname::text AS name FROM pg_class c \
                     WHERE c.relnamespace = 'screenplay'::regnamespace AND c.relkind IN ('r', 'p') \
                       AND NOT c.relispartition {} ORDER BY c.relname",
                    if with_indexes_only {
                        "AND EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid)"
                    } else {
                        ""
                    }
                ),
            ))
            .await?;
        let mut steps = Vec::with_capacity(tables.len());
        for row in tables {
            let table: String = row.try_get("", "name")?;
            let started = std::time::Instant::now();
            self.conn
                .execute_unprepared(&format!("{command} screenplay.{}", quote_ident(&table)))
                .await
                .with_context(|| format!("{command} screenplay.{table}"))?;
            steps.push(TableStep {
                table,
                duration: started.elapsed(),
            });
        }
        Ok(steps)
    }

    /// An interrupted REINDEX CONCURRENTLY leaves invalid `*_ccnew` indexes
    /// behind, which slow every write: they are dropped before a new run.
    async fn drop_interrupted_reindexes(&self) -> anyhow::Result<()> {
        let leftovers = self
            .conn
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT c.relname::text AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
                 WHERE c.relnamespace = 'screenplay'::regnamespace AND NOT i.indisvalid \
                   AND c.relkind = 'i' AND c.relname ~ '_ccnew[0-9]*$'",
            ))
            .await?;
        for row in leftovers {
            let name: String = row.try_get("", "name")?;
            tracing::warn!(index = %name, "dropping an invalid index left by an interrupted reindex");
            self.conn
                .execute_unprepared(&format!(
                    "DROP INDEX CONCURRENTLY IF EXISTS screenplay.{}",
                    quote_ident(&name)
                ))
                .await?;
        }
        Ok(())
    }

    async fn try_lock(&self, kind: JobKind) -> anyhow::Result<bool> {
        let row = self
            .conn
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_try_advisory_lock($1) AS locked",
                [kind.lock_key().into()],
            ))
            .await?
            .context("no answer to pg_try_advisory_lock")?;
        Ok(row.try_get("", "locked")?)
    }

    async fn unlock(&self, kind: JobKind) -> anyhow::Result<()> {
        self.conn
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_advisory_unlock($1)",
                [kind.lock_key().into()],
            ))
            .await?;
        Ok(())
    }

    /// Inserts the run's row; `None` when the scheduled slot was taken.
    async fn claim(
        &self,
        kind: JobKind,
        started_by: StartedBy,
        slot: Option<DateTime<Utc>>,
        instance: &str,
    ) -> anyhow::Result<Option<uuid::Uuid>> {
        let row = self
            .conn
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO screenplay.maintenance_runs (job, slot, started_by, instance) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (job, slot) DO NOTHING RETURNING id",
                [
                    kind.as_str().into(),
                    slot.into(),
                    started_by.as_str().into(),
                    instance.into(),
                ],
            ))
            .await?;
        Ok(match row {
            Some(row) => Some(row.try_get("", "id")?),
            None => None,
        })
    }

    async fn finish(&self, id: uuid::Uuid, status: &str, detail: &str) -> anyhow::Result<()> {
        self.conn
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "UPDATE screenplay.maintenance_runs SET status = $2, detail = $3, finished_at = now() WHERE id = $1",
                [
                    id.into(),
                    status.into(),
                    detail.chars().take(4000).collect::<String>().into(),
                ],
            ))
            .await?;
        Ok(())
    }
}

/// `screenplay.analyze_all_tables()`, in a transaction of `db`.
pub async fn analyze_all_tables(db: &impl TransactionTrait) -> Result<Vec<TableStep>, sea_orm::DbErr> {
    let tx = db.begin().await?;
    let rows = tx
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT table_name, duration_ms FROM screenplay.analyze_all_tables()",
        ))
        .await?;
    tx.commit().await?;
    rows.iter()
        .map(|row| {
            let ms: f64 = row.try_get("", "duration_ms")?;
            Ok(TableStep {
                table: row.try_get("", "table_name")?,
                duration: Duration::from_secs_f64(ms.max(0.0) / 1000.0),
            })
        })
        .collect()
}

/// `screenplay.cleanup_old_logs(days)`, in a transaction of `db`.
pub async fn cleanup_old_logs(db: &impl TransactionTrait, days: i32) -> Result<Vec<CleanupRow>, sea_orm::DbErr> {
    let tx = db.begin().await?;
    let rows = tx
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT table_name, deleted_count, partitions_dropped, cutoff FROM screenplay.cleanup_old_logs($1)",
            [days.into()],
        ))
        .await?;
    tx.commit().await?;
    rows.iter()
        .map(|row| {
            Ok(CleanupRow {
                table: row.try_get("", "table_name")?,
                deleted: row.try_get("", "deleted_count")?,
                partitions_dropped: row.try_get("", "partitions_dropped")?,
                cutoff: row.try_get("", "cutoff")?,
            })
        })
        .collect()
}

/// `screenplay.ensure_log_partitions(back, ahead)`, in a transaction of `db`.
pub async fn ensure_log_partitions(
    db: &impl TransactionTrait,
    months_back: i32,
    months_ahead: i32,
) -> Result<Vec<PartitionRow>, sea_orm::DbErr> {
    let tx = db.begin().await?;
    let rows = tx
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT parent_table, partition_name, created FROM screenplay.ensure_log_partitions($1, $2)",
            [months_back.into(), months_ahead.into()],
        ))
        .await?;
    tx.commit().await?;
    rows.iter()
        .map(|row| {
            Ok(PartitionRow {
                parent: row.try_get("", "parent_table")?,
                partition: row.try_get("", "partition_name")?,
                created: row.try_get("", "created")?,
            })
        })
        .collect()
}

/// `"name"`, doubled quotes inside.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
