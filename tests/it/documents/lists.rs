//! `documents` lists, filters and pages; `documentStatistics`.

use screenplay_api::auth::Role;
use serde_json::json;

use super::LEXICAL;
use crate::helpers::{TestApp, scalar_i64};

#[tokio::test]
async fn lists_filters_pages_and_statistics() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("list").await;
    let viewer = app.user(&fx, Role::Viewer).await;
    let ws = app.workspace(&fx, "docs").await;
    app.ingest(
        &fx.admin_token,
        ws,
        json!([
            { "sourcePath": "en/one.md", "content": "One English note.", "metadata": { "act": 1 } },
            { "sourcePath": "en/two.md", "content": "Two English notes.", "metadata": { "act": 2 } },
            { "sourcePath": "zh/三.md", "content": "第三个中文笔记。", "metadata": { "act": 1 } },
        ]),
    )
    .await;
    const LIST: &str = "query($ws: UUID!, $filter: DocumentFilter, $first: Int, $after: String) { \
        documents(workspaceId: $ws, filter: $filter, first: $first, after: $after) { totalCount \
        edges { cursor node { sourcePath language } } pageInfo { hasNextPage endCursor } } }";
    let all = app
        .gql(Some(&viewer.token), LIST, json!({ "ws": ws, "first": 2 }))
        .await;
    assert_eq!(all["documents"]["totalCount"], 3);
    assert_eq!(all["documents"]["edges"].as_array().map(Vec::len), Some(2));
    assert_eq!(all["documents"]["pageInfo"]["hasNextPage"], true);
    let rest = app
        .gql(
            Some(&viewer.token),
            LIST,
            json!({ "ws": ws, "first": 2, "after": all["documents"]["pageInfo"]["endCursor"] }),
        )
        .await;
    assert_eq!(rest["documents"]["edges"].as_array().map(Vec::len), Some(1));
    assert_eq!(rest["documents"]["pageInfo"]["hasNextPage"], false);

    for (filter, expected) in [
        (json!({ "language": "zh" }), 1),
        (json!({ "sourcePathPrefix": "en/" }), 2),
        (json!({ "metadata": { "act": 1 } }), 2),
        (json!({ "metadata": { "act": 1 }, "language": "en" }), 1),
    ] {
        let d = app
            .gql(Some(&viewer.token), LIST, json!({ "ws": ws, "filter": filter.clone() }))
            .await;
        assert_eq!(d["documents"]["totalCount"], expected, "{filter}");
        assert_eq!(
            d["documents"]["edges"].as_array().map(Vec::len),
            Some(expected),
            "{filter}"
        );
    }
    let code = app
        .gql_err(
            Some(&viewer.token),
            LIST,
            json!({ "ws": ws, "filter": { "metadata": 3 } }),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT");

    // Another tenant sees nothing of it.
    let other = app.tenant("other").await;
    let code = app.gql_err(Some(&other.admin_token), LIST, json!({ "ws": ws })).await;
    assert_eq!(code, "NOT_FOUND");
    let id = all["documents"]["edges"][0]["node"].clone();
    assert!(id.is_object());

    let stats = app
        .gql(
            Some(&viewer.token),
            "query($ws: UUID!) { documentStatistics(workspaceId: $ws) { documentCount chunkCount \
             embeddedChunkCount tokenCount totalChars languages { key chunks } embeddingModels { key chunks } \
             lastIngestedAt } }",
            json!({ "ws": ws }),
        )
        .await["documentStatistics"]
        .clone();
    assert_eq!(stats["documentCount"], 3);
    assert_eq!(stats["chunkCount"], 3);
    assert_eq!(stats["embeddedChunkCount"], 3);
    assert_eq!(
        stats["languages"],
        json!([{ "key": "en", "chunks": 2 }, { "key": "zh", "chunks": 1 }])
    );
    assert_eq!(stats["embeddingModels"], json!([{ "key": LEXICAL, "chunks": 3 }]));
    assert_eq!(
        stats["totalChars"],
        "One English note.".chars().count() + "Two English notes.".chars().count() + "第三个中文笔记。".chars().count()
    );
    assert!(stats["lastIngestedAt"].is_string());

    // The SQL function answers the DBA in psql too.
    let owner = app.owner().await;
    let n = scalar_i64(
        &owner,
        &format!("SELECT chunk_count FROM screenplay.get_document_statistics('{ws}')"),
    )
    .await;
    assert_eq!(n, 3);
}
