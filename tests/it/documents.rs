//! Document ingestion, changes, deletion, lists and statistics through the
//! real API, and `screenplay ingest` as a real process.

use screenplay_api::auth::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    TestApp,
    docs::{INGEST, unit},
    scalar_i64,
};

const LEXICAL: &str = "screenplay-lexical-v1";

fn chinese_story() -> String {
    ["一", "二", "三", "四", "五", "六"]
        .iter()
        .map(|n| format!("第{n}夜，夜色笼罩着整座城市，侦探沿着湿漉漉的街道慢慢前行。他在寻找一个失踪多年的证人。\n\n"))
        .collect()
}

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
    let owner = app.owner().await;
    let stored: Vec<f32> = {
        use sea_orm::ConnectionTrait;
        let row = owner
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                format!("SELECT embedding::text AS e FROM screenplay.code_documents WHERE workspace_id = '{ws}'"),
            ))
            .await
            .expect("query")
            .expect("row");
        let text: String = row.try_get("", "e").expect("e");
        serde_json::from_str(&text).expect("vector text")
    };
    assert!(stored.iter().zip(&v).all(|(a, b)| (a - b).abs() < 1e-6));

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

/// A GraphQL multipart request (the spec's `operations`, `map` and files).
async fn multipart(app: &TestApp, token: &str, operations: Value, files: &[(&str, &str, &[u8])]) -> Value {
    let boundary = "screenplay-test-boundary-7f3a";
    let mut body: Vec<u8> = Vec::new();
    let mut part = |name: &str, filename: Option<&str>, content: &[u8]| {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match filename {
            Some(f) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n\
                     Content-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => {
                body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes())
            }
        }
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    };
    part("operations", None, operations.to_string().as_bytes());
    let map: serde_json::Map<String, Value> = files
        .iter()
        .enumerate()
        .map(|(i, (path, _, _))| (i.to_string(), json!([path])))
        .collect();
    part("map", None, Value::Object(map).to_string().as_bytes());
    for (i, (_, filename, content)) in files.iter().enumerate() {
        part(&i.to_string(), Some(filename), content);
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let resp = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(token)
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(body)
        .send()
        .await
        .expect("request");
    resp.json().await.expect("json")
}

#[tokio::test]
async fn files_upload_through_the_graphql_multipart_request_spec() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("upload").await;
    let ws = app.workspace(&fx, "docs").await;
    let operations = json!({
        "query": INGEST,
        "variables": { "input": { "workspaceId": ws, "documents": [
            { "sourcePath": "scripts/opening.fountain", "file": null },
            { "sourcePath": "notes/剧本.md", "file": null, "language": "zh" },
        ] } },
    });
    let fountain = b"INT. WAREHOUSE - NIGHT\n\nRain hammers the roof. MAYA steps out of the shadows.\n";
    let chinese = "内景 仓库 夜\n\n雨水敲打着屋顶，玛雅从阴影中走出。".as_bytes();
    let body = multipart(
        &app,
        &fx.admin_token,
        operations.clone(),
        &[
            ("variables.input.documents.0.file", "opening.fountain", fountain),
            ("variables.input.documents.1.file", "剧本.md", chinese),
        ],
    )
    .await;
    assert!(body.get("errors").is_none(), "{body:#}");
    let out = &body["data"]["ingestDocuments"];
    assert_eq!(out["added"], 2, "{body:#}");
    assert_eq!(
        out["documents"][0]["content"],
        std::str::from_utf8(fountain).expect("utf8").trim()
    );
    assert_eq!(out["documents"][1]["language"], "zh");

    // A binary upload is refused, naming the field.
    let operations = json!({
        "query": INGEST,
        "variables": { "input": { "workspaceId": ws, "documents": [{ "sourcePath": "x.png", "file": null }] } },
    });
    let body = multipart(
        &app,
        &fx.admin_token,
        operations,
        &[("variables.input.documents.0.file", "x.png", b"\x89PNG\r\n\x1a\n\0\0\0")],
    )
    .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body:#}");
    assert_eq!(body["errors"][0]["extensions"]["field"], "documents[0].file");
}

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

#[tokio::test]
async fn the_ingest_command_reads_folders_with_progress_and_a_summary() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("cli").await;
    let ws = app.workspace(&fx, "docs").await;
    let dir = std::env::temp_dir().join(format!("screenplay-ingest-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(dir.join("scenes")).expect("mkdir");
    std::fs::create_dir_all(dir.join(".git")).expect("mkdir");
    std::fs::write(dir.join("notes.md"), "# Notes\n\nThe detective waits in the rain.").expect("write");
    std::fs::write(
        dir.join("scenes/opening.fountain"),
        "INT. 仓库 - 夜\n\n雨水敲打着屋顶。",
    )
    .expect("write");
    std::fs::write(dir.join("scenes/tool.rs"), "fn main() { println!(\"hi\"); }").expect("write");
    std::fs::write(dir.join(".git/config"), "[core]").expect("write");
    std::fs::write(dir.join("image.png"), b"\x89PNG\0\0").expect("write");
    let run = |paths: Vec<std::path::PathBuf>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_screenplay"));
        cmd.arg("ingest")
            .arg("--workspace")
            .arg(ws.to_string())
            .args(paths)
            .env("DATABASE_URL", &app.db.app_url)
            .env("SCREENPLAY_MIGRATION_DATABASE_URL", &app.db.owner_url)
            .env("RUST_LOG", "warn")
            .env_remove("SCREENPLAY_EMBEDDING_URL");
        cmd.output().expect("run screenplay ingest")
    };
    let out = run(vec![dir.clone(), dir.join("image.png")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "a failed file fails the run: {stdout}");
    assert!(stdout.contains("3 file(s) ingested"), "{stdout}");
    assert!(stdout.contains("3 chunk(s) added, 0 skipped"), "{stdout}");
    assert!(stdout.contains("image.png: binary file"), "{stdout}");
    let owner = app.owner().await;
    assert_eq!(
        scalar_i64(
            &owner,
            &format!(
                "SELECT count(*) FROM screenplay.code_documents WHERE workspace_id = '{ws}' AND created_by IS NULL \
                 AND embedding IS NOT NULL"
            )
        )
        .await,
        3
    );
    let zh = scalar_i64(
        &owner,
        &format!(
            "SELECT count(*) FROM screenplay.code_documents WHERE workspace_id = '{ws}' AND language = 'zh' \
             AND source_path LIKE '%opening.fountain'"
        ),
    )
    .await;
    assert_eq!(zh, 1);

    // Again: everything is already there.
    let out = run(vec![dir.clone()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("0 chunk(s) added, 3 skipped"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}
