//! `POST /graphql` and `GET /graphql` (GraphiQL for browsers, queries for
//! everything else), answering per the GraphQL-over-HTTP convention: with
//! `Accept: application/graphql-response+json`, a request that fails before
//! execution (syntax, validation, refused token) gets a 4xx status; with
//! plain `application/json` every GraphQL answer is 200, except rate
//! limiting, which is 429 with `Retry-After` either way.

use std::net::SocketAddr;

use async_graphql::{ParseRequestError, http::GraphiQLSource, parser::types::OperationType};
use async_graphql_axum::GraphQLRequest;
use axum::{
    Json,
    extract::{ConnectInfo, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use serde_json::json;

use super::{client_ip, request_id, state::HttpState};
use crate::{
    auth::{self, Principal},
    error::{ErrorCode, code_of},
    graphql::extensions::operation_info,
    request::RequestMeta,
};

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// A body that is not a GraphQL request at all.
pub struct BadRequest(ParseRequestError);

impl From<ParseRequestError> for BadRequest {
    fn from(err: ParseRequestError) -> Self {
        Self(err)
    }
}

impl IntoResponse for BadRequest {
    fn into_response(self) -> Response {
        match &self.0 {
            ParseRequestError::PayloadTooLarge => {
                error_response(StatusCode::PAYLOAD_TOO_LARGE, "request body too large")
            }
            ParseRequestError::UnsupportedBatch => error_response(
                StatusCode::BAD_REQUEST,
                "batched requests are not supported; send one operation per request",
            ),
            other => error_response(StatusCode::BAD_REQUEST, &format!("not a GraphQL request: {other}")),
        }
    }
}

/// A GraphQL-shaped error body for requests that never reached GraphQL.
fn error_response(status: StatusCode, message: &str) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": ErrorCode::BadRequest.as_str() } }] });
    (status, Json(body)).into_response()
}

pub async fn post_graphql(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request: GraphQLRequest<BadRequest>,
) -> Response {
    execute(&state, peer, &headers, request.into_inner()).await
}

pub async fn get_graphql(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if uri.query().is_none_or(str::is_empty) {
        if wants_html && state.app.config.http.graphiql {
            return graphiql().into_response();
        }
        return error_response(
            StatusCode::BAD_REQUEST,
            "GET /graphql needs a `query` parameter (GraphiQL is served to browsers when enabled)",
        );
    }
    let request = match async_graphql::http::parse_query_string(uri.query().unwrap_or_default()) {
        Ok(r) => r,
        Err(e) => return BadRequest(e).into_response(),
    };
    // GET must not change anything (it is cacheable and cross-site links can trigger it).
    if let Ok(doc) = async_graphql::parser::parse_query(&request.query) {
        let op = operation_info(&doc, request.operation_name.as_deref());
        if op.operation_type == Some(OperationType::Mutation) {
            let mut resp = error_response(StatusCode::METHOD_NOT_ALLOWED, "mutations must be sent with POST");
            resp.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            return resp;
        }
    }
    execute(&state, peer, &headers, request).await
}

fn graphiql() -> Html<String> {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql/ws")
            .title("screenplay GraphiQL")
            .finish(),
    )
}

/// What the HTTP layer knows about the caller of a request.
pub async fn request_context(state: &HttpState, peer: SocketAddr, headers: &HeaderMap) -> (Principal, RequestMeta) {
    let principal = auth::principal_from_headers(&state.app.verifier, headers).await;
    let meta = RequestMeta {
        request_id: request_id::of(headers),
        client_ip: client_ip::resolve(Some(peer.ip()), headers, &state.app.config.http.trusted_proxies),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect()),
    };
    (principal, meta)
}

async fn execute(
    state: &HttpState,
    peer: SocketAddr,
    headers: &HeaderMap,
    request: async_graphql::Request,
) -> Response {
    let (principal, meta) = request_context(state, peer, headers).await;
    let schema = match principal {
        Principal::Anonymous { .. } => &state.schemas.anonymous,
        _ => &state.schemas.authenticated,
    };
    let response = schema.execute(request.data(principal).data(meta)).await;
    let graphql_response_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains(GRAPHQL_RESPONSE_JSON));
    into_http(response, graphql_response_json)
}

fn into_http(response: async_graphql::Response, graphql_response_json: bool) -> Response {
    let code = response.errors.first().map(code_of);
    let request_error = !response.errors.is_empty()
        && matches!(response.data, async_graphql::Value::Null)
        && response.errors.iter().all(|e| e.path.is_empty());
    let retry_after = response.errors.iter().find_map(|e| {
        e.extensions.as_ref().and_then(|x| match x.get("retryAfterSeconds") {
            Some(async_graphql::Value::Number(n)) => n.as_u64(),
            _ => None,
        })
    });
    let status = match (code, request_error, graphql_response_json) {
        (Some(ErrorCode::RateLimited), _, _) => StatusCode::TOO_MANY_REQUESTS,
        (Some(ErrorCode::Unauthenticated), true, true) => StatusCode::UNAUTHORIZED,
        (_, true, true) => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    };
    let content_type = if graphql_response_json {
        GRAPHQL_RESPONSE_JSON
    } else {
        "application/json"
    };
    let mut headers = response.http_headers.clone();
    let body =
        serde_json::to_vec(&response).unwrap_or_else(|_| br#"{"errors":[{"message":"internal error"}]}"#.to_vec());
    let mut resp = (status, body).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(seconds) = retry_after {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    resp.headers_mut().extend(headers.drain());
    resp
}
