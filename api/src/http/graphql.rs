//! `POST /graphql` and `GET /graphql` (GraphiQL for browsers, queries for
//! everything else), per GraphQL over HTTP:
//!
//! - POST takes `application/json` (or `multipart/form-data` for uploads);
//!   any other content type is 415. A body without `query` (and without a
//!   persisted-query hash) is 400.
//! - GET never runs a mutation, however the document arrives (text or
//!   persisted hash): 405 with `Allow: POST`.
//! - A request that fails before execution (syntax, validation, persisted
//!   query) has no `data` key; with `Accept:
//!   application/graphql-response+json` it is 400, with `application/json`
//!   200.
//! - An operation refused for want of a valid token is 401 with
//!   `WWW-Authenticate: Bearer`; a rate-limited one 429 with `Retry-After`;
//!   one stopped by the request timeout (or at the end of the shutdown
//!   grace period) 408, with `TIMEOUT` in the body and `Retry-After`.

use std::net::SocketAddr;

use async_graphql::{Executor, ParseRequestError, parser::types::OperationType};
use async_graphql_axum::GraphQLRequest;
use axum::{
    Json,
    extract::{ConnectInfo, FromRequest, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::{client_ip, graphiql, request_id, state::HttpState};
use crate::{
    auth::{self, Principal},
    error::{ErrorCode, TimeoutReason, code_of},
    graphql::{lifecycle::operation_info, persisted},
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

/// The body's media type (`Content-Type` without its parameters).
fn media_type(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(value.split(';').next().unwrap_or_default().trim())
}

/// Whether a POST body of this content type can be a GraphQL request.
fn supported_content_type(headers: &HeaderMap) -> bool {
    media_type(headers).is_some_and(|m| m.eq_ignore_ascii_case("application/json") || is_multipart(m))
}

fn is_multipart(media_type: &str) -> bool {
    media_type.eq_ignore_ascii_case("multipart/form-data")
}

pub async fn post_graphql(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let headers = request.headers().clone();
    if !supported_content_type(&headers) {
        let mut response = error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the request as `Content-Type: application/json` (or multipart/form-data for uploads)",
        );
        response.headers_mut().insert(
            header::ACCEPT,
            HeaderValue::from_static("application/json, multipart/form-data"),
        );
        return response;
    }
    let (principal, meta) = request_context(&state, peer, &headers).await;
    let request = match bounded_for(&state, &principal, request).await {
        Ok(request) => request,
        Err(too_large) => return too_large,
    };
    let parsed = if media_type(&headers).is_some_and(is_multipart) {
        GraphQLRequest::<BadRequest>::from_request(request, &state)
            .await
            .map(GraphQLRequest::into_inner)
    } else {
        json_request(request).await
    };
    match parsed {
        Ok(request) => execute(&state, principal, meta, &headers, request).await,
        Err(bad) => bad.into_response(),
    }
}

/// A JSON body parsed straight into one request. async-graphql's own reader
/// accepts a batch too, through serde's untagged buffering, which parses
/// every value twice (a 1,536-float embedding costs that on each search);
/// batches are refused here anyway.
async fn json_request(request: Request) -> Result<async_graphql::Request, BadRequest> {
    let bytes = axum::body::to_bytes(request.into_body(), usize::MAX)
        .await
        .map_err(|err| {
            let mut source = std::error::Error::source(&err);
            while let Some(inner) = source {
                if inner.is::<http_body_util::LengthLimitError>() {
                    return ParseRequestError::PayloadTooLarge;
                }
                source = inner.source();
            }
            ParseRequestError::Io(std::io::Error::other(err.to_string()))
        })?;
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(ParseRequestError::UnsupportedBatch.into());
    }
    serde_json::from_slice(&bytes).map_err(|e| ParseRequestError::InvalidRequest(Box::new(e)).into())
}

/// The request, its body read within the anonymous limit when the caller
/// has no valid token (signed-in callers have the router's larger limit).
async fn bounded_for(state: &HttpState, principal: &Principal, request: Request) -> Result<Request, Response> {
    if !matches!(principal, Principal::Anonymous { .. }) {
        return Ok(request);
    }
    let limit = state.app.config.http.anon_body_limit;
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => Ok(Request::from_parts(parts, axum::body::Body::from(bytes))),
        Err(_) => Err(error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("request body too large: at most {limit} bytes without a valid token"),
        )),
    }
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
            return graphiql::page(&state);
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
    // GET must not change anything (it is cacheable and cross-site links can
    // trigger it), whether the document comes as text or as a persisted hash.
    if is_mutation(&state, &request) {
        let mut resp = error_response(StatusCode::METHOD_NOT_ALLOWED, "mutations must be sent with POST");
        resp.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return resp;
    }
    let (principal, meta) = request_context(&state, peer, &headers).await;
    execute(&state, principal, meta, &headers, request).await
}

/// The document of a request: its text, or the persisted query its hash names.
fn document_text(state: &HttpState, request: &async_graphql::Request) -> Option<String> {
    if !request.query.is_empty() {
        return Some(request.query.clone());
    }
    let hash = persisted_hash(request)?;
    state.app.persisted.lookup(&hash)
}

fn persisted_hash(request: &async_graphql::Request) -> Option<String> {
    persisted::hash_of(request).ok().flatten()
}

fn is_mutation(state: &HttpState, request: &async_graphql::Request) -> bool {
    let Some(text) = document_text(state, request) else {
        return false;
    };
    async_graphql::parser::parse_query(&text).is_ok_and(|doc| {
        operation_info(&doc, request.operation_name.as_deref()).operation_type == Some(OperationType::Mutation)
    })
}

/// What the HTTP layer knows about the caller of a request.
pub async fn request_context(state: &HttpState, peer: SocketAddr, headers: &HeaderMap) -> (Principal, RequestMeta) {
    let principal = auth::principal_from_headers(&state.app.verifier, headers);
    let meta = RequestMeta {
        request_id: request_id::of(headers),
        client_ip: client_ip::resolve(Some(peer.ip()), headers, &state.app.config.http.trusted_proxies),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect()),
        deadline: Some(tokio::time::Instant::now() + state.app.config.http.request_timeout),
    };
    (principal, meta)
}

async fn execute(
    state: &HttpState,
    principal: Principal,
    meta: RequestMeta,
    headers: &HeaderMap,
    request: async_graphql::Request,
) -> Response {
    if request.query.trim().is_empty() && persisted_hash(&request).is_none() {
        return error_response(StatusCode::BAD_REQUEST, "a GraphQL request needs `query`");
    }
    let response = state.schemas.execute(request.data(principal).data(meta)).await;
    let graphql_response_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains(GRAPHQL_RESPONSE_JSON));
    into_http(response, graphql_response_json)
}

/// A variable whose value does not parse as its type.
fn is_variable_error(err: &async_graphql::ServerError) -> bool {
    code_of(err) == ErrorCode::BadUserInput && err.extensions.as_ref().is_some_and(|x| x.get("variable").is_some())
}

/// Status for an answer: see the module's documentation.
fn status_of(response: &async_graphql::Response, request_error: bool, graphql_response_json: bool) -> StatusCode {
    let refused = matches!(response.data, async_graphql::Value::Null) && !response.errors.is_empty();
    match response.errors.first().map(code_of) {
        Some(ErrorCode::RateLimited) => StatusCode::TOO_MANY_REQUESTS,
        Some(ErrorCode::Timeout) if refused && whole_request_timed_out(response) => StatusCode::REQUEST_TIMEOUT,
        Some(ErrorCode::Unauthenticated) if refused => StatusCode::UNAUTHORIZED,
        _ if request_error && graphql_response_json => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    }
}

/// The request itself ran out of time (not one of its statements).
fn whole_request_timed_out(response: &async_graphql::Response) -> bool {
    response.errors.first().is_some_and(|e| {
        e.extensions.as_ref().is_some_and(|x| {
            matches!(x.get("reason"), Some(async_graphql::Value::String(r))
                if r == TimeoutReason::Request.as_str() || r == TimeoutReason::Shutdown.as_str())
        })
    })
}

fn into_http(response: async_graphql::Response, graphql_response_json: bool) -> Response {
    // Errors before execution (a variable that does not coerce counts as
    // one): the answer has no `data` at all.
    let request_error = !response.errors.is_empty()
        && response
            .errors
            .iter()
            .all(|e| code_of(e).is_request_error() || is_variable_error(e));
    let status = status_of(&response, request_error, graphql_response_json);
    let retry_after = response.errors.iter().find_map(|e| {
        e.extensions.as_ref().and_then(|x| match x.get("retryAfterSeconds") {
            Some(async_graphql::Value::Number(n)) => n.as_u64(),
            _ => None,
        })
    });
    let content_type = if graphql_response_json {
        GRAPHQL_RESPONSE_JSON
    } else {
        "application/json"
    };
    let mut headers = response.http_headers.clone();
    let body = if request_error {
        serde_json::to_vec(&json!({ "errors": response.errors }))
    } else {
        serde_json::to_vec(&response)
    };
    let body = body.unwrap_or_else(|_| br#"{"errors":[{"message":"internal error"}]}"#.to_vec());
    let mut resp = (status, body).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(seconds) = retry_after {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    resp.headers_mut().extend(headers.drain());
    resp
}
