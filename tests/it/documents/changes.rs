//! `updateDocument` and `deleteDocuments`.

use serde_json::json;
use uuid::Uuid;

use crate::helpers::{TestApp, scalar_i64};

#[tokio::test]
async fn update_and_delete_documents() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("upd").await;
    let ws = app.workspace(&fx, "docs").await;
    let out = app
        .ingest(
            &fx.admin_token,
            ws,
            json!([
                { "sourcePath": "a.txt", "content": "The detective waits in the rain." },
                { "sourcePath": "b.txt", "content": "The spaceship leaves orbit." },
            ]),
        )
        .await;
    let a = out["documents"][0]["id"].as_str().expect("id").to_owned();
    let b = out["documents"][1]["id"].as_str().expect("id").to_owned();
    let owner = app.owner().await;
    let vector_of = |id: String| {
        let owner = owner.clone();
        async move {
            use sea_orm::ConnectionTrait;
            let row = owner
                .query_one_raw(sea_orm::Statement::from_string(
                    sea_orm::DbBackend::Postgres,
                    format!("SELECT md5(embedding::text) AS m FROM screenplay.code_documents WHERE id = '{id}'"),
                ))
                .await
                .expect("query")
                .expect("row");
            row.try_get::<String>("", "m").expect("m")
        }
    };
    let before = vector_of(a.clone()).await;
    const UPDATE: &str = "mutation($input: UpdateDocumentInput!) { updateDocument(input: $input) { document { \
        id title content contentHash metadata language embeddingModel } } }";

    // Title and metadata: the vector stays.
    let d = app
        .gql(
            Some(&fx.admin_token),
            UPDATE,
            json!({ "input": { "id": a, "title": "Rain", "metadata": { "scene": 3 } } }),
        )
        .await;
    assert_eq!(d["updateDocument"]["document"]["title"], "Rain");
    assert_eq!(d["updateDocument"]["document"]["metadata"], json!({ "scene": 3 }));
    assert_eq!(vector_of(a.clone()).await, before);

    // New content: new hash, new vector.
    let d = app
        .gql(
            Some(&fx.admin_token),
            UPDATE,
            json!({ "input": { "id": a, "content": "The detective runs from the storm." } }),
        )
        .await;
    assert_ne!(vector_of(a.clone()).await, before);
    assert_eq!(
        d["updateDocument"]["document"]["contentHash"],
        screenplay_api::ingest::content_hash("The detective runs from the storm.")
    );
    // Keyword search sees the new text (the generated tsvector follows).
    let hits = app
        .search(
            &fx.admin_token,
            json!({ "workspaceId": ws, "query": "storm", "mode": "KEYWORD" }),
        )
        .await;
    assert_eq!(hits.len(), 1);

    // The text of another chunk: CONFLICT; bad fields: BAD_USER_INPUT.
    let code = app
        .gql_err(
            Some(&fx.admin_token),
            UPDATE,
            json!({ "input": { "id": a, "content": "The spaceship leaves orbit." } }),
        )
        .await;
    assert_eq!(code, "CONFLICT");
    for input in [
        json!({ "id": a, "title": "" }),
        json!({ "id": a, "language": "xx-" }),
        json!({ "id": a, "embedding": [1.0, 2.0] }),
        json!({ "id": a, "content": "x".repeat(20_001) }),
    ] {
        let code = app
            .gql_err(Some(&fx.admin_token), UPDATE, json!({ "input": input }))
            .await;
        assert_eq!(code, "BAD_USER_INPUT");
    }
    let other = app.tenant("other").await;
    let code = app
        .gql_err(
            Some(&other.admin_token),
            UPDATE,
            json!({ "input": { "id": a, "title": "x" } }),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");

    // Delete: one missing id and nothing goes; then both go.
    const DELETE: &str = "mutation($ids: [UUID!]!) { deleteDocuments(ids: $ids) { deletedIds deletedCount } }";
    let code = app
        .gql_err(Some(&fx.admin_token), DELETE, json!({ "ids": [a, Uuid::new_v4()] }))
        .await;
    assert_eq!(code, "NOT_FOUND");
    let code = app
        .gql_err(Some(&other.admin_token), DELETE, json!({ "ids": [a] }))
        .await;
    assert_eq!(code, "NOT_FOUND");
    let count = |ws: Uuid| {
        let owner = owner.clone();
        async move {
            scalar_i64(
                &owner,
                &format!("SELECT count(*) FROM screenplay.code_documents WHERE workspace_id = '{ws}'"),
            )
            .await
        }
    };
    assert_eq!(count(ws).await, 2);
    let d = app.gql(Some(&fx.admin_token), DELETE, json!({ "ids": [a, b] })).await;
    assert_eq!(d["deleteDocuments"]["deletedCount"], 2);
    assert_eq!(count(ws).await, 0);
}
