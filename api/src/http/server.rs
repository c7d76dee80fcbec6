//! Binding, serving, and graceful shutdown: on SIGTERM or SIGINT the
//! listener closes, open websockets are closed (1001), in-flight requests
//! finish (up to the grace period), background writers flush, and the
//! process exits 0.

use std::net::SocketAddr;

use anyhow::Context;
use tokio::{net::TcpListener, sync::watch};

use super::router;
use crate::{graphql::build_schemas, state::SharedState};

/// Fires once when the server should stop.
#[derive(Clone)]
pub struct ShutdownSignal {
    rx: watch::Receiver<bool>,
}

impl ShutdownSignal {
    /// A signal and its trigger.
    pub fn new() -> (watch::Sender<bool>, Self) {
        let (tx, rx) = watch::channel(false);
        (tx, Self { rx })
    }

    /// Resolves when shutdown starts.
    pub async fn wait(mut self) {
        let _ = self.rx.wait_for(|stop| *stop).await;
    }

    pub fn is_set(&self) -> bool {
        *self.rx.borrow()
    }
}

/// A bound server, ready to run.
pub struct Server {
    listener: TcpListener,
    state: SharedState,
}

impl Server {
    /// Binds `addr` (port 0 picks a free port).
    pub async fn bind(addr: SocketAddr, state: SharedState) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        Ok(Self { listener, state })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener has an address")
    }

    /// Serves until `shutdown` fires, then drains.
    pub async fn run(self, shutdown: ShutdownSignal) -> anyhow::Result<()> {
        let schemas = build_schemas(self.state.clone());
        let app = router(self.state.clone(), schemas, shutdown.clone());
        let grace = self.state.config.http.shutdown_grace;
        let serve = axum::serve(self.listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown.clone().wait());
        let background = spawn_background(&self.state, &shutdown);
        let served = tokio::spawn(async move { serve.await });
        shutdown.wait().await;
        // Subscriptions end: their sockets close on the signal, the listener stops.
        self.state.events.stop();
        tracing::info!(grace = ?grace, "shutting down: finishing in-flight requests");
        match tokio::time::timeout(grace, served).await {
            Ok(result) => result.context("server task")?.context("serving")?,
            Err(_) => tracing::warn!("in-flight requests did not finish within the grace period"),
        }
        // Every answered request's audit row is queued by now: write them all.
        self.state.audit.shutdown().await;
        // Background writers make their last write before the pool closes.
        for task in background {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), task).await;
        }
        self.state.db.close().await;
        Ok(())
    }
}

/// The server's own background work, stopped by `shutdown`: log
/// partitions kept ahead, and search latency written for vector_db_metrics.
fn spawn_background(state: &SharedState, shutdown: &ShutdownSignal) -> Vec<tokio::task::JoinHandle<()>> {
    let instance = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .map(|h| format!("{h}-{}", std::process::id()))
        .unwrap_or_else(|| {
            format!(
                "pid{}-{}",
                std::process::id(),
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            )
        });
    let recorder = crate::metrics::SearchLatencyRecorder::register(instance);
    vec![
        tokio::spawn(crate::maintenance::partitions::keep_ahead(
            state.db.clone(),
            shutdown.clone(),
        )),
        tokio::spawn(crate::metrics::flush_loop(recorder, state.db.clone(), shutdown.clone())),
    ]
}

/// Resolves on SIGTERM or SIGINT.
pub async fn os_signals() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = ctrl_c.await;
            return;
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
}
