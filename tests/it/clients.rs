//! Clients nobody here wrote, against the real server: graphql-http's
//! GraphQL-over-HTTP audits, and graphql-js's standard introspection query
//! (what GraphiQL and code generators send) at the default limits.

use serde_json::Value;

use crate::helpers::{TestApp, node};

#[tokio::test]
async fn graphql_http_audits_pass_every_must_and_should() {
    let app = TestApp::spawn().await;
    let out = node::run("audits.mjs", &[&app.url("/graphql")]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let audits: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("audit line"))
        .collect();
    assert!(audits.len() > 40, "{} audits", audits.len());
    let failed: Vec<String> = audits
        .iter()
        .filter(|a| a["status"] != "ok")
        .map(|a| format!("{} {}: {}", a["id"], a["name"], a["reason"]))
        .collect();
    let required_failed: Vec<&String> = failed
        .iter()
        .filter(|f| f.contains("\"MUST ") || f.contains("\"SHOULD "))
        .collect();
    assert!(required_failed.is_empty(), "audits failed:\n{}", failed.join("\n"));
    let counts = ["MUST", "SHOULD", "MAY"].map(|level| {
        let of = audits
            .iter()
            .filter(|a| a["name"].as_str().is_some_and(|n| n.starts_with(level)));
        let all = of.clone().count();
        let ok = of.filter(|a| a["status"] == "ok").count();
        format!("{level} {ok}/{all}")
    });
    println!("graphql-http audits: {}", counts.join(", "));
}

/// The schema graphql-js reads back from the standard introspection query,
/// printed, against schema.graphql printed the same way.
async fn introspected_schema(app: &TestApp, token: Option<&str>) -> (String, String) {
    let schema_file = crate::helpers::checkout().join("schema.graphql");
    let schema_file = schema_file.to_str().expect("a UTF-8 path");
    let url = app.url("/graphql");
    let mut args = vec![url.as_str(), schema_file];
    args.extend(token);
    let out = node::run("introspection.mjs", &args).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (live, committed) = text.split_once("\n=====\n").expect("two schemas");
    (live.trim_end().to_owned(), committed.trim_end().to_owned())
}

#[tokio::test]
async fn the_standard_introspection_query_works_at_default_limits_and_matches_schema_graphql() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("introspect").await;
    for token in [Some(fx.admin_token.as_str()), None] {
        let (live, committed) = introspected_schema(&app, token).await;
        assert!(live.contains("type Query"), "{live}");
        if live != committed {
            let diff: Vec<String> = live
                .lines()
                .zip(committed.lines())
                .filter(|(a, b)| a != b)
                .take(10)
                .map(|(a, b)| format!("live: {a}\nfile: {b}"))
                .collect();
            panic!(
                "the live schema differs from schema.graphql ({} vs {} lines):\n{}",
                live.lines().count(),
                committed.lines().count(),
                diff.join("\n")
            );
        }
    }
}
