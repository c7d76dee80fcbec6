//! Read replicas: streaming standbys of the primary that take read-only
//! operations (`SCREENPLAY_DATABASE_REPLICA_URLS`).
//!
//! A watcher samples the primary's WAL position and each replica's replay
//! position every [`Replicas::interval`]. A replica's lag is how long ago
//! the primary was last at a position the replica has replayed: everything
//! committed before then is on the replica, anything later may not be. The
//! bound holds whether the primary is busy or idle (an idle primary's
//! position does not move, so a caught-up replica reads 0). A replica is
//! used while it answers, is a standby and lags at most
//! `SCREENPLAY_REPLICA_MAX_LAG`; otherwise reads go to another replica or
//! the primary, and a log line and the metrics say so.

use std::{
    collections::VecDeque,
    sync::{
        Arc, Weak,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use sea_orm::{ConnectionTrait, DbBackend, Statement};

use super::pool::{Db, PoolOptions};

/// The replicas of one primary.
pub struct Replicas {
    members: Vec<Member>,
    max_lag: Duration,
    next: AtomicUsize,
    /// Reads that went to the primary: no replica was usable, or the
    /// picked one did not begin their transaction.
    fallbacks: AtomicU64,
}

struct Member {
    /// `host:port/database`, for logs and metrics (never the password).
    name: String,
    db: Db,
    usable: AtomicBool,
    /// Last measured lag in milliseconds; `u64::MAX` when unknown.
    lag_millis: AtomicU64,
    reads: AtomicU64,
}

/// The replica a read was sent to.
pub struct Picked {
    replicas: Arc<Replicas>,
    at: usize,
}

impl Picked {
    /// The replica's pool.
    pub fn db(&self) -> &Db {
        &self.replicas.members[self.at].db
    }

    /// The read's transaction began on the replica.
    pub fn began(&self) {
        self.replicas.members[self.at].reads.fetch_add(1, Ordering::Relaxed);
    }

    /// The replica did not take the read; it goes to the primary.
    pub fn fell_back(&self) {
        self.replicas.fallbacks.fetch_add(1, Ordering::Relaxed);
    }
}

/// One replica as the metrics show it.
#[derive(Debug, Clone)]
pub struct ReplicaState {
    pub name: String,
    pub usable: bool,
    /// `None` while the replica cannot be measured (down, not a standby).
    pub lag: Option<Duration>,
    /// Read transactions it was given.
    pub reads: u64,
}

/// What one look at a replica found.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Health {
    Down,
    NotStandby,
    Lagging(Duration),
    Fine(Duration),
}

impl Replicas {
    /// Opens a pool on each replica (as large as the primary's, with the
    /// same transaction timeouts), looks at each once, and starts watching
    /// them for as long as `primary` (which holds the set) lives.
    pub async fn connect(primary: &Db, urls: &[String], max_lag: Duration) -> anyhow::Result<Arc<Self>> {
        let mut members = Vec::new();
        for url in urls {
            let options = PoolOptions {
                max_connections: primary.max_connections(),
                pgbouncer: primary.pgbouncer,
                application_name: "screenplay-replica".into(),
                read_only: true,
            };
            let db = Db::connect(url, &options).await?.like(primary);
            members.push(Member {
                name: display_name(url),
                db,
                usable: AtomicBool::new(false),
                lag_millis: AtomicU64::new(u64::MAX),
                reads: AtomicU64::new(0),
            });
        }
        let set = Arc::new(Self {
            members,
            max_lag,
            next: AtomicUsize::new(0),
            fallbacks: AtomicU64::new(0),
        });
        let mut watcher = Watcher::new(primary.clone(), set.interval(), max_lag);
        watcher.look(&set).await;
        tokio::spawn(watcher.run(Arc::downgrade(&set)));
        Ok(set)
    }

    /// How often the replicas are looked at: a quarter of the lag bound, at most a second.
    pub fn interval(&self) -> Duration {
        (self.max_lag / 4).min(Duration::from_secs(1))
    }

    /// A usable replica, in turn; `None` sends the read to the primary
    /// (counted as a fallback). The read counts once its transaction began
    /// ([`Picked::began`]), or as a fallback when it did not ([`Picked::fell_back`]).
    pub fn pick(self: &Arc<Self>) -> Option<Picked> {
        let n = self.members.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            let at = (start + i) % n;
            let member = &self.members[at];
            if member.usable.load(Ordering::Relaxed) && !member.db.stats().unreachable() {
                return Some(Picked {
                    replicas: Arc::clone(self),
                    at,
                });
            }
        }
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
        None
    }

    /// Each replica's state, for the metrics endpoint.
    pub fn states(&self) -> Vec<ReplicaState> {
        self.members
            .iter()
            .map(|m| {
                let lag = m.lag_millis.load(Ordering::Relaxed);
                ReplicaState {
                    name: m.name.clone(),
                    usable: m.usable.load(Ordering::Relaxed),
                    lag: (lag != u64::MAX).then(|| Duration::from_millis(lag)),
                    reads: m.reads.load(Ordering::Relaxed),
                }
            })
            .collect()
    }

    /// Reads that went to the primary because no replica was usable.
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    /// Closes the replicas' pools.
    pub async fn close(&self) {
        for member in &self.members {
            member.db.close().await;
        }
    }
}

/// Samples the primary and looks at the replicas.
struct Watcher {
    primary: Db,
    interval: Duration,
    max_lag: Duration,
    /// The primary's WAL position over the last `max_lag` and a bit.
    samples: VecDeque<(Instant, i64)>,
    /// What was last logged per replica (log lines on changes only).
    last: Vec<Option<Health>>,
}

impl Watcher {
    fn new(primary: Db, interval: Duration, max_lag: Duration) -> Self {
        Self {
            primary,
            interval,
            max_lag,
            samples: VecDeque::new(),
            last: Vec::new(),
        }
    }

    async fn run(mut self, set: Weak<Replicas>) {
        let mut ticks = tokio::time::interval(self.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let Some(set) = set.upgrade() else { return };
            self.look(&set).await;
        }
    }

    /// One round: the primary's position, then every replica's.
    async fn look(&mut self, set: &Replicas) {
        match position(&self.primary, "pg_current_wal_lsn()").await {
            Ok(Some(lsn)) => self.samples.push_back((Instant::now(), lsn)),
            Ok(None) => {}
            Err(err) => tracing::warn!(error = %err, "reading the primary's WAL position failed"),
        }
        let keep = self.max_lag + self.interval * 4;
        while self.samples.len() > 1 && self.samples.front().is_some_and(|(t, _)| t.elapsed() > keep) {
            self.samples.pop_front();
        }
        self.last.resize(set.members.len(), None);
        for (i, member) in set.members.iter().enumerate() {
            let health = self.health(member).await;
            let (usable, lag) = match health {
                Health::Fine(lag) => (true, Some(lag)),
                Health::Lagging(lag) => (false, Some(lag)),
                Health::Down | Health::NotStandby => (false, None),
            };
            member.usable.store(usable, Ordering::Relaxed);
            let millis = lag.map_or(u64::MAX, |l| l.as_millis().min(u64::MAX as u128 - 1) as u64);
            member.lag_millis.store(millis, Ordering::Relaxed);
            self.report(i, &member.name, health);
        }
    }

    async fn health(&self, member: &Member) -> Health {
        let replayed = position(
            &member.db,
            "CASE WHEN pg_is_in_recovery() THEN coalesce(pg_last_wal_replay_lsn(), '0/0'::pg_lsn) END",
        )
        .await;
        match replayed {
            Err(_) => Health::Down,
            Ok(None) => Health::NotStandby,
            Ok(Some(replayed)) => {
                member.db.stats().set_reachable();
                let lag = lag(&self.samples, replayed, Instant::now());
                if lag <= self.max_lag {
                    Health::Fine(lag)
                } else {
                    Health::Lagging(lag)
                }
            }
        }
    }

    /// Logs a replica's state when it changes between usable and not.
    fn report(&mut self, i: usize, name: &str, health: Health) {
        let before = self.last[i];
        let was_usable = matches!(before, Some(Health::Fine(_)));
        let usable = matches!(health, Health::Fine(_));
        let same_kind = before.is_some_and(|b| std::mem::discriminant(&b) == std::mem::discriminant(&health));
        self.last[i] = Some(health);
        if same_kind || (was_usable && usable) {
            return;
        }
        match health {
            Health::Fine(lag) => tracing::info!(replica = name, lag_ms = lag.as_millis() as u64, "replica in use"),
            Health::Lagging(lag) => tracing::warn!(
                replica = name,
                lag_ms = lag.as_millis() as u64,
                max_lag_ms = self.max_lag.as_millis() as u64,
                "replica skipped: it lags more than SCREENPLAY_REPLICA_MAX_LAG; reads go elsewhere"
            ),
            Health::Down => tracing::warn!(
                replica = name,
                "replica skipped: it does not answer; reads go elsewhere"
            ),
            Health::NotStandby => tracing::warn!(
                replica = name,
                "replica skipped: it is not a standby (promoted, or not a replica of this primary)"
            ),
        }
    }
}

/// A WAL position (bytes since 0/0) from `expression`, on the control pool
/// of `db` (requests may have taken the main pool), within a second.
async fn position(db: &Db, expression: &str) -> anyhow::Result<Option<i64>> {
    let sql = format!("SELECT (({expression}) - '0/0'::pg_lsn)::int8 AS lsn");
    let query = db
        .control()
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql));
    let row = tokio::time::timeout(Duration::from_secs(1), query)
        .await
        .map_err(|_| anyhow::anyhow!("timed out"))??;
    Ok(match row {
        Some(row) => row.try_get("", "lsn")?,
        None => None,
    })
}

/// How stale a replica that replayed up to `replayed` may be: the time
/// since the newest sample of the primary it has replayed (0 when it has
/// the newest), or since the oldest sample kept when it has none of them.
fn lag(samples: &VecDeque<(Instant, i64)>, replayed: i64, now: Instant) -> Duration {
    let Some(&(_, newest)) = samples.back() else {
        return Duration::ZERO;
    };
    if replayed >= newest {
        return Duration::ZERO;
    }
    let since = samples
        .iter()
        .rev()
        .find(|(_, lsn)| *lsn <= replayed)
        .or(samples.front())
        .map_or(now, |(t, _)| *t);
    now.saturating_duration_since(since)
}

/// `host:port/database` of a URL.
fn display_name(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => format!(
            "{}:{}{}",
            u.host_str().unwrap_or("?"),
            u.port().unwrap_or(5432),
            u.path()
        ),
        Err(_) => "replica".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_the_age_of_the_newest_position_the_replica_has() {
        let now = Instant::now();
        let at = |secs: u64| now - Duration::from_secs(secs);
        let samples: VecDeque<_> = [(at(4), 100), (at(3), 100), (at(2), 250), (at(1), 400)].into();
        // Caught up with the newest sample, or past it.
        assert_eq!(lag(&samples, 400, now), Duration::ZERO);
        assert_eq!(lag(&samples, 401, now), Duration::ZERO);
        // Has 250 (2 s ago) but not 400: what came after 2 s ago may be missing.
        assert_eq!(lag(&samples, 300, now), Duration::from_secs(2));
        assert_eq!(lag(&samples, 250, now), Duration::from_secs(2));
        // Has the idle primary's 100 (last seen 3 s ago).
        assert_eq!(lag(&samples, 100, now), Duration::from_secs(3));
        // Older than every sample: at least as old as the oldest.
        assert_eq!(lag(&samples, 50, now), Duration::from_secs(4));
        // No sample yet: nothing to compare with.
        assert_eq!(lag(&VecDeque::new(), 50, now), Duration::ZERO);
    }

    #[test]
    fn names_never_show_the_password() {
        let name = display_name("postgres://app:hunter2@db-2.internal:5433/screenplay");
        assert_eq!(name, "db-2.internal:5433/screenplay");
    }
}
