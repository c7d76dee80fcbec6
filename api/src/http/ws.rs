//! `/graphql/ws`: GraphQL subscriptions over `graphql-transport-ws` (and the
//! older `graphql-ws`), authenticated in `connection_init` with the same
//! token rules as HTTP. The token goes in the init payload as
//! `{"Authorization": "Bearer <token>"}` (also accepted: `authorization`,
//! `token`, `accessToken`, or `headers.Authorization`). A missing or refused
//! token closes the socket with 4403, and so does the token's expiry later
//! (clients reconnect with a fresh token; graphql-ws retries on 4403). When
//! the server shuts down, every open socket is closed with 1001 (going away)
//! so that shutdown never waits for them. A message larger than
//! `SCREENPLAY_BODY_LIMIT` closes the socket with 1009.

use std::{
    net::SocketAddr,
    sync::{
        Arc, OnceLock,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, SystemTime},
};

use async_graphql::{
    Data,
    http::{ALL_WEBSOCKET_PROTOCOLS, WebSocketProtocols, WsMessage},
};
use axum::{
    extract::{
        ConnectInfo, State, WebSocketUpgrade,
        ws::{CloseFrame, Message, WebSocket},
    },
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use futures::{SinkExt, StreamExt};

use super::{graphql::request_context, state::HttpState};
use crate::{
    auth,
    error::ErrorCode,
    graphql::SocketSlots,
    request::{RequestMeta, begin_as},
    state::SharedState,
};

/// How long a client has to send `connection_init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// WebSocket ping interval, so that idle subscriptions survive proxies and
/// load balancers that drop quiet connections.
const KEEPALIVE: Duration = Duration::from_secs(30);

pub async fn graphql_ws(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let protocol = headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .and_then(|list| {
            list.split(',')
                .find_map(|p| p.trim().parse::<WebSocketProtocols>().ok())
        });
    let Some(protocol) = protocol else {
        return (
            StatusCode::BAD_REQUEST,
            "Sec-WebSocket-Protocol must be graphql-transport-ws (or graphql-ws)",
        )
            .into_response();
    };
    let (_, meta) = request_context(&state, peer, &headers).await;
    // A message is bounded like a request body.
    let max_message = state.app.config.http.body_limit;
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .max_message_size(max_message)
        .max_frame_size(max_message)
        .on_upgrade(move |socket| serve(socket, state, protocol, meta))
}

/// The token of a `connection_init` payload.
fn init_token(payload: &serde_json::Value) -> Option<String> {
    let field = |v: &serde_json::Value| -> Option<String> {
        ["Authorization", "authorization", "token", "accessToken"]
            .iter()
            .find_map(|k| v.get(*k).and_then(|t| t.as_str()))
            .map(|t| auth::bearer_token(t).unwrap_or(t).trim().to_owned())
    };
    field(payload).or_else(|| payload.get("headers").and_then(field))
}

async fn serve(socket: WebSocket, state: HttpState, protocol: WebSocketProtocols, meta: RequestMeta) {
    let (mut sink, stream) = socket.split();
    // A message over the limit ends the input; the socket then closes with 1009.
    let too_big = Arc::new(AtomicBool::new(false));
    let seen_too_big = too_big.clone();
    let input = stream
        .take_while(move |res| {
            if let Err(err) = res {
                seen_too_big.store(err.to_string().contains("too long"), Ordering::Relaxed);
            }
            futures::future::ready(res.is_ok())
        })
        .filter_map(|msg| {
            futures::future::ready(match msg {
                Ok(Message::Text(text)) => Some(text.as_str().as_bytes().to_vec()),
                Ok(Message::Binary(bytes)) => Some(bytes.to_vec()),
                _ => None,
            })
        });
    let app = state.app.clone();
    // When the token of the accepted connection_init expires.
    let expires: Arc<OnceLock<SystemTime>> = Arc::default();
    let init_expires = expires.clone();
    let slots = SocketSlots::new(&state.schemas);
    let mut messages = async_graphql::http::WebSocket::new(state.schemas.clone(), input, protocol)
        .on_connection_init(move |payload| accept_init(app, payload, meta, slots, init_expires));
    let shutdown = state.shutdown.clone();
    let init_deadline = tokio::time::sleep(INIT_TIMEOUT);
    tokio::pin!(init_deadline);
    let mut acknowledged = false;
    let token_expiry = tokio::time::sleep(INIT_TIMEOUT);
    tokio::pin!(token_expiry);
    let mut keepalive = tokio::time::interval_at(tokio::time::Instant::now() + KEEPALIVE, KEEPALIVE);
    loop {
        let next = tokio::select! {
            _ = keepalive.tick() => {
                if sink.send(Message::Ping(Default::default())).await.is_err() {
                    break;
                }
                continue;
            }
            _ = shutdown.clone().wait() => {
                let _ = sink.send(close(1001, "server shutting down")).await;
                break;
            }
            _ = &mut token_expiry, if acknowledged => {
                let _ = sink.send(close(4403, &unauthenticated("token expired"))).await;
                break;
            }
            _ = &mut init_deadline, if !acknowledged => {
                let _ = sink.send(close(4408, "connection initialisation timeout")).await;
                break;
            }
            next = messages.next() => next,
        };
        let Some(message) = next else {
            if too_big.load(Ordering::Relaxed) {
                let _ = sink
                    .send(close(1009, "message larger than SCREENPLAY_BODY_LIMIT"))
                    .await;
            }
            break;
        };
        let out = match message {
            WsMessage::Text(text) => {
                if !acknowledged && text.contains("\"connection_ack\"") {
                    acknowledged = true;
                    let left = expires
                        .get()
                        .and_then(|until| until.duration_since(SystemTime::now()).ok())
                        .unwrap_or_default();
                    token_expiry.as_mut().reset(tokio::time::Instant::now() + left);
                }
                Message::Text(text.into())
            }
            // graphql-transport-ws: a refused connection_init is 4403 Forbidden,
            // a subscribe before the handshake 4401 Unauthorized.
            WsMessage::Close(1002, reason)
                if !acknowledged && reason.starts_with(ErrorCode::Unauthenticated.as_str()) =>
            {
                close(4403, &reason)
            }
            WsMessage::Close(1011, reason) if !acknowledged => close(4401, &reason),
            WsMessage::Close(code, reason) => close(code, &reason),
        };
        let closing = matches!(out, Message::Close(_));
        if sink.send(out).await.is_err() || closing {
            break;
        }
    }
}

/// Accepts a `connection_init`: the token verifies and its principal passes
/// the check every operation makes (user enabled and in its role, sign-in
/// not revoked, platform admin present and enabled), so a revoked token never
/// gets `connection_ack`.
async fn accept_init(
    app: SharedState,
    payload: serde_json::Value,
    meta: RequestMeta,
    slots: SocketSlots,
    expires: Arc<OnceLock<SystemTime>>,
) -> async_graphql::Result<Data> {
    let Some(token) = init_token(&payload) else {
        return Err(refused(
            "send the access token in connection_init, e.g. {\"Authorization\": \"Bearer …\"}",
        ));
    };
    let (principal, until) = app.verifier.verify_until(&token).map_err(|e| refused(&e.0))?;
    match begin_as(&app.db, &principal).await {
        Ok(entry) => entry
            .tx
            .rollback()
            .await
            .map_err(|e| async_graphql::Error::new(e.to_string()))?,
        Err(err) if err.code() == ErrorCode::Unauthenticated => return Err(refused(&err.message())),
        Err(err) => return Err(async_graphql::Error::new(err.message())),
    }
    let _ = expires.set(until);
    let mut data = Data::default();
    data.insert(principal);
    data.insert(meta);
    data.insert(slots);
    Ok(data)
}

/// A close reason naming the error code, e.g. `UNAUTHENTICATED: token expired`.
fn unauthenticated(reason: &str) -> String {
    format!("{}: {reason}", ErrorCode::Unauthenticated.as_str())
}

/// A refused `connection_init` (closed with 4403).
fn refused(reason: &str) -> async_graphql::Error {
    async_graphql::Error::new(unauthenticated(reason))
}

fn close(code: u16, reason: &str) -> Message {
    // A close reason is at most 123 bytes.
    let mut reason = reason.to_owned();
    while reason.len() > 123 {
        reason.pop();
    }
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}
