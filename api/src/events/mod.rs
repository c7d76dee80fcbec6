//! Live session events from PostgreSQL `LISTEN/NOTIFY`.
//!
//! Triggers (migrations 0010 and 0071) write each event as a row of
//! `screenplay.session_events` inside the writing transaction and
//! `NOTIFY screenplay_session_events` with the row's id, so PostgreSQL
//! delivers each id on commit, in commit order, to every listening
//! connection: every server instance on the database hears every event,
//! whichever instance wrote it. The payload is only an id because any role
//! that can connect may NOTIFY any channel: the listener reads the event
//! back through `screenplay.session_events_by_id` (a function its role may
//! call; the table itself is the owner's alone) and ignores an id it cannot
//! find, so a forged NOTIFY delivers nothing, and an id it has delivered
//! already (see `Delivered`), so a replayed one delivers nothing twice.
//!
//! Each instance keeps one dedicated listening connection (opened on the
//! first subscription; `SCREENPLAY_LISTEN_DATABASE_URL`, since PgBouncer in
//! transaction mode cannot LISTEN), which also runs the look-ups, and fans
//! events out to its subscribers through a broadcast channel. When the
//! listening connection drops (or a look-up fails), events may be lost:
//! subscribers get a [`HubMessage::Gap`] (a `RESYNC` event) at once, the
//! connection is re-established, and they get another once it listens again,
//! since events committed in between were never notified.

use std::{
    collections::{HashSet, VecDeque},
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use sea_orm::sqlx::postgres::{PgListener, PgNotification};
use serde::Deserialize;
use tokio::sync::{Mutex, broadcast, watch};
use uuid::Uuid;

use crate::{
    config::Secret,
    error::{AppError, AppResult},
};

/// The NOTIFY channel the triggers use.
pub const CHANNEL: &str = "screenplay_session_events";
/// Events a slow subscriber may fall behind before it gets a `RESYNC`.
const BUFFER: usize = 4096;
/// Reads events back by id, in the order given: those that exist and are
/// younger than 10 minutes (migration 0071).
const LOOKUP_SQL: &str = "SELECT id, payload::text FROM screenplay.session_events_by_id($1)";
/// How long a delivered id is remembered: longer than the look-up returns
/// its row, so a replay after it is forgotten finds nothing.
const REMEMBER_FOR: Duration = Duration::from_secs(11 * 60);
/// Ids remembered at most (memory bound, about 40 MB; reached only above
/// 1,500 events a second).
const REMEMBER_AT_MOST: usize = 1 << 20;
/// Notifications already received that are looked up together.
const BATCH: usize = 256;

/// One event as the trigger wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionEventRecord {
    /// `step_status_changed`, `fragment_appended`, `fragment_revised`,
    /// `fragment_deleted`, `session_status_changed`, `session_deleted`,
    /// `outline_changed`.
    #[serde(rename = "type")]
    pub kind: String,
    pub tenant_id: Uuid,
    pub session_id: Uuid,
    pub at: DateTime<Utc>,
    pub step_id: Option<Uuid>,
    pub fragment_id: Option<Uuid>,
    pub status: Option<String>,
    pub previous_status: Option<String>,
    pub version: Option<i32>,
}

/// What subscribers receive.
#[derive(Debug, Clone)]
pub enum HubMessage {
    Event(Arc<SessionEventRecord>),
    /// Events may have been lost (the listening connection dropped).
    Gap,
}

/// The process's listener and its subscribers. Cheap to clone.
#[derive(Clone)]
pub struct EventHub {
    inner: Arc<Inner>,
}

struct Inner {
    url: Secret<String>,
    sender: broadcast::Sender<HubMessage>,
    running: Mutex<bool>,
    stop: watch::Sender<bool>,
}

impl EventHub {
    /// A hub that will listen through `url` once someone subscribes.
    pub fn new(url: Secret<String>) -> Self {
        let (sender, _) = broadcast::channel(BUFFER);
        let (stop, _) = watch::channel(false);
        Self {
            inner: Arc::new(Inner {
                url,
                sender,
                running: Mutex::new(false),
                stop,
            }),
        }
    }

    /// A receiver of every event from now on. The first call opens the
    /// listening connection and returns once `LISTEN` is in effect.
    pub async fn subscribe(&self) -> AppResult<broadcast::Receiver<HubMessage>> {
        let mut running = self.inner.running.lock().await;
        if *self.inner.stop.borrow() {
            return Err(AppError::internal(anyhow::anyhow!("the server is shutting down")));
        }
        if !*running {
            let listener = connect(self.inner.url.expose()).await.map_err(AppError::internal)?;
            let receiver = self.inner.sender.subscribe();
            tokio::spawn(listen(
                self.inner.url.expose().to_owned(),
                listener,
                self.inner.sender.clone(),
                self.inner.stop.subscribe(),
            ));
            *running = true;
            return Ok(receiver);
        }
        Ok(self.inner.sender.subscribe())
    }

    /// Current subscribers (receivers alive).
    pub fn subscribers(&self) -> usize {
        self.inner.sender.receiver_count()
    }

    /// Stops the listener (server shutdown).
    pub fn stop(&self) {
        let _ = self.inner.stop.send(true);
    }
}

async fn connect(url: &str) -> anyhow::Result<PgListener> {
    let mut listener = PgListener::connect(url).await?;
    // A lost connection surfaces at once (`Ok(None)`), so subscribers hear
    // RESYNC then; `reconnect` brings listening back.
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

async fn listen(
    url: String,
    mut listener: PgListener,
    sender: broadcast::Sender<HubMessage>,
    mut stop: watch::Receiver<bool>,
) {
    let mut delivered = Delivered::default();
    loop {
        let received = tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            r = listener.try_recv() => r,
        };
        match received {
            Ok(Some(notification)) => {
                let mut batch = vec![notification];
                while batch.len() < BATCH
                    && let Some(more) = listener.next_buffered()
                {
                    batch.push(more);
                }
                if let Err(e) = deliver(&mut listener, &batch, &mut delivered, &sender).await {
                    tracing::warn!(error = %e, "session events could not be read back");
                    let _ = sender.send(HubMessage::Gap);
                }
            }
            lost => {
                let error = lost.err().map(|e| e.to_string()).unwrap_or_default();
                tracing::warn!(%error, "session event listener lost its connection; reconnecting");
                let _ = sender.send(HubMessage::Gap);
                let Some(again) = reconnect(&url, &mut stop).await else {
                    break;
                };
                listener = again;
                // Events committed while nobody listened were never notified:
                // subscribers re-read now that listening has resumed.
                let _ = sender.send(HubMessage::Gap);
            }
        }
    }
    tracing::debug!("session event listener stopped");
}

/// A new listening connection, retried with backoff (at most 2 s apart, so
/// listening resumes soon after the database does); `None` on shutdown.
async fn reconnect(url: &str, stop: &mut watch::Receiver<bool>) -> Option<PgListener> {
    let mut backoff = Duration::from_millis(100);
    loop {
        match tokio::time::timeout(Duration::from_secs(5), connect(url)).await {
            Ok(Ok(listener)) => {
                tracing::info!("session event listener listening again");
                return Some(listener);
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, retry_in = ?backoff, "session event listener cannot reach the database")
            }
            Err(_) => tracing::warn!(retry_in = ?backoff, "session event listener: connecting timed out"),
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return None,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// Reads the events `notifications` name back from the database and sends
/// those found and not delivered before, in the order notified.
async fn deliver(
    listener: &mut PgListener,
    notifications: &[PgNotification],
    delivered: &mut Delivered,
    sender: &broadcast::Sender<HubMessage>,
) -> Result<(), sea_orm::sqlx::Error> {
    delivered.forget_old(Instant::now());
    let mut ids: Vec<i64> = Vec::with_capacity(notifications.len());
    for notification in notifications {
        match notification.payload().trim().parse::<i64>() {
            Ok(id) if !delivered.contains(id) && !ids.contains(&id) => ids.push(id),
            Ok(_) => {}
            Err(_) => tracing::debug!("session event notification that is no event id ignored"),
        }
    }
    if ids.is_empty() {
        return Ok(());
    }
    let rows: Vec<(i64, String)> = sea_orm::sqlx::query_as(LOOKUP_SQL)
        .bind(&ids)
        .fetch_all(&mut *listener)
        .await?;
    if rows.len() < ids.len() {
        tracing::debug!(
            unknown = ids.len() - rows.len(),
            "session event ids without an event ignored"
        );
    }
    for id in ids {
        let Some((_, payload)) = rows.iter().find(|(found, _)| *found == id) else {
            continue;
        };
        delivered.insert(id, Instant::now());
        match serde_json::from_str::<SessionEventRecord>(payload) {
            Ok(event) => {
                let _ = sender.send(HubMessage::Event(Arc::new(event)));
            }
            Err(e) => tracing::warn!(error = %e, id, "unreadable session event ignored"),
        }
    }
    Ok(())
}

/// Ids of the events delivered lately, oldest first, each remembered for
/// [`REMEMBER_FOR`] (and at most [`REMEMBER_AT_MOST`] of them).
#[derive(Default)]
struct Delivered {
    order: VecDeque<(Instant, i64)>,
    ids: HashSet<i64>,
}

impl Delivered {
    fn contains(&self, id: i64) -> bool {
        self.ids.contains(&id)
    }

    fn insert(&mut self, id: i64, now: Instant) {
        if self.ids.insert(id) {
            self.order.push_back((now, id));
        }
        while self.order.len() > REMEMBER_AT_MOST {
            self.forget_first();
        }
    }

    fn forget_old(&mut self, now: Instant) {
        while self
            .order
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > REMEMBER_FOR)
        {
            self.forget_first();
        }
    }

    fn forget_first(&mut self) {
        if let Some((_, id)) = self.order.pop_front() {
            self.ids.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivered_ids_are_remembered_for_a_while() {
        let start = Instant::now();
        let mut delivered = Delivered::default();
        delivered.insert(7, start);
        delivered.insert(7, start);
        delivered.insert(8, start + Duration::from_secs(60));
        assert!(delivered.contains(7) && delivered.contains(8));
        assert_eq!(delivered.order.len(), 2);
        delivered.forget_old(start + REMEMBER_FOR + Duration::from_secs(1));
        assert!(!delivered.contains(7) && delivered.contains(8));
    }
}
