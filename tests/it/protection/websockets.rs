//! A websocket is bounded like HTTP: operations in flight per connection
//! (`SCREENPLAY_WS_MAX_OPERATIONS`) and the size of one message
//! (`SCREENPLAY_BODY_LIMIT`).

use std::time::Duration;

use serde_json::json;

use crate::helpers::{TestApp, ws::WsClient};

const EVENTS: &str = "subscription($id: UUID!) { sessionEvents(sessionId: $id) { type } }";

#[tokio::test]
async fn a_socket_has_at_most_ws_max_operations_in_flight() {
    let app = TestApp::spawn_with(&["--ws-max-operations", "2"]).await;
    let s = app.studio("wsops").await;
    let session = app.create_session(&s.member.token, s.workspace, "Slots").await;
    let mut client = WsClient::connect(app.addr, &s.member.token).await;
    client.subscribe("1", EVENTS, json!({ "id": session })).await;
    client.subscribe("2", EVENTS, json!({ "id": session })).await;
    client.subscribe("3", EVENTS, json!({ "id": session })).await;
    let frame = client.next(Duration::from_secs(10)).await.expect("an answer");
    assert_eq!(frame["id"], "3", "{frame}");
    let error = &frame["payload"]["errors"][0];
    assert_eq!(error["extensions"]["code"], "RATE_LIMITED", "{frame}");
    assert_eq!(error["extensions"]["limit"], "ws_max_operations", "{frame}");

    // Completing one frees its slot.
    client.send(json!({ "type": "complete", "id": "1" })).await;
    client.subscribe("4", EVENTS, json!({ "id": session })).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut seen = std::collections::BTreeSet::new();
    while !seen.contains("4") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "subscription 4 never went live: {seen:?}"
        );
        app.set_outline(&s.agent.token, session, json!([])).await;
        while let Some(frame) = client.next(Duration::from_millis(300)).await {
            if frame["type"] == "complete" {
                continue;
            }
            assert_eq!(frame["type"], "next", "{frame}");
            assert!(frame["payload"].get("errors").is_none(), "{frame}");
            seen.insert(frame["id"].as_str().expect("id").to_owned());
        }
    }
    assert!(seen.contains("2"), "subscription 2 stays live: {seen:?}");
    assert!(!seen.contains("3"), "the refused operation never runs: {seen:?}");
}

#[tokio::test]
async fn a_message_over_the_body_limit_ends_the_socket() {
    let app = TestApp::spawn_with(&["--body-limit", "65536"]).await;
    let fx = app.tenant("wsbig").await;
    let mut client = WsClient::connect(app.addr, &fx.admin_token).await;
    let padding = "#".repeat(70 * 1024);
    client
        .send(json!({ "type": "subscribe", "id": "1", "payload": { "query": format!("{padding}\n{{ health }}") } }))
        .await;
    let frame = client.next(Duration::from_secs(10)).await.expect("a close frame");
    assert_eq!(frame["type"], "close", "nothing is run: {frame}");
    assert_eq!(frame["code"], 1009, "{frame}");
    // The server is fine: a new socket works.
    let mut again = WsClient::connect(app.addr, &fx.admin_token).await;
    again
        .subscribe("1", EVENTS, json!({ "id": uuid::Uuid::new_v4() }))
        .await;
    let frame = again.next(Duration::from_secs(10)).await.expect("an answer");
    assert_eq!(
        frame["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{frame}"
    );
}
