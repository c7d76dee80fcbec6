//! Files uploaded through the GraphQL multipart request spec.

use serde_json::{Value, json};

use crate::helpers::{TestApp, docs::INGEST};

/// A GraphQL multipart request (the spec's `operations`, `map` and files).
pub(super) async fn multipart(app: &TestApp, token: &str, operations: Value, files: &[(&str, &str, &[u8])]) -> Value {
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
