//! Query depth, complexity, body size and introspection limits.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn depth_complexity_body_and_introspection_limits() {
    let app = TestApp::spawn_with(&["--anon-max-depth", "2", "--max-depth", "3", "--body-limit", "4096"]).await;
    let fx = app.tenant("limits").await;
    let depth3 = "{ me { user { id } } }";
    // Signed in: depth 3 is fine. Anonymous: limited to 2 (refused before execution).
    app.gql(Some(&fx.admin_token), depth3, json!({})).await;
    let (_, body) = app.post(None, depth3, json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED");
    let (_, body) = app
        .post(
            Some(&fx.admin_token),
            "{ me { tenant { limits { maxDocuments } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "depth 4 > 3: {body}"
    );

    let big = "x".repeat(8000);
    let resp = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": "{ health }", "variables": { "pad": big } }))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let introspection = "{ __schema { queryType { name } } }";
    assert_eq!(
        app.gql(Some(&fx.admin_token), introspection, json!({})).await["__schema"]["queryType"]["name"],
        "Query"
    );
    let closed = TestApp::spawn_with(&["--introspection", "false"]).await;
    let token = closed.platform_token();
    let (_, body) = closed.post(Some(&token), introspection, json!({})).await;
    // Disabled introspection answers nothing about the schema.
    assert!(
        body["data"]["__schema"].is_null(),
        "introspection must be refused: {body}"
    );
    let (_, body) = closed
        .post(
            Some(&token),
            "{ __type(name: \"Query\") { fields { name } } }",
            json!({}),
        )
        .await;
    assert!(body["data"]["__type"].is_null(), "{body}");
}
