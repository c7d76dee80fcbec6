//! Traces: with `OTEL_EXPORTER_OTLP_ENDPOINT` set, the real binary exports
//! its spans over OTLP to a collector run by the test. The GraphQL HTTP
//! request's span continues the caller's `traceparent`, the operation's
//! span is inside it, and every SQL statement (DataLoader batches too) has
//! a span inside the operation's. The tracer is process-wide, so the server
//! runs as a subprocess.

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use serde_json::{Value, json};

use crate::{
    dataloaders::seed,
    helpers::{
        TestApp, TestDb,
        collector::{Collector, ReceivedSpan},
        process::ServerProcess,
    },
};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN_ID: &str = "00f067aa0ba902b7";

/// Sessions and, through a DataLoader, their outlines.
const QUERY: &str = "query SessionOutlines { sessions(first: 5) { edges { node { title outline { title } } } } }";

#[tokio::test]
async fn an_operation_and_its_statements_are_exported_in_the_callers_trace() {
    let db = TestDb::create().await;
    let app = TestApp::spawn_on(db.clone(), &[]).await;
    let fx = app.tenant("traces").await;
    let workspace = app.workspace(&fx, "Traced").await;
    seed(&app, fx.id, workspace, 2, 2, 0).await;
    let collector = Collector::start().await;
    let server = ServerProcess::spawn_with_args(
        &db,
        &["--no-migrate"],
        // Logs say little; traces do not follow RUST_LOG.
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.endpoint()),
            ("RUST_LOG", "warn"),
        ],
    )
    .await;
    let traceparent = format!("00-{TRACE_ID}-{CALLER_SPAN_ID}-01");
    let traced = post(&server, &fx.admin_token, Some(&traceparent)).await;
    assert_eq!(
        traced["data"]["sessions"]["edges"].as_array().map(Vec::len),
        Some(2),
        "{traced}"
    );
    post(&server, &fx.admin_token, None).await;
    // Nothing is sent before the batch delay (5 s): the spans arrive because
    // shutdown flushes them.
    assert!(server.stop().await.success());

    let spans = collector.spans();
    assert!(spans.iter().all(|s| s.service == "screenplay"), "{}", outline(&spans));
    let http = the_one(&spans, |s| s.span.name == "POST /graphql" && s.trace_id() == TRACE_ID);
    assert_eq!(http.parent_span_id(), CALLER_SPAN_ID);
    assert_eq!(http.span.kind, SpanKind::Server as i32);
    assert_eq!(http.attribute("http.response.status_code").as_deref(), Some("200"));

    let operation = the_one(&spans, |s| {
        s.span.name == "query SessionOutlines" && s.trace_id() == TRACE_ID
    });
    assert_eq!(operation.parent_span_id(), http.span_id());
    assert_eq!(
        operation.attribute("graphql.operation.name").as_deref(),
        Some("SessionOutlines")
    );
    assert_eq!(operation.attribute("graphql.operation.type").as_deref(), Some("query"));
    assert_eq!(operation.attribute("tenant_id"), Some(fx.id.to_string()));
    assert!(operation.attribute("request_id").is_some_and(|id| !id.is_empty()));

    assert_statements_inside(&spans, operation, &fx.id.to_string());

    // Without a traceparent the request starts a trace of its own.
    let untraced = the_one(&spans, |s| s.span.name == "POST /graphql" && s.trace_id() != TRACE_ID);
    assert_eq!(untraced.parent_span_id(), "");
}

/// The trace's statement spans all sit inside `operation`: the outlines'
/// DataLoader batch among them; their SQL has placeholders, not values.
fn assert_statements_inside(spans: &[ReceivedSpan], operation: &ReceivedSpan, tenant_id: &str) {
    let statements: Vec<&ReceivedSpan> = spans
        .iter()
        .filter(|s| s.trace_id() == TRACE_ID && s.attribute("db.system").as_deref() == Some("postgresql"))
        .collect();
    assert!(!statements.is_empty(), "no statement spans in:\n{}", outline(spans));
    for statement in &statements {
        assert!(
            descends_from(spans, statement, operation),
            "not inside the operation: {statement:#?}"
        );
        assert_eq!(statement.span.kind, SpanKind::Client as i32);
        assert!(statement.span.end_time_unix_nano > statement.span.start_time_unix_nano);
    }
    let sql: Vec<String> = statements.iter().filter_map(|s| s.attribute("db.statement")).collect();
    assert!(sql.iter().any(|s| s.contains("screenplay_sessions")), "{sql:#?}");
    assert!(sql.iter().any(|s| s.contains("outline_steps")), "{sql:#?}");
    assert!(sql.iter().any(|s| s.contains("$1")), "{sql:#?}");
    assert!(sql.iter().all(|s| !s.contains(tenant_id)), "a bound value in {sql:#?}");
}

/// Whether `span`'s parent chain reaches `ancestor`.
fn descends_from(spans: &[ReceivedSpan], span: &ReceivedSpan, ancestor: &ReceivedSpan) -> bool {
    let mut parent = span.parent_span_id();
    while !parent.is_empty() {
        if parent == ancestor.span_id() {
            return true;
        }
        match spans.iter().find(|s| s.span_id() == parent) {
            Some(next) => parent = next.parent_span_id(),
            None => return false,
        }
    }
    false
}

fn the_one(spans: &[ReceivedSpan], matches: impl Fn(&ReceivedSpan) -> bool) -> &ReceivedSpan {
    let found: Vec<&ReceivedSpan> = spans.iter().filter(|s| matches(s)).collect();
    assert_eq!(found.len(), 1, "{found:#?}\nof:\n{}", outline(spans));
    found[0]
}

async fn post(server: &ServerProcess, token: &str, traceparent: Option<&str>) -> Value {
    let mut request = reqwest::Client::new()
        .post(server.url("/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": QUERY }));
    if let Some(traceparent) = traceparent {
        request = request.header("traceparent", traceparent);
    }
    let response = request.send().await.expect("request");
    assert!(response.status().is_success());
    let body: Value = response.json().await.expect("json");
    assert!(body.get("errors").is_none(), "{body}");
    body
}

/// One line per span, for failure messages.
fn outline(spans: &[ReceivedSpan]) -> String {
    spans
        .iter()
        .map(|s| {
            let sql = s.attribute("db.statement").unwrap_or_default();
            format!(
                "{} {} <- {} {:?} {sql}",
                s.trace_id(),
                s.span_id(),
                s.parent_span_id(),
                s.span.name
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Only http/protobuf is built in: asked for another protocol, `serve`
/// stops at start and says so, rather than sending what the collector's
/// port does not speak.
#[tokio::test]
async fn another_otlp_protocol_stops_serve_at_start() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_screenplay"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        // Never reached: the exporter is checked first.
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .kill_on_drop(true)
        .output()
        .await
        .expect("run screenplay serve");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("OTEL_EXPORTER_OTLP_PROTOCOL=grpc"), "{stderr}");
    assert!(stderr.contains("http/protobuf"), "{stderr}");
}
