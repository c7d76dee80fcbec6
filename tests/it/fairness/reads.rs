//! An operation that only read is answered before its transaction ends;
//! one that wrote (a mutation, a search that records its retrievals) only
//! after its COMMIT. A proxy holds every COMMIT the server sends for two
//! seconds, so the answers' times tell which waited.

use std::time::Duration;

use serde_json::json;
use uuid::Uuid;

use super::{RENAME, rename, timed_post, wait_unstuck};
use crate::helpers::{TestApp, TestDb, docs::SEARCH, ids, proxy::TcpProxy};

const HELD: Duration = Duration::from_secs(2);

#[tokio::test]
async fn reads_are_answered_before_their_commit_and_writes_after_it() {
    let db = TestDb::create().await;
    let mut url = url::Url::parse(&db.app_url).expect("url");
    let target = format!("127.0.0.1:{}", url.port().expect("port"))
        .parse()
        .expect("addr");
    let proxy = TcpProxy::delaying(target, b"COMMIT", HELD).await;
    url.set_port(Some(proxy.addr.port())).expect("port");
    let app = TestApp::spawn_on_url(db, url.to_string(), &[]).await;
    let fx = app.tenant("reads").await;
    let owner = app.owner().await;
    let workspace: Uuid = ids(
        &owner,
        format!(
            "INSERT INTO screenplay.workspaces (tenant_id, name, slug) VALUES ('{}', 'Reads', 'reads') RETURNING id",
            fx.id
        ),
    )
    .await[0];
    let session: Uuid = ids(
        &owner,
        format!(
            "INSERT INTO screenplay.screenplay_sessions (tenant_id, workspace_id, title) \
             VALUES ('{}', '{workspace}', 'Pilot') RETURNING id",
            fx.id
        ),
    )
    .await[0];
    let client = reqwest::Client::new();
    let graphql = app.url("/graphql");
    let post = |query: &'static str, variables: serde_json::Value| {
        let (client, graphql, token) = (&client, &graphql, &fx.admin_token);
        async move {
            let (_, _, body, took) = timed_post(client, graphql, token, query, variables).await;
            assert!(body.get("errors").is_none(), "{body}");
            took
        }
    };

    for _ in 0..3 {
        let took = post("{ me { role } workspaces { nodes { id } } }", json!({})).await;
        assert!(took < HELD / 2, "a read waited for its COMMIT: {took:?}");
    }
    let keyword = json!({ "input": { "workspaceId": workspace, "query": "rain", "mode": "KEYWORD" } });
    let took = post(SEARCH, keyword).await;
    assert!(took < HELD / 2, "a search waited for its COMMIT: {took:?}");
    // Every read's transaction ended after its answer.
    assert_eq!(
        wait_unstuck(&app, HELD * 2).await,
        (0, 0),
        "waiting / idle in transaction"
    );

    let recorded =
        json!({ "input": { "workspaceId": workspace, "query": "rain", "mode": "KEYWORD", "sessionId": session } });
    let took = post(SEARCH, recorded).await;
    assert!(
        took >= HELD,
        "a search that records answered before its COMMIT: {took:?}"
    );
    let took = post(RENAME, rename(workspace, "Renamed")).await;
    assert!(took >= HELD, "a mutation answered before its COMMIT: {took:?}");
}
