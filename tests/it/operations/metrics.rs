//! `GET /metrics`: requests, the pool and searches.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn metrics_endpoint_counts_requests_pool_and_searches() {
    let app = TestApp::spawn().await;
    app.gql(None, "{ health }", json!({})).await;
    let _ = app.post(None, "{ nope }", json!({})).await;
    screenplay_api::metrics::observe_search("keyword", Duration::from_millis(3));
    screenplay_api::metrics::set_audit_queue_depth(7);

    let resp = app.client.get(app.url("/metrics")).send().await.expect("metrics");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/plain; version=0.0.4")
    );
    let body = resp.text().await.expect("body");
    let has = |needle: &str| body.lines().any(|l| l.starts_with(needle));
    assert!(
        has("screenplay_graphql_requests_total{operation_type=\"query\",operation=\"health\",outcome=\"ok\"}"),
        "{body}"
    );
    assert!(
        has(
            "screenplay_graphql_requests_total{operation_type=\"unknown\",operation=\"(invalid)\",outcome=\"GRAPHQL_VALIDATION_FAILED\"}"
        ) || has(
            "screenplay_graphql_requests_total{operation_type=\"query\",operation=\"nope\",outcome=\"GRAPHQL_VALIDATION_FAILED\"}"
        ),
        "{body}"
    );
    assert!(has("screenplay_graphql_request_duration_seconds_bucket{"), "{body}");
    assert!(
        has("screenplay_http_requests_total{method=\"POST\",route=\"/graphql\",status=\"200\"}"),
        "{body}"
    );
    assert!(
        has("screenplay_search_duration_seconds_count{mode=\"keyword\"}"),
        "{body}"
    );
    assert!(has("screenplay_audit_queue_depth 7"), "{body}");
    for gauge in [
        "screenplay_db_pool_connections_in_use ",
        "screenplay_db_pool_connections_idle ",
        "screenplay_db_pool_waiting ",
        "screenplay_db_pool_connections_max 8",
    ] {
        assert!(has(gauge), "{gauge} missing: {body}");
    }

    let open = app
        .client
        .get(app.url("/metrics"))
        .header("accept", "application/openmetrics-text")
        .send()
        .await
        .expect("metrics");
    assert!(
        open.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("application/openmetrics-text")
    );

    // With a token configured, only bearers of it get metrics.
    let token = "metrics-token-0123456789";
    let guarded = TestApp::spawn_with(&["--metrics-token", token]).await;
    let refused = guarded.client.get(guarded.url("/metrics")).send().await.expect("get");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let wrong = guarded
        .client
        .get(guarded.url("/metrics"))
        .bearer_auth("metrics-token-wrong-wrong")
        .send()
        .await
        .expect("get");
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let allowed = guarded
        .client
        .get(guarded.url("/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .expect("get");
    assert_eq!(allowed.status(), StatusCode::OK);
}
