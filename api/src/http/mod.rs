//! The HTTP surface: routes and layers, request ids and client addresses.

pub mod client_ip;
mod graphiql;
mod graphql;
mod health;
mod metrics;
pub mod request_id;
mod state;
mod trace;
mod ws;

pub use state::HttpState;

use std::time::Duration;

use axum::{
    Router,
    http::{HeaderValue, Method, header},
    routing::get,
};
use tower::ServiceBuilder;
use tower_http::{
    compression::CompressionLayer,
    cors::{AllowOrigin, CorsLayer},
    limit::RequestBodyLimitLayer,
    request_id::{PropagateRequestIdLayer, SetRequestIdLayer},
    sensitive_headers::SetSensitiveRequestHeadersLayer,
    timeout::TimeoutLayer,
    trace::TraceLayer,
};

use request_id::{MakeUuidV7, REQUEST_ID};

use crate::{config::CorsPolicy, graphql::Schemas, runtime::ShutdownSignal, state::SharedState};

/// How much later than the request timeout the HTTP layer gives up on a request.
const TIMEOUT_BACKSTOP: Duration = Duration::from_secs(2);

/// The router with every route and layer.
pub fn router(app: SharedState, schemas: Schemas, shutdown: ShutdownSignal) -> Router {
    let http = &app.config.http;
    let timeout = http.request_timeout;
    let body_limit = http.body_limit;
    let cors = cors_layer(&http.cors);
    let state = HttpState {
        app: app.clone(),
        schemas,
        shutdown,
    };
    // The request timeout is enforced inside the operation (see
    // `graphql::lifecycle`), where the answer can be audited
    // and the transaction abandoned cleanly; this layer is the backstop
    // (a body that takes the whole timeout to arrive, say).
    let api = Router::new()
        .route("/graphql", get(graphql::get_graphql).post(graphql::post_graphql))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            timeout + TIMEOUT_BACKSTOP,
        ))
        .layer(axum::middleware::from_fn(trace::span_per_request));
    Router::new()
        .merge(api)
        // No timeout: a subscription lives as long as its socket.
        .route("/graphql/ws", get(ws::graphql_ws))
        .route("/graphiql/{file}", get(graphiql::asset))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::metrics))
        .route_layer(axum::middleware::from_fn(crate::metrics::http_layer))
        .with_state(state)
        .layer(
            ServiceBuilder::new()
                .layer(SetSensitiveRequestHeadersLayer::new([
                    header::AUTHORIZATION,
                    header::COOKIE,
                ]))
                .layer(axum::middleware::from_fn(request_id::drop_malformed))
                .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeUuidV7))
                .layer(TraceLayer::new_for_http())
                .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
                .layer(cors)
                .layer(CompressionLayer::new())
                .layer(RequestBodyLimitLayer::new(body_limit)),
        )
}

fn cors_layer(policy: &CorsPolicy) -> CorsLayer {
    let base = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, REQUEST_ID.clone()])
        .expose_headers([REQUEST_ID.clone(), header::RETRY_AFTER])
        .max_age(Duration::from_secs(600));
    match policy {
        CorsPolicy::Origins(origins) if origins.iter().any(|o| o == "*") => base.allow_origin(AllowOrigin::any()),
        CorsPolicy::Origins(origins) => {
            let list: Vec<HeaderValue> = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
            base.allow_origin(AllowOrigin::list(list))
        }
        CorsPolicy::Localhost => base.allow_origin(AllowOrigin::predicate(|origin, _| is_localhost(origin))),
    }
}

/// `http://localhost[:port]` or `http://127.0.0.1[:port]`: a development
/// server on this machine.
fn is_localhost(origin: &HeaderValue) -> bool {
    let Some(rest) = origin.to_str().ok().and_then(|o| o.strip_prefix("http://")) else {
        return false;
    };
    let host_end = rest.find(':').unwrap_or(rest.len());
    let (host, port) = rest.split_at(host_end);
    matches!(host, "localhost" | "127.0.0.1")
        && (port.is_empty() || (port.len() > 1 && port[1..].bytes().all(|b| b.is_ascii_digit())))
}
