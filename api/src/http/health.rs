//! `/healthz` (the process answers) and `/readyz` (the database answers and
//! its schema is current; Milvus answers when it is the vector store).

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use serde_json::json;

use super::state::HttpState;

pub async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

pub async fn readyz(State(state): State<HttpState>) -> impl IntoResponse {
    let store = state.app.vectors.name();
    let ready = match state.app.db.readiness().await {
        Ok(()) => state.app.vectors.readiness().await,
        Err(reason) => Err(reason),
    };
    match ready {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ready", "vectorStore": store }))),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "reason": reason, "vectorStore": store })),
        ),
    }
}
