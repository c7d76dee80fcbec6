//! `/healthz` (the process answers) and `/readyz` (the database answers and
//! its schema is current).

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use serde_json::json;

use super::state::HttpState;

pub async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

pub async fn readyz(State(state): State<HttpState>) -> impl IntoResponse {
    match state.app.db.readiness().await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ready" }))),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "reason": reason })),
        ),
    }
}
