//! Real files (the fixtures in `tests/data/ingest`, made by its
//! `make_fixtures.py`): PDF, DOCX, HTML, Markdown and text in GB18030, Big5
//! and UTF-16, uploaded and ingested from folders, then found by queries in
//! their own language; chunks sized in the model's tokens.

use std::path::PathBuf;

use serde_json::{Value, json};
use uuid::Uuid;

use super::upload::multipart;
use crate::helpers::{TestApp, docs::INGEST, scalar_i64};

const DOCUMENT_FIELDS: &str =
    "id chunkIndex sourcePath title content section sourceFormat sourceEncoding chunking tokenCount";

fn fixture(name: &str) -> PathBuf {
    crate::helpers::checkout().join("tests/data/ingest").join(name)
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Every chunk of a workspace with its provenance, by source path.
async fn chunks(app: &TestApp, token: &str, ws: Uuid) -> Vec<Value> {
    let query = format!(
        "query($ws: UUID!) {{ documents(workspaceId: $ws, first: 100) {{ edges {{ node {{ {DOCUMENT_FIELDS} }} }} }} }}"
    );
    let data = app.gql(Some(token), &query, json!({ "ws": ws })).await;
    data["documents"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

/// The source path of the best KEYWORD hit for `query`.
async fn top_source(app: &TestApp, token: &str, ws: Uuid, query: &str) -> String {
    let hits = app
        .search(
            token,
            json!({ "workspaceId": ws, "query": query, "mode": "KEYWORD", "limit": 3 }),
        )
        .await;
    hits.first()
        .and_then(|h| h["document"]["sourcePath"].as_str())
        .unwrap_or_else(|| panic!("no hit for {query}: {hits:?}"))
        .to_owned()
}

const FILES: [&str; 7] = [
    "lighthouse.pdf",
    "rain_notes.docx",
    "festival.html",
    "outline.md",
    "gb18030.txt",
    "big5.txt",
    "utf16.txt",
];

#[tokio::test]
async fn uploaded_files_of_every_format_are_extracted_and_found_in_their_language() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("extract").await;
    let ws = app.workspace(&fx, "refs").await;
    let documents: Vec<Value> = FILES
        .iter()
        .map(|f| json!({ "sourcePath": format!("refs/{f}"), "file": null }))
        .collect();
    let operations = json!({
        "query": INGEST,
        "variables": { "input": { "workspaceId": ws, "documents": documents } },
    });
    let bytes: Vec<Vec<u8>> = FILES.iter().map(|f| read(f)).collect();
    let paths: Vec<String> = (0..FILES.len())
        .map(|i| format!("variables.input.documents.{i}.file"))
        .collect();
    let files: Vec<(&str, &str, &[u8])> = (0..FILES.len())
        .map(|i| (paths[i].as_str(), FILES[i], bytes[i].as_slice()))
        .collect();
    let body = multipart(&app, &fx.admin_token, operations, &files).await;
    assert!(body.get("errors").is_none(), "{body:#}");

    let all = chunks(&app, &fx.admin_token, ws).await;
    let of = |file: &str| -> Vec<&Value> {
        all.iter()
            .filter(|c| c["sourcePath"] == format!("refs/{file}"))
            .collect()
    };
    let text_of = |file: &str| {
        of(file)
            .iter()
            .map(|c| c["content"].as_str().unwrap_or_default())
            .collect::<String>()
    };
    for (file, format, encoding) in [
        ("lighthouse.pdf", "pdf", Value::Null),
        ("rain_notes.docx", "docx", Value::Null),
        ("festival.html", "html", json!("UTF-8")),
        ("outline.md", "markdown", json!("UTF-8")),
        ("gb18030.txt", "text", json!("GB18030")),
        ("big5.txt", "text", json!("Big5")),
        ("utf16.txt", "text", json!("UTF-16LE")),
    ] {
        let chunks = of(file);
        assert!(!chunks.is_empty(), "{file}: no chunks in {all:#?}");
        for c in chunks {
            assert_eq!(
                (&c["sourceFormat"], &c["sourceEncoding"]),
                (&json!(format), &encoding),
                "{file}"
            );
            assert_eq!(c["chunking"], "v2 chars 2000/200", "{file}");
        }
    }

    // The text layer of both PDF pages; Word paragraphs and table cells.
    let pdf = text_of("lighthouse.pdf");
    assert!(pdf.contains("the brass lantern flickered above the harbour"), "{pdf}");
    assert!(pdf.contains("Marguerite counted the ships until dawn"), "{pdf}");
    let docx = text_of("rain_notes.docx");
    assert!(docx.contains("Inspector Hale"), "{docx}");
    let market = of("rain_notes.docx")
        .into_iter()
        .find(|c| {
            c["content"]
                .as_str()
                .unwrap_or_default()
                .contains("lanterns swung over the noodle stalls")
        })
        .expect("docx chunk");
    assert_eq!(market["section"], "Rain Scenes > Night Market");

    // HTML: the article only, its title from <title>.
    let html = text_of("festival.html");
    assert!(html.contains("paper boats drifted down the moonlit canal") && html.contains("bread & cider"));
    for hidden in [
        "SCRIPT_SHOULD",
        "NAVIGATION_SHOULD",
        "FOOTER_SHOULD",
        "NOSCRIPT_SHOULD",
        "color:red",
    ] {
        assert!(!html.contains(hidden), "{hidden} leaked into {html}");
    }
    assert_eq!(of("festival.html")[0]["title"], "Harvest Festival");

    // Markdown: headings are sections; a `#` line inside code is not one.
    let mut md = of("outline.md");
    md.sort_by_key(|c| c["chunkIndex"].as_i64());
    let film = md
        .iter()
        .find(|c| {
            c["content"]
                .as_str()
                .unwrap_or_default()
                .contains("reels of silver film")
        })
        .expect("md chunk");
    assert_eq!(film["section"], "Act One > The Projectionist");
    assert!(film["content"].as_str().unwrap_or_default().contains("# not a heading"));
    let sections: Vec<&Value> = md.iter().map(|c| &c["section"]).collect();
    assert_eq!(
        sections,
        [
            &json!("Act One"),
            &json!("Act One > The Projectionist"),
            &json!("Act Two")
        ]
    );

    // Each file is found by a query in its own language.
    for (query, file) in [
        ("brass lantern harbour", "lighthouse.pdf"),
        ("flooded railway bridge", "rain_notes.docx"),
        ("moonlit canal", "festival.html"),
        ("shuttered cinema", "outline.md"),
        ("油纸伞", "gb18030.txt"),
        ("說書先生", "big5.txt"),
        ("渡船", "utf16.txt"),
    ] {
        assert_eq!(
            top_source(&app, &fx.admin_token, ws, query).await,
            format!("refs/{file}"),
            "{query}"
        );
    }
}

#[tokio::test]
async fn a_scanned_pdf_is_refused_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("scan").await;
    let ws = app.workspace(&fx, "refs").await;
    let operations = json!({
        "query": INGEST,
        "variables": { "input": { "workspaceId": ws, "documents": [
            { "sourcePath": "notes.md", "content": "# Notes\n\nKept only if the call succeeds." },
            { "sourcePath": "scan.pdf", "file": null },
        ] } },
    });
    let scan = read("scanned.pdf");
    let body = multipart(
        &app,
        &fx.admin_token,
        operations,
        &[("variables.input.documents.1.file", "scanned.pdf", &scan)],
    )
    .await;
    let error = &body["errors"][0];
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{body:#}");
    assert_eq!(error["extensions"]["field"], "documents[1].file");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("scanned PDF") && message.contains("no text layer"),
        "{message}"
    );
    let owner = app.owner().await;
    let rows = format!("SELECT count(*) FROM screenplay.code_documents WHERE workspace_id = '{ws}'");
    assert_eq!(scalar_i64(&owner, &rows).await, 0);
}

#[tokio::test]
async fn the_ingest_command_extracts_folders_and_names_every_file_it_leaves_out() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("cli-extract").await;
    let ws = app.workspace(&fx, "refs").await;
    let dir = std::env::temp_dir().join(format!("screenplay-extract-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(dir.join("drafts")).expect("mkdir");
    for file in FILES.iter().chain(["scanned.pdf"].iter()) {
        std::fs::copy(fixture(file), dir.join(file)).expect("copy");
    }
    std::fs::write(dir.join(".gitignore"), "drafts/\n").expect("write");
    std::fs::write(dir.join("drafts/old.md"), "# Old\n\nignored draft").expect("write");
    std::fs::write(dir.join("poster.png"), b"\x89PNG\r\n\x1a\n").expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_screenplay"))
        .args(["ingest", "--workspace", &ws.to_string()])
        .arg(&dir)
        .env("DATABASE_URL", &app.db.app_url)
        .env("SCREENPLAY_MIGRATION_DATABASE_URL", &app.db.owner_url)
        .env("RUST_LOG", "warn")
        .env_remove("SCREENPLAY_EMBEDDING_URL")
        .output()
        .expect("run screenplay ingest");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "the scanned PDF fails the run: {stdout}");
    assert!(stdout.contains("7 file(s) ingested"), "{stdout}");
    for line in [
        "drafts: folder ignored by .gitignore or .ignore rules",
        ".gitignore: hidden file",
        "poster.png: unsupported file type (.png)",
        "scanned.pdf: a scanned PDF",
    ] {
        assert!(stdout.contains(line), "missing `{line}` in {stdout}");
    }
    let owner = app.owner().await;
    let encodings = format!(
        "SELECT count(DISTINCT source_encoding) FROM screenplay.code_documents WHERE workspace_id = '{ws}' \
         AND source_encoding IN ('GB18030', 'Big5', 'UTF-16LE')"
    );
    assert_eq!(scalar_i64(&owner, &encodings).await, 3);
    assert_eq!(
        top_source(&app, &fx.admin_token, ws, "老槐树下的说书人").await,
        "gb18030.txt"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A long text in English and Chinese.
fn long_text() -> String {
    let english = "The detective waited beneath the flooded railway bridge while the rain kept falling. ";
    let chinese = "侦探在雨夜里等待，老槐树下的说书人讲着旧城的故事。";
    (0..40)
        .map(|i| {
            format!(
                "Night {i}. {}\n\n第{i}夜。{}\n\n",
                english.repeat(1 + i % 3),
                chinese.repeat(1 + i % 4)
            )
        })
        .collect()
}

#[tokio::test]
async fn chunks_fit_a_tokenizer_json_model_and_count_its_tokens() {
    let path = fixture("tokenizer.json");
    let app = TestApp::spawn_with(&[
        "--embedding-tokenizer",
        path.to_str().expect("path"),
        "--chunk-tokens",
        "64",
        "--chunk-overlap-tokens",
        "8",
    ])
    .await;
    let fx = app.tenant("hf-tokens").await;
    let ws = app.workspace(&fx, "refs").await;
    let out = app
        .ingest(
            &fx.admin_token,
            ws,
            json!([{ "sourcePath": "long.txt", "content": long_text() }]),
        )
        .await;
    let tokenizer = tokenizers::Tokenizer::from_file(&path).expect("tokenizer");
    let docs = out["documents"].as_array().expect("documents");
    assert!(docs.len() > 10, "{}", docs.len());
    for doc in docs {
        let content = doc["content"].as_str().expect("content");
        let n = tokenizer.encode(content, true).expect("encode").len();
        // 64 tokens of text plus [CLS] and [SEP].
        assert!(n <= 66, "{n} tokens: {content}");
        assert_eq!(doc["tokenCount"], n, "{content}");
    }
}

#[tokio::test]
async fn token_sizes_follow_tiktoken_and_new_rules_replace_old_chunks() {
    let app = TestApp::spawn_with(&["--embedding-tokenizer", "cl100k_base"]).await;
    let fx = app.tenant("tiktoken").await;
    let ws = app.workspace(&fx, "refs").await;
    let ingest = |max: u32| {
        json!({ "input": { "workspaceId": ws, "chunking": { "maxTokens": max, "overlapTokens": 10 },
            "documents": [{ "sourcePath": "long.txt", "content": long_text() }] } })
    };
    let first = app.gql(Some(&fx.admin_token), INGEST, ingest(50)).await;
    let bpe = tiktoken_rs::cl100k_base().expect("cl100k");
    let docs = first["ingestDocuments"]["documents"].as_array().expect("documents");
    for doc in docs {
        let n = bpe.encode_ordinary(doc["content"].as_str().expect("content")).len();
        assert!(n <= 50, "{n} tokens");
    }
    let owner = app.owner().await;
    let rows = |rules: &str| {
        format!("SELECT count(*) FROM screenplay.code_documents WHERE workspace_id = '{ws}' AND chunking = '{rules}'")
    };
    let all = format!("SELECT count(*) FROM screenplay.code_documents WHERE workspace_id = '{ws}'");
    assert_eq!(
        scalar_i64(&owner, &rows("v2 tokens cl100k_base 50/10")).await,
        docs.len() as i64
    );

    // The same rules again: nothing new. Other rules: the old set is replaced.
    let again = app.gql(Some(&fx.admin_token), INGEST, ingest(50)).await;
    assert_eq!(again["ingestDocuments"]["added"], 0);
    let second = app.gql(Some(&fx.admin_token), INGEST, ingest(120)).await;
    let added = second["ingestDocuments"]["added"].as_i64().expect("added");
    assert!(added > 0 && added < docs.len() as i64, "{added}");
    assert_eq!(scalar_i64(&owner, &rows("v2 tokens cl100k_base 50/10")).await, 0);
    assert_eq!(scalar_i64(&owner, &all).await, added);

    // Characters and tokens at once is a clear error, and writes nothing.
    let both = json!({ "input": { "workspaceId": ws, "chunking": { "maxTokens": 100, "maxChars": 500 },
        "documents": [{ "sourcePath": "other.txt", "content": "text" }] } });
    let (_, body) = app.post(Some(&fx.admin_token), INGEST, both).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body:#}");
    assert_eq!(body["errors"][0]["extensions"]["field"], "maxTokens");
    assert_eq!(scalar_i64(&owner, &all).await, added);
}

#[tokio::test]
async fn a_server_without_a_tokenizer_refuses_token_sizes() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("no-tokens").await;
    let ws = app.workspace(&fx, "refs").await;
    let input = json!({ "input": { "workspaceId": ws, "chunking": { "maxTokens": 100 },
        "documents": [{ "sourcePath": "a.txt", "content": "text" }] } });
    let (_, body) = app.post(Some(&fx.admin_token), INGEST, input).await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "maxTokens", "{body:#}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("SCREENPLAY_EMBEDDING_TOKENIZER"), "{message}");
}
