//! The process around the server: the shutdown signal every long-running
//! task listens to, OS signals, the TLS provider and logging (with the
//! export of traces when `telemetry` is on).

use tokio::sync::watch;

/// mimalloc rather than glibc's malloc: on the nested session page a fifth
/// of the CPU went to glibc's malloc and free, and under steady load
/// glibc's RSS kept creeping up where mimalloc's levels off (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use tracing_subscriber::{
    EnvFilter, Layer, Registry,
    filter::{FilterExt, filter_fn},
    fmt,
    prelude::*,
};

use crate::{
    config::LogFormat,
    telemetry::{self, Telemetry},
};

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

/// A future that resolves on SIGTERM or SIGINT. The handlers are installed
/// when this is called, not when the future is first polled, so a signal
/// sent right after the server says it listens is never the default one
/// (which would end the process without the graceful stop).
pub fn os_signals() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let interrupt = signal(SignalKind::interrupt());
    async move {
        match (term, interrupt) {
            (Ok(mut term), Ok(mut interrupt)) => {
                tokio::select! {
                    _ = term.recv() => {},
                    _ = interrupt.recv() => {},
                }
            }
            (Ok(mut one), Err(_)) | (Err(_), Ok(mut one)) => {
                one.recv().await;
            }
            (Err(_), Err(_)) => std::future::pending().await,
        }
    }
}

/// Installs the process-wide TLS provider (ring) used by every client we
/// open: database, JWKS, embedding providers. Idempotent.
pub fn init_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Default filter when `RUST_LOG` is unset.
const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn,tower_http=warn,opentelemetry=warn";

/// Installs the global subscriber: log lines on stderr (`RUST_LOG` filters;
/// text or JSON, coloured only when stderr is a terminal) and, given
/// `traces`, the export of spans (with a filter of its own). Statement spans
/// stay out of the logs. Later calls are ignored (tests start many servers).
pub fn init_logging(format: LogFormat, traces: Option<&Telemetry>) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let no_statements = filter_fn(|meta| !telemetry::is_statement_span(meta));
    let logs = log_layer(format).with_filter(filter.and(no_statements));
    let _ = tracing_subscriber::registry()
        .with(logs)
        .with(traces.map(Telemetry::layer))
        .try_init();
}

fn log_layer(format: LogFormat) -> Box<dyn Layer<Registry> + Send + Sync> {
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    match format {
        LogFormat::Text => fmt::layer().with_ansi(colour).with_writer(std::io::stderr).boxed(),
        LogFormat::Json => fmt::layer()
            .json()
            .with_current_span(true)
            .with_writer(std::io::stderr)
            .boxed(),
    }
}
