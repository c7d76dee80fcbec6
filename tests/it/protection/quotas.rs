//! Rate limits and quotas refuse before anything is written.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, audit::count};

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
