//! Rate limits and quotas refuse before anything is written.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    TestApp,
    audit::{count, count_when, counter_sql},
};

#[tokio::test]
async fn over_limit_requests_are_refused_before_any_write() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("limited").await;
    app.gql(
        Some(&app.platform_token()),
        "mutation($i: UpdateTenantInput!) { updateTenant(input: $i) { tenant { limits { requestsPerMinute } } } }",
        json!({ "i": { "id": fx.id, "limits": { "requestsPerMinute": 5 } } }),
    )
    .await;
    let mut statuses = Vec::new();
    let mut refused_body = Value::Null;
    let mut retry_after = None;
    for i in 0..8 {
        let (status, headers, body) = app
            .post_with(
                Some(&fx.admin_token),
                json!({ "query": "mutation($i: CreateWorkspaceInput!) { createWorkspace(input: $i) { workspace { id } } }",
                        "variables": { "i": { "name": format!("R{i}"), "slug": format!("r-{i}") } } }),
                &[],
            )
            .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            refused_body = body;
            retry_after = headers
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
        }
        statuses.push(status);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count(),
        3
    );
    assert_eq!(refused_body["errors"][0]["extensions"]["code"], "RATE_LIMITED");
    let wait = refused_body["errors"][0]["extensions"]["retryAfterSeconds"]
        .as_u64()
        .expect("retryAfterSeconds");
    assert!((1..=12).contains(&wait), "{wait}");
    assert_eq!(retry_after.as_deref(), Some(wait.to_string().as_str()));
    // Refused requests wrote nothing.
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT count(*) FROM screenplay.workspaces WHERE tenant_id = '{}'",
                fx.id
            )
        )
        .await,
        5
    );
    // Other tenants are not affected.
    let other = app.tenant("free").await;
    app.gql(Some(&other.admin_token), "{ me { role } }", json!({})).await;
}

#[tokio::test]
async fn searches_that_embed_their_query_respect_the_embedding_token_limit() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("embq").await;
    let workspace = app.workspace(&fx, "Refs").await;
    app.ingest(
        &fx.admin_token,
        workspace,
        json!([{ "sourcePath": "a.md", "content": "A lighthouse keeper watches the storm." }]),
    )
    .await;
    // The month's embedding tokens are spent: a limit of 1 is already passed.
    app.gql(
        Some(&app.platform_token()),
        "mutation($i: UpdateTenantInput!) { updateTenant(input: $i) { tenant { id } } }",
        json!({ "i": { "id": fx.id, "limits": { "embeddingTokensPerMonth": 1 } } }),
    )
    .await;
    let search = "query($i: SearchDocumentsInput!) { searchDocuments(input: $i) { score } }";
    let (_, body) = app
        .post(
            Some(&fx.admin_token),
            search,
            json!({ "i": { "workspaceId": workspace, "query": "storm", "mode": "HYBRID" } }),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "QUOTA_EXCEEDED", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["metric"], "embedding_tokens");
    // Keyword search embeds nothing and still works.
    let data = app
        .gql(
            Some(&fx.admin_token),
            search,
            json!({ "i": { "workspaceId": workspace, "query": "storm", "mode": "KEYWORD" } }),
        )
        .await;
    assert_eq!(data["searchDocuments"].as_array().expect("hits").len(), 1);
}

/// Each aliased `searchDocuments` is a request for the rate limit and a
/// search for the quota: aliasing does not multiply what a tenant may do.
#[tokio::test]
async fn aliased_searches_count_one_by_one() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("aliased").await;
    let workspace = app.workspace(&fx, "Refs").await;
    app.gql(
        Some(&app.platform_token()),
        "mutation($i: UpdateTenantInput!) { updateTenant(input: $i) { tenant { id } } }",
        json!({ "i": { "id": fx.id, "limits": { "requestsPerMinute": 6 } } }),
    )
    .await;
    let searches = |n: usize| {
        let fields: String = (0..n)
            .map(|i| {
                format!(
                    "s{i}: searchDocuments(input: {{workspaceId: $w, query: \"storm\", mode: KEYWORD}}) {{ score }} "
                )
            })
            .collect();
        format!("query($w: UUID!) {{ {fields} }}")
    };
    let w = json!({ "w": workspace });
    // Seven searches in one operation are over a limit of six a minute.
    let (status, body) = app.post(Some(&fx.admin_token), &searches(7), w.clone()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED");
    // Five fit (the refused seven took nothing); then two more do not.
    let data = app.gql(Some(&fx.admin_token), &searches(5), w.clone()).await;
    assert!(data["s4"].is_array());
    let (status, _) = app.post(Some(&fx.admin_token), &searches(2), w.clone()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // The five searches were counted as five against the search quota.
    let sql = counter_sql(fx.id, "search_queries");
    assert_eq!(count_when(&app, &sql, |n| n >= 5).await, 5);
}
