//! Live session events from PostgreSQL `LISTEN/NOTIFY`.
//!
//! Triggers (migration 0010) `NOTIFY screenplay_session_events` inside the
//! writing transaction, so PostgreSQL delivers each event on commit, in
//! commit order, to every listening connection: every server instance on the
//! database hears every event, whichever instance wrote it. Each instance
//! keeps one dedicated listening connection (opened on the first
//! subscription; `SCREENPLAY_LISTEN_DATABASE_URL`, since PgBouncer in
//! transaction mode cannot LISTEN) and fans events out to its subscribers
//! through a broadcast channel. When the listening connection drops, events
//! may be lost: subscribers get a [`HubMessage::Gap`] (a `RESYNC` event) and
//! the connection is re-established.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use sea_orm::sqlx::postgres::PgListener;
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

/// One event as the trigger sent it.
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
            tokio::spawn(listen(listener, self.inner.sender.clone(), self.inner.stop.subscribe()));
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
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

async fn listen(mut listener: PgListener, sender: broadcast::Sender<HubMessage>, mut stop: watch::Receiver<bool>) {
    let mut backoff = Duration::from_millis(200);
    let mut connected = true;
    loop {
        let received = tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            r = listener.try_recv() => r,
        };
        match received {
            Ok(Some(notification)) => {
                connected = true;
                backoff = Duration::from_millis(200);
                match serde_json::from_str::<SessionEventRecord>(notification.payload()) {
                    Ok(event) => {
                        let _ = sender.send(HubMessage::Event(Arc::new(event)));
                    }
                    Err(e) => tracing::warn!(error = %e, "unreadable session event ignored"),
                }
            }
            Ok(None) => {
                // The connection dropped; the next try_recv reconnects and re-listens.
                tracing::warn!("session event listener lost its connection; reconnecting");
                let _ = sender.send(HubMessage::Gap);
                connected = false;
            }
            Err(e) => {
                if connected {
                    let _ = sender.send(HubMessage::Gap);
                    connected = false;
                }
                tracing::warn!(error = %e, retry_in = ?backoff, "session event listener cannot reach the database");
                tokio::select! {
                    _ = stop.wait_for(|s| *s) => break,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
    tracing::debug!("session event listener stopped");
}
