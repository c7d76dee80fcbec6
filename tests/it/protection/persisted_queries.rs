//! Automatic persisted queries and the allow-list mode.

use serde_json::{Value, json};

use crate::helpers::TestApp;

#[tokio::test]
async fn automatic_persisted_queries_and_allow_list_mode() {
    use sha2::{Digest, Sha256};
    let app = TestApp::spawn().await;
    let query = "{ health version }";
    let hash = hex::encode(Sha256::digest(query.as_bytes()));
    let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });

    // Unknown hash: the client is told to send the query.
    let (_, _, body) = app.post_with(None, json!({ "extensions": ext }), &[]).await;
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound");
    assert_eq!(body["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_FOUND");
    // Hash and query: registered and answered.
    let (_, _, body) = app
        .post_with(None, json!({ "query": query, "extensions": ext }), &[])
        .await;
    assert_eq!(body["data"]["health"], "ok");
    // Hash only, also over GET.
    let (_, _, body) = app.post_with(None, json!({ "extensions": ext }), &[]).await;
    assert_eq!(body["data"]["health"], "ok");
    let resp = app
        .client
        .get(app.url("/graphql"))
        .query(&[("extensions", ext.to_string())])
        .send()
        .await
        .expect("get");
    assert_eq!(
        resp.json::<Value>().await.expect("json")["data"]["version"],
        env!("CARGO_PKG_VERSION")
    );
    // A hash that does not match its query is refused.
    let wrong = json!({ "persistedQuery": { "version": 1, "sha256Hash": hex::encode([0u8; 32]) } });
    let (_, _, body) = app
        .post_with(None, json!({ "query": query, "extensions": wrong }), &[])
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST");

    // Allow-list mode: only the manifest's operations run.
    let dir = std::env::temp_dir().join(format!("pq-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let manifest = dir.join("manifest.json");
    std::fs::write(
        &manifest,
        json!({ "operations": [{ "id": hash, "name": "Health", "type": "query", "body": query }] }).to_string(),
    )
    .expect("manifest");
    let strict = TestApp::spawn_with(&[
        "--persisted-queries",
        manifest.to_str().expect("path"),
        "--persisted-only",
        "true",
    ])
    .await;
    let (_, _, body) = strict.post_with(None, json!({ "extensions": ext }), &[]).await;
    assert_eq!(body["data"]["health"], "ok");
    let (_, _, body) = strict.post_with(None, json!({ "query": query }), &[]).await;
    assert_eq!(body["data"]["health"], "ok", "the manifest's text is accepted as is");
    let (_, _, body) = strict.post_with(None, json!({ "query": "{ version }" }), &[]).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_ALLOWED");
    let other =
        json!({ "persistedQuery": { "version": 1, "sha256Hash": hex::encode(Sha256::digest(b"{ version }")) } });
    let (_, _, body) = strict
        .post_with(None, json!({ "query": "{ version }", "extensions": other }), &[])
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_ALLOWED");
}
