//! OpenTelemetry traces over OTLP/HTTP, for operators. On when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`)
//! is set; otherwise none of this runs. Exported: a span per GraphQL HTTP
//! request (continuing the caller's W3C `traceparent`), per operation and
//! per SQL statement (sea-orm's `tracing-spans`), with warnings and errors
//! inside them as span events. `docs/operations.md` lists the variables.

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;
use axum::http::HeaderMap;
use opentelemetry::{
    Context, KeyValue,
    propagation::TextMapPropagator,
    trace::{Status, TraceContextExt, TracerProvider as _},
};
use opentelemetry_http::HeaderExtractor;
use opentelemetry_otlp::SpanExporter;
use opentelemetry_sdk::{
    Resource,
    propagation::TraceContextPropagator,
    resource::{EnvResourceDetector, TelemetryResourceDetector},
    runtime,
    trace::{SdkTracerProvider, span_processor_with_async_runtime::BatchSpanProcessor},
};
use tracing::{Metadata, Span, Subscriber};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{
    EnvFilter, Layer,
    filter::{FilterExt, dynamic_filter_fn},
    registry::LookupSpan,
};

/// Set once the exporting layer is made: the HTTP span exists only then.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// `service.name` unless `OTEL_SERVICE_NAME` or `OTEL_RESOURCE_ATTRIBUTES` say otherwise.
const DEFAULT_SERVICE_NAME: &str = "screenplay";

/// What is exported, whatever `RUST_LOG` says: our spans and sea-orm's
/// statement spans, and warnings and errors inside them. Never the
/// exporter's own crates: their spans would be exported in turn.
const TRACE_FILTER: &str = "warn,screenplay_api=info,sea_orm=info,opentelemetry=off,hyper=off,h2=off,reqwest=off";

/// The target of sea-orm's statement spans.
const STATEMENT_SPAN_TARGET: &str = "sea_orm::database";

/// The OTLP exporter and its batch processor, from `serve` until shutdown.
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Telemetry {
    /// The exporter the environment asks for; `None` without an endpoint,
    /// with `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`.
    pub fn from_env() -> anyhow::Result<Option<Self>> {
        if !requested() {
            return Ok(None);
        }
        check_protocol()?;
        // Endpoint, headers, timeout and compression come from the standard
        // variables; the processor batches on the tokio runtime (OTEL_BSP_*).
        let exporter = SpanExporter::builder()
            .with_http()
            .build()
            .context("the OTLP trace exporter (OTEL_EXPORTER_OTLP_*)")?;
        let processor = BatchSpanProcessor::builder(exporter, runtime::Tokio).build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_resource(resource())
            .build();
        Ok(Some(Self { provider }))
    }

    /// The layer that turns `tracing` spans into exported ones, with its own
    /// filter ([`TRACE_FILTER`]). Statement spans are kept only inside
    /// another span: background upkeep would otherwise start a trace per statement.
    pub fn layer<S>(&self) -> impl Layer<S> + use<S>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        ENABLED.store(true, Ordering::Relaxed);
        let inside_a_span = dynamic_filter_fn(|meta, cx| !is_statement_span(meta) || cx.lookup_current().is_some());
        tracing_opentelemetry::layer()
            .with_tracer(self.provider.tracer(DEFAULT_SERVICE_NAME))
            // Source paths say nothing a span's name does not (sea-orm's
            // would be this machine's cargo registry): a third of the bytes.
            .with_location(false)
            .with_threads(false)
            .with_filter(EnvFilter::new(TRACE_FILTER).and(inside_a_span))
    }

    /// Exports what is still queued and stops the exporter.
    pub async fn shutdown(self) {
        // The processor waits for its task on the runtime: not on a runtime thread.
        let provider = self.provider;
        match tokio::task::spawn_blocking(move || provider.shutdown()).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::warn!(error = %err, "traces: the last export failed"),
            Err(err) => tracing::warn!(error = %err, "traces: shutting the exporter down failed"),
        }
    }
}

/// Whether spans are exported (a layer was made).
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// A span of sea-orm's `tracing-spans` feature: one per SQL statement
/// (and BEGIN, COMMIT, ROLLBACK). Logs leave them out; traces keep them.
pub fn is_statement_span(meta: &Metadata<'_>) -> bool {
    meta.is_span() && meta.target().starts_with(STATEMENT_SPAN_TARGET)
}

/// Makes `span` continue the caller's trace when `headers` carry a valid
/// W3C `traceparent` (and `tracestate`); otherwise it starts its own.
pub fn continue_trace(span: &Span, headers: &HeaderMap) {
    let parent = TraceContextPropagator::new().extract_with_context(&Context::new(), &HeaderExtractor(headers));
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

/// Renames the exported span, once what it is becomes known.
pub fn set_name(span: &Span, name: String) {
    if enabled() {
        span.context().span().update_name(name);
    }
}

/// Attributes that only the exported span carries (logs have their own fields).
pub fn set_attributes(span: &Span, attributes: impl IntoIterator<Item = KeyValue>) {
    if enabled() {
        for attribute in attributes {
            span.set_attribute(attribute.key, attribute.value);
        }
    }
}

/// Marks the exported span as failed.
pub fn set_error(span: &Span, description: String) {
    if enabled() {
        span.set_status(Status::error(description));
    }
}

fn requested() -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    let is = |name: &str, value: &str| std::env::var(name).is_ok_and(|v| v.trim().eq_ignore_ascii_case(value));
    (set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") || set("OTEL_EXPORTER_OTLP_ENDPOINT"))
        && !is("OTEL_SDK_DISABLED", "true")
        && !is("OTEL_TRACES_EXPORTER", "none")
}

/// Only OTLP over HTTP with protobuf is built in; the exporter would
/// quietly use it for any other protocol, so a different one is refused.
fn check_protocol() -> anyhow::Result<()> {
    for name in ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"] {
        match std::env::var(name).map(|v| v.trim().to_owned()) {
            Ok(v) if v.is_empty() => continue,
            Ok(v) if v == "http/protobuf" => return Ok(()),
            Ok(v) => anyhow::bail!(
                "{name}={v}: traces are sent as http/protobuf only (a collector's OTLP/HTTP port, usually 4318)"
            ),
            Err(_) => continue,
        }
    }
    Ok(())
}

/// `service.name` = `OTEL_SERVICE_NAME`, else `service.name` in
/// `OTEL_RESOURCE_ATTRIBUTES`, else `screenplay`; plus the SDK's attributes.
fn resource() -> Resource {
    let builder = Resource::builder_empty()
        .with_service_name(DEFAULT_SERVICE_NAME)
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .with_detectors(&[
            Box::new(TelemetryResourceDetector),
            Box::new(EnvResourceDetector::new()),
        ]);
    match std::env::var("OTEL_SERVICE_NAME") {
        Ok(name) if !name.trim().is_empty() => builder.with_service_name(name),
        _ => builder,
    }
    .build()
}
