//! Bad search inputs name their field.

use serde_json::json;
use uuid::Uuid;

use crate::helpers::{
    TestApp,
    docs::{SEARCH, b64},
};

#[tokio::test]
async fn bad_search_inputs_name_their_field() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("badsearch").await;
    let ws = app.workspace(&fx, "docs").await;
    let cases = [
        (json!({ "mode": "KEYWORD" }), "query"),
        (json!({ "mode": "HYBRID", "query": "  " }), "query"),
        (json!({ "mode": "VECTOR" }), "query"),
        (json!({ "query": "x", "limit": 0 }), "limit"),
        (json!({ "query": "x", "limit": 101 }), "limit"),
        (json!({ "query": "x", "rrfK": -1 }), "rrfK"),
        (json!({ "query": "x", "rrfK": 10, "vectorWeight": 0.5 }), "rrfK"),
        (json!({ "query": "x", "vectorWeight": -0.5 }), "vectorWeight"),
        (
            json!({ "query": "x", "vectorWeight": 0, "keywordWeight": 0 }),
            "vectorWeight",
        ),
        (json!({ "query": "x", "mode": "VECTOR", "rrfK": 5 }), "rrfK"),
        (json!({ "query": "x", "candidates": 5 }), "candidates"),
        (json!({ "query": "x", "efSearch": 0 }), "efSearch"),
        (
            json!({ "query": "x", "mode": "VECTOR", "embedding": [0.1, 0.2] }),
            "embedding",
        ),
        (
            json!({ "query": "x", "mode": "VECTOR", "embedding": vec![0.0; 1536] }),
            "embedding",
        ),
        (
            json!({ "query": "x", "mode": "VECTOR", "embedding": vec![1e39; 1536] }),
            "embedding",
        ),
        (
            json!({ "query": "x", "mode": "KEYWORD", "embedding": vec![0.1; 1536] }),
            "embedding",
        ),
        (
            json!({ "mode": "VECTOR", "embedding": vec![0.1; 1536], "embeddingBase64": b64(&[0.1; 1536]) }),
            "embeddingBase64",
        ),
        (
            json!({ "mode": "VECTOR", "embeddingBase64": "not base64!" }),
            "embeddingBase64",
        ),
        (
            json!({ "mode": "VECTOR", "embeddingBase64": "AAAAAAA=" }),
            "embeddingBase64",
        ),
        (
            json!({ "mode": "VECTOR", "embeddingBase64": b64(&[0.1; 12]) }),
            "embeddingBase64",
        ),
        (
            json!({ "mode": "VECTOR", "embeddingBase64": b64(&[0.0; 1536]) }),
            "embeddingBase64",
        ),
        (
            json!({ "mode": "VECTOR", "embeddingBase64": b64(&[f32::NAN; 1536]) }),
            "embeddingBase64",
        ),
        (
            json!({ "mode": "VECTOR", "embeddingBase64": "A".repeat(1 << 20) }),
            "embeddingBase64",
        ),
        (
            json!({ "query": "x", "mode": "KEYWORD", "embeddingBase64": b64(&[0.1; 1536]) }),
            "embeddingBase64",
        ),
        (json!({ "query": "x", "embeddingModel": "m" }), "embeddingModel"),
        (
            json!({ "query": "x", "filter": { "language": "english" } }),
            "filter.language",
        ),
        (
            json!({ "query": "x", "filter": { "metadata": "act" } }),
            "filter.metadata",
        ),
        (json!({ "query": "x".repeat(10_001) }), "query"),
    ];
    for (mut input, field) in cases {
        input["workspaceId"] = json!(ws);
        let (_, body) = app
            .post(Some(&fx.admin_token), SEARCH, json!({ "input": input.clone() }))
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{input}: {body:#}"
        );
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{input}: {body:#}");
    }
    let code = app
        .gql_err(
            Some(&fx.admin_token),
            SEARCH,
            json!({ "input": { "workspaceId": Uuid::new_v4(), "query": "x" } }),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");
}
