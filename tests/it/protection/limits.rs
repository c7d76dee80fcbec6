//! Query depth, complexity, body size and introspection limits.

use reqwest::StatusCode;
use screenplay_api::auth::Role;
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

/// A list's children count once per row it may return, so the page size is
/// part of the cost, and nested pages multiply.
#[tokio::test]
async fn page_sizes_multiply_the_cost() {
    let app = TestApp::spawn_with(&["--max-complexity", "400"]).await;
    let fx = app.tenant("pages").await;
    let page = |first: u32| format!("{{ workspaces(first: {first}) {{ edges {{ node {{ id name slug }} }} }} }}");
    // 10 rows × (edges + node + 3 fields) ≈ 51: fine; 100 rows ≈ 501: too much.
    app.gql(Some(&fx.admin_token), &page(10), json!({})).await;
    let (_, body) = app.post(Some(&fx.admin_token), &page(100), json!({})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "{body}"
    );
    assert_eq!(body["errors"][0]["message"], "Query is too complex.");
    // Nested pages multiply: 10 sessions × 10 fragments is over 400 even
    // though each page alone is small.
    let nested =
        "{ sessions(first: 10) { edges { node { fragments(first: 10) { edges { node { id content } } } } } } }";
    let (_, body) = app.post(Some(&fx.admin_token), nested, json!({})).await;
    assert_eq!(body["errors"][0]["message"], "Query is too complex.", "{body}");
    let small = "{ sessions(first: 2) { edges { node { fragments(first: 2) { edges { node { id content } } } } } } }";
    app.gql(Some(&fx.admin_token), small, json!({})).await;
}

/// `SCREENPLAY_LIMITS` sets limits per role.
#[tokio::test]
async fn limits_are_set_per_role() {
    let app = TestApp::spawn_with(&[
        "--limits",
        r#"{"viewer": {"max_root_fields": 1}, "signed_in": {"max_aliases": 3}}"#,
    ])
    .await;
    let fx = app.tenant("roles").await;
    let viewer = app.user(&fx, Role::Viewer).await;
    let two_roots = "{ me { role } health }";
    let (_, body) = app.post(Some(&viewer.token), two_roots, json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["limit"], "max_root_fields", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["max"], 1);
    app.gql(Some(&fx.admin_token), two_roots, json!({})).await;
    let aliases = "{ me { a: role b: role c: role d: role } }";
    let (_, body) = app.post(Some(&fx.admin_token), aliases, json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["limit"], "max_aliases", "{body}");
    // A refused operation is audited like any other request error.
    let (_, headers, _) = app
        .post_with(Some(&fx.admin_token), json!({ "query": aliases }), &[])
        .await;
    let request_id = headers["x-request-id"].to_str().expect("id").to_owned();
    let codes = crate::helpers::audit::count_when(
        &app,
        &format!(
            "SELECT count(*) FROM screenplay.audit_logs WHERE request_id = '{request_id}' \
             AND error_codes = ARRAY['GRAPHQL_VALIDATION_FAILED']"
        ),
        |n| n == 1,
    )
    .await;
    assert_eq!(codes, 1);
}
