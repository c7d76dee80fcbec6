//! `ingestDocuments`: splitting, hashing, embedding, skipping repeats;
//! bad input; client embeddings and their model; quotas.

use screenplay_api::auth::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{LEXICAL, chinese_story};
use crate::helpers::{
    TestApp,
    docs::{INGEST, b64, unit},
    prepared_statements, scalar_i64,
};

#[tokio::test]
async fn ingest_splits_hashes_embeds_and_skips_repeats() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("ingest").await;
    let member = app.user(&fx, Role::Member).await;
    let ws = app.workspace(&fx, "docs").await;
    let docs = json!([
        { "sourcePath": "notes/noir.md", "content": "The detective walks through the rain.", "metadata": { "act": 1 } },
        { "sourcePath": "notes/城市.txt", "content": chinese_story() },
    ]);
    let vars =
        json!({ "input": { "workspaceId": ws, "documents": docs, "chunking": { "maxChars": 100, "overlap": 0 } } });
    let first = app.gql(Some(&member.token), INGEST, vars.clone()).await["ingestDocuments"].clone();
    let chunks = first["results"][1]["chunkCount"].as_i64().expect("chunks");
    assert!(chunks >= 3, "{first:#}");
    assert_eq!(first["added"], json!(1 + chunks), "{first:#}");
    assert_eq!(first["skipped"], 0);
    assert_eq!(first["embeddingModel"], LEXICAL);
    assert!(first["embeddingTokens"].as_i64().expect("tokens") > 0);
    let rows = first["documents"].as_array().expect("documents");
    assert_eq!(rows[0]["title"], "noir.md");
    assert_eq!(rows[0]["language"], "en");
    assert_eq!(rows[0]["metadata"], json!({ "act": 1 }));
    let chinese: Vec<&Value> = rows.iter().filter(|r| r["sourcePath"] == "notes/城市.txt").collect();
    assert_eq!(chinese.len() as i64, chunks);
    for (i, row) in chinese.iter().enumerate() {
        assert_eq!(row["language"], "zh");
        assert_eq!(row["chunkIndex"], i);
        assert_eq!(row["chunkCount"], chunks);
        assert!(row["content"].as_str().expect("content").chars().count() <= 100);
        assert!(row["content"].as_str().expect("content").ends_with('。'));
    }

    // Stored with a vector, a model and the creator.
    let owner = app.owner().await;
    let stored = scalar_i64(
        &owner,
        &format!(
            "SELECT count(*) FROM screenplay.code_documents WHERE workspace_id = '{ws}' \
             AND embedding IS NOT NULL AND embedding_model = '{LEXICAL}' AND created_by = '{}'",
            member.id
        ),
    )
    .await;
    assert_eq!(stored, 1 + chunks);

    // The same call again adds nothing and names the existing rows.
    let again = app.gql(Some(&member.token), INGEST, vars).await["ingestDocuments"].clone();
    assert_eq!(again["added"], 0);
    assert_eq!(again["skipped"], json!(1 + chunks));
    assert_eq!(again["embeddingTokens"], 0);
    assert_eq!(again["results"][1]["documentIds"], first["results"][1]["documentIds"]);
    assert_eq!(again["results"][0]["skipped"], 1);

    // Usage counted in the same transactions.
    let ingested = scalar_i64(
        &owner,
        &format!(
            "SELECT coalesce(sum(value), 0)::bigint FROM screenplay.quota_usage \
             WHERE tenant_id = '{}' AND metric = 'documents_ingested'",
            fx.id
        ),
    )
    .await;
    assert_eq!(ingested, 1 + chunks);
    let tokens = scalar_i64(
        &owner,
        &format!(
            "SELECT coalesce(sum(value), 0)::bigint FROM screenplay.quota_usage \
             WHERE tenant_id = '{}' AND metric = 'embedding_tokens'",
            fx.id
        ),
    )
    .await;
    assert_eq!(tokens, first["embeddingTokens"].as_i64().expect("tokens"));
}

#[tokio::test]
async fn bad_inputs_get_bad_user_input_and_write_nothing() {
    let app = TestApp::spawn_with(&["--ingest-batch-size", "3"]).await;
    let fx = app.tenant("badin").await;
    let ws = app.workspace(&fx, "docs").await;
    let doc = |extra: Value| {
        let mut d = json!({ "sourcePath": "a.txt", "content": "Some text." });
        if let (Some(d), Some(extra)) = (d.as_object_mut(), extra.as_object()) {
            d.extend(extra.clone());
        }
        d
    };
    let mut big = vec![1e39f64; 1536];
    big[0] = 0.5;
    let long = "Sentence number one is here. ".repeat(200);
    let cases: Vec<(&str, Value, &str)> = vec![
        ("no documents", json!({ "documents": [] }), "documents"),
        (
            "too many documents",
            json!({ "documents": [doc(json!({})), doc(json!({})), doc(json!({})), doc(json!({}))] }),
            "documents",
        ),
        (
            "empty content",
            json!({ "documents": [doc(json!({ "content": "  \n " }))] }),
            "documents[0].content",
        ),
        (
            "neither content nor file",
            json!({ "documents": [{ "sourcePath": "x" }] }),
            "documents[0].content",
        ),
        (
            "empty path",
            json!({ "documents": [doc(json!({ "sourcePath": " " }))] }),
            "documents[0].sourcePath",
        ),
        (
            "bad language",
            json!({ "documents": [doc(json!({ "language": "english" }))] }),
            "documents[0].language",
        ),
        (
            "metadata not an object",
            json!({ "documents": [doc(json!({ "metadata": [1] }))] }),
            "documents[0].metadata",
        ),
        (
            "title too long",
            json!({ "documents": [doc(json!({ "title": "t".repeat(501) }))] }),
            "documents[0].title",
        ),
        (
            "embedding of the wrong size",
            json!({ "documents": [doc(json!({ "embedding": vec![0.1; 10] }))] }),
            "documents[0].embedding",
        ),
        (
            "embedding with infinite values",
            json!({ "documents": [doc(json!({ "embedding": big }))] }),
            "documents[0].embedding",
        ),
        (
            "embedding of zeros",
            json!({ "documents": [doc(json!({ "embedding": vec![0.0; 1536] }))] }),
            "documents[0].embedding",
        ),
        (
            "one embedding for many chunks",
            json!({ "documents": [doc(json!({ "content": long, "embedding": vec![0.1; 1536] }))] }),
            "documents[0].embedding",
        ),
        (
            "chunks too small",
            json!({ "documents": [doc(json!({}))], "chunking": { "maxChars": 10 } }),
            "maxChars",
        ),
        (
            "overlap too large",
            json!({ "documents": [doc(json!({}))], "chunking": { "maxChars": 200, "overlap": 150 } }),
            "overlap",
        ),
        (
            // PostgreSQL text cannot hold it; refused whole, in one piece.
            "a NUL character in the content",
            json!({ "documents": [doc(json!({})), doc(json!({ "sourcePath": "b.txt", "content": "a\u{0}b" }))] }),
            "input",
        ),
        (
            "both forms of an embedding",
            json!({ "documents": [doc(json!({ "embedding": vec![0.1; 1536], "embeddingBase64": b64(&[0.1; 1536]) }))] }),
            "documents[0].embeddingBase64",
        ),
        (
            "an embedding in base64 that is not base64",
            json!({ "documents": [doc(json!({})), doc(json!({ "sourcePath": "b", "embeddingBase64": "%%%" }))] }),
            "documents[1].embeddingBase64",
        ),
        (
            "an embedding in base64 of another size",
            json!({ "documents": [doc(json!({ "embeddingBase64": b64(&[0.1; 100]) }))] }),
            "documents[0].embeddingBase64",
        ),
        (
            "embeddings of another model mixed with server-embedded documents",
            json!({ "documents": [doc(json!({ "embedding": vec![0.1; 1536] })), doc(json!({ "content": "other" }))],
                    "embeddingModel": "client-model" }),
            "embeddingModel",
        ),
    ];
    for (what, mut input, field) in cases {
        input["workspaceId"] = json!(ws);
        let (_, body) = app.post(Some(&fx.admin_token), INGEST, json!({ "input": input })).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{what}: {body:#}"
        );
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{what}: {body:#}");
        assert!(body["data"].is_null(), "{what}");
    }
    let owner = app.owner().await;
    assert_eq!(
        scalar_i64(&owner, "SELECT count(*) FROM screenplay.code_documents").await,
        0
    );

    // Unknown and foreign workspaces are NOT_FOUND; archived ones CONFLICT.
    let other = app.tenant("other").await;
    let foreign = app.workspace(&other, "theirs").await;
    for workspace in [Uuid::new_v4(), foreign] {
        let code = app
            .gql_err(
                Some(&fx.admin_token),
                INGEST,
                json!({ "input": { "workspaceId": workspace, "documents": [doc(json!({}))] } }),
            )
            .await;
        assert_eq!(code, "NOT_FOUND");
    }
    app.gql(
        Some(&fx.admin_token),
        "mutation($id: UUID!) { archiveWorkspace(id: $id) { workspace { id } } }",
        json!({ "id": ws }),
    )
    .await;
    let code = app
        .gql_err(
            Some(&fx.admin_token),
            INGEST,
            json!({ "input": { "workspaceId": ws, "documents": [doc(json!({}))] } }),
        )
        .await;
    assert_eq!(code, "CONFLICT");
    assert_eq!(
        scalar_i64(&owner, "SELECT count(*) FROM screenplay.code_documents").await,
        0
    );
}

#[tokio::test]
async fn client_embeddings_keep_their_model_and_other_models_are_refused() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("models").await;
    let ws = app.workspace(&fx, "docs").await;
    let v = unit(3, 7, 0.5);
    let out = app
        .gql(
            Some(&fx.admin_token),
            INGEST,
            json!({ "input": { "workspaceId": ws, "embeddingModel": "text-embedding-3-small",
                    "documents": [{ "sourcePath": "a", "content": "A client-embedded note.", "embedding": v }] } }),
        )
        .await;
    assert_eq!(out["ingestDocuments"]["embeddingModel"], "text-embedding-3-small");
    assert_eq!(
        out["ingestDocuments"]["documents"][0]["embeddingModel"],
        "text-embedding-3-small"
    );
    // The stored vector is the one sent.
    let stored = stored_embedding(&app, format!("workspace_id = '{ws}'")).await;
    // Exactly: every float as sent.
    assert_eq!(stored, v);

    // A document embedded by the server (another model) is refused.
    let (_, body) = app
        .post(
            Some(&fx.admin_token),
            INGEST,
            json!({ "input": { "workspaceId": ws, "documents": [{ "sourcePath": "b", "content": "Server embedded." }] } }),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body:#}");
    assert_eq!(body["errors"][0]["extensions"]["field"], "embeddingModel");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("text-embedding-3-small")),
        "{body:#}"
    );

    // Searching with the server's model is refused with a clear error ...
    let (_, body) = app
        .post(
            Some(&fx.admin_token),
            crate::helpers::docs::SEARCH,
            json!({ "input": { "workspaceId": ws, "query": "note", "mode": "VECTOR" } }),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body:#}");
    assert_eq!(body["errors"][0]["extensions"]["field"], "embeddingModel");
    let message = body["errors"][0]["message"].as_str().expect("message");
    assert!(
        message.contains("embedded with model \"text-embedding-3-small\", not \"")
            && message.ends_with("; a workspace holds vectors of one model"),
        "{message}"
    );
    // ... and with the documents' model it works.
    let hits = app
        .search(
            &fx.admin_token,
            json!({ "workspaceId": ws, "embedding": v, "embeddingModel": "text-embedding-3-small", "mode": "VECTOR" }),
        )
        .await;
    assert_eq!(hits.len(), 1);
    assert!((hits[0]["vectorScore"].as_f64().expect("score") - 1.0).abs() < 1e-5);
}

#[tokio::test]
async fn quotas_refuse_an_ingest_before_anything_is_written() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("quota").await;
    let ws = app.workspace(&fx, "docs").await;
    const LIMITS: &str = "mutation($input: UpdateTenantInput!) { updateTenant(input: $input) { tenant { id } } }";
    app.gql(
        Some(&app.platform_token()),
        LIMITS,
        json!({ "input": { "id": fx.id, "limits": { "maxDocuments": 2 } } }),
    )
    .await;
    let three = json!([
        { "sourcePath": "a", "content": "alpha" },
        { "sourcePath": "b", "content": "beta" },
        { "sourcePath": "c", "content": "gamma" },
    ]);
    let (_, body) = app
        .post(
            Some(&fx.admin_token),
            INGEST,
            json!({ "input": { "workspaceId": ws, "documents": three } }),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "QUOTA_EXCEEDED", "{body:#}");
    assert_eq!(body["errors"][0]["extensions"]["metric"], "documents_ingested");
    let owner = app.owner().await;
    assert_eq!(
        scalar_i64(&owner, "SELECT count(*) FROM screenplay.code_documents").await,
        0
    );

    app.gql(
        Some(&app.platform_token()),
        LIMITS,
        json!({ "input": { "id": fx.id, "limits": { "maxDocuments": null, "embeddingTokensPerMonth": 5 } } }),
    )
    .await;
    let (_, body) = app
        .post(
            Some(&fx.admin_token),
            INGEST,
            json!({ "input": { "workspaceId": ws, "documents": [{ "sourcePath": "long", "content": "a fairly long text that needs more than five tokens to embed" }] } }),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "QUOTA_EXCEEDED", "{body:#}");
    assert_eq!(body["errors"][0]["extensions"]["metric"], "embedding_tokens");
    assert_eq!(
        scalar_i64(&owner, "SELECT count(*) FROM screenplay.code_documents").await,
        0
    );
}

/// An ingest's INSERT has one shape whatever its number of chunks (the
/// rows travel as one JSON value): a connection keeps one statement for
/// it, not one per batch size. One pooled connection serves the ingests
/// and then shows what it keeps prepared.
#[tokio::test]
async fn ingest_inserts_have_one_shape_whatever_their_size() {
    let app = TestApp::spawn_with_pool_size(1).await;
    let fx = app.tenant("shape").await;
    let ws = app.workspace(&fx, "docs").await;
    for count in [1, 3, 2, 5] {
        let documents: Vec<Value> = (0..count)
            .map(|i| json!({ "sourcePath": format!("{count}-{i}.md"), "content": format!("Note {i} of a batch of {count}.") }))
            .collect();
        let out = app
            .gql(
                Some(&fx.admin_token),
                INGEST,
                json!({ "input": { "workspaceId": ws, "documents": documents } }),
            )
            .await;
        assert_eq!(out["ingestDocuments"]["added"], count, "{out}");
    }
    let prepared = prepared_statements(&app, "INSERT INTO screenplay.code_documents%").await;
    assert_eq!(prepared, 1, "INSERT statements kept for 1, 3, 2 and 5 chunks");
}

/// An embedding sent as base64 of little-endian float32 (`embeddingBase64`,
/// OpenAI's `encoding_format: "base64"`) is stored exactly as the same
/// floats sent as numbers, at ingest and when a chunk is updated.
#[tokio::test]
async fn a_base64_embedding_is_stored_as_its_floats() {
    const UPDATE: &str = "mutation($input: UpdateDocumentInput!) { updateDocument(input: $input) { document { id } } }";
    let app = TestApp::spawn().await;
    let fx = app.tenant("b64ingest").await;
    let ws = app.workspace(&fx, "docs").await;
    let (v, w) = (unit(3, 7, 0.3), unit(5, 9, 1.0 / 3.0));
    let out = app
        .gql(
            Some(&fx.admin_token),
            INGEST,
            json!({ "input": { "workspaceId": ws, "embeddingModel": "m",
                    "documents": [{ "sourcePath": "a", "content": "A note.", "embedding": v },
                                  { "sourcePath": "b", "content": "B note.", "embeddingBase64": b64(&w) }] } }),
        )
        .await;
    let ids: Vec<String> = out["ingestDocuments"]["documents"]
        .as_array()
        .expect("documents")
        .iter()
        .map(|d| d["id"].as_str().expect("id").to_owned())
        .collect();
    let stored = |id: &str| stored_embedding(&app, format!("id = '{id}'"));
    assert_eq!(stored(&ids[0]).await, v);
    assert_eq!(stored(&ids[1]).await, w);
    app.gql(
        Some(&fx.admin_token),
        UPDATE,
        json!({ "input": { "id": ids[1], "embeddingBase64": b64(&v), "embeddingModel": "m" } }),
    )
    .await;
    assert_eq!(stored(&ids[1]).await, v);
}

/// The stored vector of the one chunk matching `condition`, as the owner reads it.
async fn stored_embedding(app: &TestApp, condition: String) -> Vec<f32> {
    use sea_orm::ConnectionTrait;
    let row = app
        .owner()
        .await
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            format!("SELECT embedding::text AS e FROM screenplay.code_documents WHERE {condition}"),
        ))
        .await
        .expect("query")
        .expect("row");
    serde_json::from_str(&row.try_get::<String>("", "e").expect("e")).expect("vector text")
}
