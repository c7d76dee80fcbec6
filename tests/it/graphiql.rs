//! GraphiQL served by the binary: the vendored files are the ones
//! api/assets/graphiql/VERSIONS.md names, the page loads nothing from other
//! hosts, and production turns it off. (The page in a real browser:
//! `quick_start.rs`.)

use reqwest::{StatusCode, header};
use sha2::{Digest, Sha256};

use crate::helpers::TestApp;

#[test]
fn vendored_files_match_the_sums_in_versions_md() {
    let dir = crate::helpers::checkout().join("api/assets/graphiql");
    let versions = std::fs::read_to_string(dir.join("VERSIONS.md")).expect("VERSIONS.md");
    let rows: Vec<(&str, &str)> = versions
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (cells.len() == 7 && cells[5].len() == 64).then(|| (cells[1], cells[5]))
        })
        .collect();
    assert_eq!(rows.len(), 5, "{versions}");
    for (file, sum) in rows {
        let bytes = std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            hex::encode(Sha256::digest(&bytes)),
            sum,
            "{file} differs from its release"
        );
    }
}

#[tokio::test]
async fn the_page_and_its_files_come_from_this_server_only() {
    let app = TestApp::spawn().await;
    let page = app
        .client
        .get(app.url("/graphql"))
        .header(header::ACCEPT, "text/html")
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("csp")
        .to_owned();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    let html = page.text().await.expect("html");
    assert!(
        !html.contains("https://") && !html.contains("http://"),
        "no other host in the page: {html}"
    );
    for file in [
        "graphiql.min.js",
        "graphiql.min.css",
        "react.production.min.js",
        "boot.js",
    ] {
        assert!(html.contains(&format!("/graphiql/{file}")), "{file}");
        let asset = app
            .client
            .get(app.url(&format!("/graphiql/{file}")))
            .send()
            .await
            .expect("asset");
        assert_eq!(asset.status(), StatusCode::OK, "{file}");
    }
    let missing = app
        .client
        .get(app.url("/graphiql/other.js"))
        .send()
        .await
        .expect("asset");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn production_serves_no_graphiql_and_no_introspection_unless_asked() {
    let app = TestApp::spawn_with(&["--env", "production"]).await;
    let page = app
        .client
        .get(app.url("/graphql"))
        .header(header::ACCEPT, "text/html")
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    let (_, body) = app
        .post(None, "{ __schema { queryType { name } } }", serde_json::json!({}))
        .await;
    assert!(body["data"]["__schema"].is_null(), "no schema in production: {body}");
    let (_, body) = app.post(None, "{ healht { status } }", serde_json::json!({})).await;
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        !message.contains("Did you mean"),
        "no suggestions in production: {message}"
    );
    let asked = TestApp::spawn_with(&["--env", "production", "--introspection", "true"]).await;
    let (_, body) = asked
        .post(None, "{ __schema { queryType { name } } }", serde_json::json!({}))
        .await;
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query", "{body}");
}
