//! GraphQL over HTTP as a frontend's client expects it: content types,
//! status codes, request errors without `data`, no mutation over GET,
//! codes on scalar errors, 401 for a refused token, CORS for local
//! development servers. (graphql-http's own audits run in `tests/it/js.rs`.)

use reqwest::{StatusCode, header};
use screenplay_api::auth::Role;
use serde_json::{Value, json};

use crate::helpers::{TestApp, scalar_i64};

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

#[tokio::test]
async fn posts_need_a_json_body_with_a_query() {
    let app = TestApp::spawn().await;
    let body = json!({ "query": "{ health { status } }" }).to_string();
    for content_type in [None, Some("text/plain"), Some("application/x-www-form-urlencoded")] {
        let mut request = app.client.post(app.url("/graphql")).body(body.clone());
        if let Some(ct) = content_type {
            request = request.header(header::CONTENT_TYPE, ct);
        }
        let response = request.send().await.expect("request");
        assert_eq!(
            response.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}"
        );
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST");
    }
    let response = app
        .client
        .post(app.url("/graphql"))
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .body(body)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);

    for missing in [json!({}), json!({ "variables": {} }), json!({ "query": "  " })] {
        let (status, _, body) = app.post_with(None, missing.clone(), &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{missing}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST");
    }
}

/// A JSON body is one request: a batch, broken JSON and a body over the
/// limit (streamed without a length, so only reading it can tell) are
/// refused with their own answers.
#[tokio::test]
async fn json_bodies_are_one_request_within_the_body_limit() {
    let app = TestApp::spawn_with(&["--body-limit", "100000"]).await;
    let tenant = app.tenant("jsonbody").await;
    let post = |body: reqwest::Body| {
        app.client
            .post(app.url("/graphql"))
            .bearer_auth(&tenant.admin_token)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
    };
    let cases = [
        (
            " [{\"query\": \"{ health { status } }\"}]",
            "batched requests are not supported",
        ),
        ("{\"query\": ", "not a GraphQL request"),
    ];
    for (body, message) in cases {
        let response = post(body.into()).await.expect("request");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let answer: Value = response.json().await.expect("json");
        assert_eq!(answer["errors"][0]["extensions"]["code"], "BAD_REQUEST");
        let text = answer["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(text.contains(message), "{body}: {answer}");
    }
    let padding = " ".repeat(150_000);
    let oversized = format!("{{\"query\": \"{{ health {{ status }} }}\"{padding}}}");
    assert_eq!(chunked_post(&app, &tenant.admin_token, &oversized).await, 413);
    let within = format!("{{\"query\": \"{{ health {{ status }} }}\"{}}}", " ".repeat(50_000));
    let response = post(within.into()).await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);
}

/// The status of a POST whose body is sent in chunks, without a length.
async fn chunked_post(app: &TestApp, token: &str, body: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.expect("connect");
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    for chunk in body.as_bytes().chunks(10_000) {
        let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        if stream.write_all(&framed).await.is_err() {
            break; // the server answered and closed early
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let status = String::from_utf8_lossy(&answer)
        .split(' ')
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    status.parse().expect("status line")
}

#[tokio::test]
async fn request_errors_have_no_data_and_are_400_for_graphql_response_json() {
    let app = TestApp::spawn().await;
    for (query, code, operation) in [
        ("{ health { ", "GRAPHQL_PARSE_FAILED", None),
        ("{ health { nope } }", "GRAPHQL_VALIDATION_FAILED", None),
        ("query A { health { status } }", "GRAPHQL_VALIDATION_FAILED", Some("B")),
    ] {
        let body = json!({ "query": query, "operationName": operation });
        let (status, _, answer) = app.post_with(None, body.clone(), &[]).await;
        assert_eq!(status, StatusCode::OK, "application/json answers 200: {answer}");
        assert!(answer.get("data").is_none(), "no data key: {answer}");
        assert_eq!(answer["errors"][0]["extensions"]["code"], code);
        let (status, headers, answer) = app.post_with(None, body, &[("accept", GRAPHQL_RESPONSE_JSON)]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_eq!(headers[header::CONTENT_TYPE], GRAPHQL_RESPONSE_JSON);
        assert!(answer.get("data").is_none(), "{answer}");
    }
}

#[tokio::test]
async fn subscriptions_over_http_are_refused_with_a_code() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("subhttp").await;
    let (_, body) = app
        .post(
            Some(&fx.admin_token),
            "subscription { sessionEvents(sessionId: \"01a241f7-a0de-73c1-8c58-9b513fda1792\") { type } }",
            json!({}),
        )
        .await;
    let code = &body["errors"][0]["extensions"]["code"];
    assert!(code == "BAD_REQUEST" || code == "GRAPHQL_VALIDATION_FAILED", "{body}");
}

#[tokio::test]
async fn mutations_never_run_over_get() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("get").await;
    let mutation = "mutation { createWorkspace(input: {name: \"Over GET\"}) { workspace { id } } }";
    let get = |query: String| {
        app.client
            .get(app.url("/graphql"))
            .query(&[("query", query.as_str())])
            .bearer_auth(&fx.admin_token)
    };
    let response = get(mutation.to_owned()).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()[header::ALLOW], "POST");

    // Registered as an automatic persisted query by a viewer's POST (refused,
    // so that nothing is written), then sent over GET by its hash.
    let viewer = app.user(&fx, Role::Viewer).await;
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(mutation.as_bytes()));
    let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let (_, _, registered) = app
        .post_with(
            Some(&viewer.token),
            json!({ "query": mutation, "extensions": extensions }),
            &[],
        )
        .await;
    assert_eq!(
        registered["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{registered}"
    );
    let response = app
        .client
        .get(app.url("/graphql"))
        .query(&[("extensions", extensions.to_string())])
        .bearer_auth(&fx.admin_token)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let owner = app.owner().await;
    let written = scalar_i64(
        &owner,
        "SELECT count(*) FROM screenplay.workspaces WHERE name = 'Over GET'",
    )
    .await;
    assert_eq!(written, 0);
}

#[tokio::test]
async fn scalars_that_do_not_parse_are_bad_user_input_naming_the_argument() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("scalars").await;
    let token = Some(fx.admin_token.as_str());
    // From a variable: a request error, naming argument and variable.
    let body =
        json!({ "query": "query($id: UUID!) { workspace(id: $id) { id } }", "variables": { "id": "not-a-uuid" } });
    let (status, _, answer) = app.post_with(token, body, &[("accept", GRAPHQL_RESPONSE_JSON)]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(answer.get("data").is_none(), "{answer}");
    let error = &answer["errors"][0];
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(error["extensions"]["field"], "id");
    assert_eq!(error["extensions"]["variable"], "id");
    // Inline, and out of range: a field error with the argument named.
    for (query, field) in [
        ("{ workspace(id: \"not-a-uuid\") { id } }", "id"),
        ("{ sessions(first: 2147483648) { totalCount } }", "first"),
    ] {
        let (_, body) = app.post(token, query, json!({})).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
}

#[tokio::test]
async fn a_refused_token_is_401_with_www_authenticate() {
    let app = TestApp::spawn().await;
    for token in [Some("garbage"), None] {
        let (status, body) = app.post(token, "{ me { role } }", json!({})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token:?}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
        let (_, headers, _) = app.post_with(token, json!({ "query": "{ me { role } }" }), &[]).await;
        assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
    }
    // Public operations still work with a stale token.
    let (status, body) = app.post(Some("garbage"), "{ health { status } }", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// The CORS answer to a preflight from `origin`.
async fn preflight(app: &TestApp, origin: &str) -> Option<String> {
    let response = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/graphql"))
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization,content-type")
        .send()
        .await
        .expect("preflight");
    response
        .headers()
        .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        .map(|v| v.to_str().expect("ascii").to_owned())
}

#[tokio::test]
async fn development_servers_on_localhost_pass_cors_and_production_stays_closed() {
    let app = TestApp::spawn().await;
    for origin in ["http://localhost:5173", "http://127.0.0.1:3000", "http://localhost"] {
        assert_eq!(preflight(&app, origin).await.as_deref(), Some(origin));
    }
    for origin in [
        "http://evil.test",
        "http://localhost.evil.test",
        "https://localhost:5173",
    ] {
        assert_eq!(preflight(&app, origin).await, None, "{origin}");
    }
    let production = TestApp::spawn_with(&["--env", "production"]).await;
    assert_eq!(preflight(&production, "http://localhost:5173").await, None);
    let configured = TestApp::spawn_with(&["--env", "production", "--cors-origins", "https://app.example.test"]).await;
    assert_eq!(
        preflight(&configured, "https://app.example.test").await.as_deref(),
        Some("https://app.example.test")
    );
    assert_eq!(preflight(&configured, "http://localhost:5173").await, None);
}
