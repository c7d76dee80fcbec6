//! A real graphql-transport-ws client over a real socket.

use std::{net::SocketAddr, time::Duration};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};

pub struct WsClient {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// What the server sent, as JSON; a close frame is `{"type": "close", "code", "reason"}`.
pub type Frame = Value;

impl WsClient {
    /// Opens `/graphql/ws` (graphql-transport-ws) without the handshake.
    pub async fn open(addr: SocketAddr) -> Self {
        let mut request = format!("ws://{addr}/graphql/ws")
            .into_client_request()
            .expect("request");
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
        let (socket, response) = tokio_tungstenite::connect_async(request)
            .await
            .expect("websocket connect");
        assert_eq!(
            response
                .headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok()),
            Some("graphql-transport-ws")
        );
        Self { socket }
    }

    /// Opens and completes the handshake with `token`; panics unless acknowledged.
    pub async fn connect(addr: SocketAddr, token: &str) -> Self {
        let mut client = Self::open(addr).await;
        let ack = client.init(json!({ "Authorization": format!("Bearer {token}") })).await;
        assert_eq!(ack["type"], "connection_ack", "{ack}");
        client
    }

    /// Sends `connection_init` with `payload`; returns the server's answer.
    pub async fn init(&mut self, payload: Value) -> Frame {
        self.send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        self.next(Duration::from_secs(10))
            .await
            .expect("an answer to connection_init")
    }

    pub async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
            .expect("send");
    }

    /// Starts a subscription under `id`.
    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({ "type": "subscribe", "id": id, "payload": { "query": query, "variables": variables } }))
            .await;
    }

    /// The next frame (pings answered and skipped), or `None` on timeout or end.
    pub async fn next(&mut self, wait: Duration) -> Option<Frame> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let message = tokio::time::timeout_at(deadline, self.socket.next()).await.ok()??;
            match message {
                Ok(Message::Text(text)) => {
                    let frame: Value = serde_json::from_str(text.as_str()).expect("json frame");
                    if frame["type"] == "ping" {
                        self.send(json!({ "type": "pong" })).await;
                        continue;
                    }
                    return Some(frame);
                }
                Ok(Message::Close(close)) => {
                    let (code, reason) = close
                        .map(|c| (u16::from(c.code), c.reason.to_string()))
                        .unwrap_or((1005, String::new()));
                    return Some(json!({ "type": "close", "code": code, "reason": reason }));
                }
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }

    /// The payload of the next `next` message (panics on anything else).
    pub async fn next_payload(&mut self) -> Value {
        let frame = self
            .next(Duration::from_secs(15))
            .await
            .expect("a subscription message within 15 s");
        assert_eq!(frame["type"], "next", "{frame}");
        frame["payload"].clone()
    }

    /// The next event's `sessionEvents` object (panics on errors).
    pub async fn next_event(&mut self) -> Value {
        let payload = self.next_payload().await;
        assert!(payload.get("errors").is_none(), "{payload}");
        payload["data"]["sessionEvents"].clone()
    }

    /// Nothing more arrives within `wait`.
    pub async fn assert_quiet(&mut self, wait: Duration) {
        if let Some(frame) = self.next(wait).await {
            panic!("unexpected frame: {frame}");
        }
    }
}

/// Waits until every client's subscription is live: `poke` commits a change
/// that emits an event (repeated until each client has seen one), then the
/// clients are drained until quiet. After this, nothing committed is missed.
pub async fn until_live<F, Fut>(clients: &mut [&mut WsClient], poke: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut live = vec![false; clients.len()];
    for _ in 0..60 {
        if live.iter().all(|l| *l) {
            break;
        }
        poke().await;
        for (i, client) in clients.iter_mut().enumerate() {
            if !live[i]
                && let Some(frame) = client.next(Duration::from_millis(500)).await
            {
                assert_eq!(frame["type"], "next", "{frame}");
                live[i] = true;
            }
        }
    }
    assert!(live.iter().all(|l| *l), "subscriptions never became live");
    for client in clients.iter_mut() {
        while let Some(frame) = client.next(Duration::from_millis(400)).await {
            assert_eq!(frame["type"], "next", "{frame}");
        }
    }
}
