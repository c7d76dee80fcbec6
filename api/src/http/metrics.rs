//! `GET /metrics`: Prometheus metrics in text form, behind a bearer token
//! when `SCREENPLAY_METRICS_TOKEN` is set.

use axum::{
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};

use super::state::HttpState;

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Compares without leaking the token's length or prefix through timing.
fn same_token(given: &str, expected: &str) -> bool {
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub async fn metrics(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    if let Some(expected) = &state.app.config.metrics_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !same_token(given, expected.expose()) {
            let mut resp = (
                StatusCode::UNAUTHORIZED,
                "metrics need `Authorization: Bearer <SCREENPLAY_METRICS_TOKEN>`\n",
            )
                .into_response();
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return resp;
        }
    }
    let body = crate::metrics::render(
        state.app.db.pool_metrics(),
        state.app.replicas.as_deref(),
        state.app.resident_vectors.stats(),
    );
    let openmetrics = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/openmetrics-text"));
    let content_type = if openmetrics { OPENMETRICS } else { PROMETHEUS_TEXT };
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}
