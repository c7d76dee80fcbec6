//! Search latency per minute for `screenplay.search_latency`, which
//! `screenplay.vector_db_metrics` reads for its p99 and QPS (the seed's
//! Milvus triggers). Every [`SearchLatencyRecorder`] (one per server)
//! receives every search observed in the process and writes its histogram
//! once a minute.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, Weak},
    time::Duration,
};

use chrono::{DurationRound, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::{db::Db, runtime::ShutdownSignal};

/// Latency buckets of searches in milliseconds; the same bounds as
/// `screenplay.search_latency_bounds()` (a test compares them).
pub const SEARCH_BOUNDS_MS: [f64; 15] = [
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 300.0, 500.0, 750.0, 1000.0, 2000.0, 5000.0, 10000.0,
];

/// How often recorders write.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Default)]
struct Accumulated {
    calls: i64,
    total_ms: f64,
    max_ms: f64,
    counts: Vec<i64>,
}

#[derive(Default)]
struct Window {
    by_mode: Mutex<HashMap<String, Accumulated>>,
}

impl Window {
    fn add(&self, mode: &str, ms: f64) {
        let Ok(mut by_mode) = self.by_mode.lock() else { return };
        let acc = by_mode.entry(mode.to_owned()).or_insert_with(|| Accumulated {
            counts: vec![0; SEARCH_BOUNDS_MS.len() + 1],
            ..Accumulated::default()
        });
        let slot = SEARCH_BOUNDS_MS
            .iter()
            .position(|bound| ms <= *bound)
            .unwrap_or(SEARCH_BOUNDS_MS.len());
        acc.counts[slot] += 1;
        acc.calls += 1;
        acc.total_ms += ms;
        acc.max_ms = acc.max_ms.max(ms);
    }

    fn take(&self) -> HashMap<String, Accumulated> {
        self.by_mode
            .lock()
            .map(|mut m| std::mem::take(&mut *m))
            .unwrap_or_default()
    }

    /// Puts back what could not be written.
    fn restore(&self, taken: HashMap<String, Accumulated>) {
        let Ok(mut by_mode) = self.by_mode.lock() else { return };
        for (mode, old) in taken {
            let acc = by_mode.entry(mode).or_insert_with(|| Accumulated {
                counts: vec![0; SEARCH_BOUNDS_MS.len() + 1],
                ..Accumulated::default()
            });
            acc.calls += old.calls;
            acc.total_ms += old.total_ms;
            acc.max_ms = acc.max_ms.max(old.max_ms);
            for (a, b) in acc.counts.iter_mut().zip(old.counts) {
                *a += b;
            }
        }
    }
}

fn windows() -> &'static Mutex<Vec<Weak<Window>>> {
    static WINDOWS: std::sync::OnceLock<Mutex<Vec<Weak<Window>>>> = std::sync::OnceLock::new();
    WINDOWS.get_or_init(Default::default)
}

pub(super) fn record(mode: &str, duration: Duration) {
    let ms = duration.as_secs_f64() * 1000.0;
    let Ok(mut list) = windows().lock() else { return };
    list.retain(|w| match w.upgrade() {
        Some(window) => {
            window.add(mode, ms);
            true
        }
        None => false,
    });
}

/// Collects the searches of the process and writes them, per minute, into
/// `screenplay.search_latency` (source `server`).
pub struct SearchLatencyRecorder {
    window: Arc<Window>,
    instance: String,
}

impl SearchLatencyRecorder {
    /// Starts collecting; `instance` names this server in the table.
    pub fn register(instance: impl Into<String>) -> Self {
        let window = Arc::new(Window::default());
        if let Ok(mut list) = windows().lock() {
            list.push(Arc::downgrade(&window));
        }
        Self {
            window,
            instance: instance.into(),
        }
    }

    /// Writes what was collected since the last flush (in the current
    /// minute's row); returns the number of searches written.
    pub async fn flush(&self, db: &Db) -> anyhow::Result<i64> {
        let taken = self.window.take();
        if taken.is_empty() {
            return Ok(0);
        }
        match write(db, &self.instance, &taken).await {
            Ok(n) => Ok(n),
            Err(err) => {
                self.window.restore(taken);
                Err(err)
            }
        }
    }
}

async fn write(db: &Db, instance: &str, taken: &HashMap<String, Accumulated>) -> anyhow::Result<i64> {
    let minute = Utc::now().duration_trunc(chrono::Duration::minutes(1))?;
    let tx = db.begin_platform().await?;
    let mut written = 0;
    for (mode, acc) in taken {
        tx.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO screenplay.search_latency AS l \
                 (bucket_start, mode, source, instance, calls, total_ms, max_ms, le_ms, counts) \
             VALUES ($1, $2, 'server', $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (bucket_start, mode, source, instance) DO UPDATE \
                 SET calls = l.calls + EXCLUDED.calls, total_ms = l.total_ms + EXCLUDED.total_ms, \
                     max_ms = greatest(l.max_ms, EXCLUDED.max_ms), \
                     counts = ARRAY(SELECT a + b FROM unnest(l.counts, EXCLUDED.counts) AS x(a, b))",
            [
                minute.into(),
                mode.clone().into(),
                instance.into(),
                acc.calls.into(),
                acc.total_ms.into(),
                acc.max_ms.into(),
                SEARCH_BOUNDS_MS.to_vec().into(),
                acc.counts.clone().into(),
            ],
        ))
        .await?;
        written += acc.calls;
    }
    tx.commit().await?;
    Ok(written)
}

/// Flushes every minute until `shutdown`, and once more then.
pub async fn flush_loop(recorder: SearchLatencyRecorder, db: Db, shutdown: ShutdownSignal) {
    loop {
        let stop = tokio::select! {
            () = tokio::time::sleep(FLUSH_INTERVAL) => false,
            () = shutdown.clone().wait() => true,
        };
        if let Err(err) = recorder.flush(&db).await {
            tracing::warn!(error = %format!("{err:#}"), "could not record search latency");
        }
        if stop {
            return;
        }
    }
}
