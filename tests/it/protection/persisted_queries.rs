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
    // Hash and query from an anonymous caller: answered, not registered.
    let (_, _, body) = app
        .post_with(None, json!({ "query": query, "extensions": ext }), &[])
        .await;
    assert_eq!(body["data"]["health"], "ok");
    let (_, _, body) = app.post_with(None, json!({ "extensions": ext }), &[]).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_FOUND");
    assert_eq!(app.state.persisted.cached_bytes(), 0);
    // From a signed-in caller: registered, then anyone may use the hash.
    let fx = app.tenant("apq").await;
    let (_, _, body) = app
        .post_with(Some(&fx.admin_token), json!({ "query": query, "extensions": ext }), &[])
        .await;
    assert_eq!(body["data"]["health"], "ok");
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

/// The APQ cache holds at most its byte budget, and no query larger than the
/// per-query cap, whoever sends them.
#[tokio::test]
async fn the_apq_cache_is_bounded_in_bytes() {
    use sha2::{Digest, Sha256};
    let app = TestApp::spawn_with(&["--apq-max-query-bytes", "2048", "--apq-cache-bytes", "8192"]).await;
    let fx = app.tenant("apq-bytes").await;
    let send = |query: String| {
        let hash = hex::encode(Sha256::digest(query.as_bytes()));
        let body = json!({ "query": query, "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } } });
        let token = fx.admin_token.clone();
        let app = &app;
        async move { app.post_with(Some(&token), body, &[]).await.2 }
    };
    // Larger than the cap: answered, not registered.
    let big = format!("#{}\n{{ health }}", "x".repeat(4096));
    assert_eq!(send(big).await["data"]["health"], "ok");
    assert_eq!(app.state.persisted.cached_bytes(), 0);
    // Forty 1.5 KiB queries: the cache stays within 8 KiB, the newest kept.
    let mut hashes = Vec::new();
    for i in 0..40 {
        let query = format!("#{i:04}{}\n{{ health }}", "y".repeat(1500));
        hashes.push(hex::encode(Sha256::digest(query.as_bytes())));
        assert_eq!(send(query).await["data"]["health"], "ok");
        assert!(
            app.state.persisted.cached_bytes() <= 8192,
            "{}",
            app.state.persisted.cached_bytes()
        );
    }
    assert!(app.state.persisted.cached_bytes() > 4096);
    assert!(app.state.persisted.lookup(&hashes[39]).is_some(), "the newest is kept");
    assert!(
        app.state.persisted.lookup(&hashes[0]).is_none(),
        "the oldest is evicted"
    );
}
