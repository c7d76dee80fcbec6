//! A span per GraphQL HTTP request while traces are exported
//! ([`crate::telemetry`]): it continues the caller's W3C trace context, and
//! the operation's span runs inside it. Without export, nothing is made.

use axum::{extract::Request, middleware::Next, response::Response};
use tracing::{Instrument, field::Empty};

use crate::telemetry;

/// Runs the request inside its span (OpenTelemetry HTTP server conventions).
pub async fn span_per_request(request: Request, next: Next) -> Response {
    if !telemetry::enabled() {
        return next.run(request).await;
    }
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let span = tracing::info_span!(
        "HTTP request",
        otel.name = format!("{method} {path}"),
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = %method,
        http.route = %path,
        url.path = %path,
        http.response.status_code = Empty,
    );
    telemetry::continue_trace(&span, request.headers());
    let response = next.run(request).instrument(span.clone()).await;
    span.record("http.response.status_code", response.status().as_u16());
    if response.status().is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    response
}
