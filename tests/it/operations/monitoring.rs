//! The monitoring API and the search latency behind the Milvus triggers.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::json;

use crate::helpers::{TestApp, seed::seed};

const MONITORING: &str = "{
    tableSizes { tableName partitioned partitions totalBytes indexBytes }
    vectorDbMetrics { totalVectors dimensions tenants workspaces maxVectorsPerWorkspace
                      vectorsPerTenant { tenantId vectors workspaces }
                      vectorsPerWorkspace { workspaceId vectors }
                      indexSize totalBytes searchP99Ms searchQpsPeak milvusTriggers recommendation }
    slowQueries { statisticsAvailable queries { query meanExecMs } }
    indexUsage { tableName indexName indexType indexScans unused }
    cacheHitRatio { scope ratio target healthy }
    connectionStats { username state connections maxConnections }
}";

#[tokio::test]
async fn platform_admins_read_the_monitoring_views() {
    let app = TestApp::spawn().await;
    let owner = app.owner().await;
    let seeded = seed(&owner, 2, 2, 5).await;
    let data = app.gql(Some(&app.platform_token()), MONITORING, json!({})).await;

    let sizes = data["tableSizes"].as_array().expect("sizes");
    let audit = sizes
        .iter()
        .find(|t| t["tableName"] == "audit_logs")
        .expect("audit_logs row");
    assert_eq!(audit["partitioned"], true);
    assert!(audit["partitions"].as_i64().expect("n") >= 4, "{audit}");
    let docs = sizes
        .iter()
        .find(|t| t["tableName"] == "code_documents")
        .expect("documents row");
    assert!(docs["totalBytes"].as_i64().expect("bytes") > docs["indexBytes"].as_i64().expect("bytes"));
    for table in [
        "tenants",
        "users",
        "workspaces",
        "screenplay_sessions",
        "search_latency",
        "maintenance_runs",
    ] {
        assert!(sizes.iter().any(|t| t["tableName"] == table), "{table} missing");
    }

    let v = &data["vectorDbMetrics"];
    assert_eq!(v["totalVectors"], 20);
    assert_eq!(v["dimensions"], 1536);
    assert_eq!(v["tenants"], 2);
    assert_eq!(v["workspaces"], 4);
    assert_eq!(v["maxVectorsPerWorkspace"], 5);
    let per_tenant = v["vectorsPerTenant"].as_array().expect("tenants");
    assert_eq!(per_tenant.len(), 2);
    assert!(
        per_tenant.iter().all(|t| t["vectors"] == 10 && t["workspaces"] == 2),
        "{per_tenant:?}"
    );
    assert!(
        per_tenant
            .iter()
            .any(|t| t["tenantId"] == seeded.tenants[0].to_string())
    );
    assert_eq!(v["vectorsPerWorkspace"].as_array().expect("ws").len(), 4);
    assert_eq!(v["milvusTriggers"], json!([]));
    assert!(v["searchP99Ms"].is_null(), "no search recorded yet: {v}");
    assert!(
        v["recommendation"]
            .as_str()
            .expect("text")
            .starts_with("pgvector is sufficient"),
        "{v}"
    );

    assert_eq!(data["slowQueries"]["statisticsAvailable"], false);
    assert_eq!(data["slowQueries"]["queries"], json!([]));
    let usage = data["indexUsage"].as_array().expect("usage");
    let hnsw = usage
        .iter()
        .find(|i| i["indexName"] == "code_documents_embedding_hnsw_idx")
        .expect("hnsw index");
    assert_eq!(hnsw["indexType"], "hnsw");
    let scopes: Vec<&str> = data["cacheHitRatio"]
        .as_array()
        .expect("ratio")
        .iter()
        .map(|r| r["scope"].as_str().expect("scope"))
        .collect();
    assert_eq!(scopes, ["database", "tables", "indexes"]);
    let conns = data["connectionStats"].as_array().expect("conns");
    assert!(conns.iter().any(|c| c["username"] == "screenplay_app"), "{conns:?}");
    assert!(conns.iter().all(|c| c["maxConnections"].as_i64() > Some(0)));

    // Tenant callers are refused, and the app role cannot read the views at all.
    let fx = app.tenant("mon").await;
    assert_eq!(
        app.gql_err(Some(&fx.admin_token), "{ vectorDbMetrics { totalVectors } }", json!({}))
            .await,
        "FORBIDDEN"
    );
    let app_role = app.db.app().await;
    for view in [
        "table_sizes",
        "vector_db_metrics",
        "slow_queries",
        "index_usage",
        "cache_hit_ratio",
        "connection_stats",
    ] {
        let err = app_role
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                format!("SELECT * FROM screenplay.{view}"),
            ))
            .await
            .expect_err("the app role must not read monitoring views");
        assert!(err.to_string().contains("permission denied"), "{view}: {err}");
    }
    for function in ["cleanup_old_logs(1)", "analyze_all_tables()", "reindex_all_tables()"] {
        let err = app_role
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                format!("SELECT * FROM screenplay.{function}"),
            ))
            .await
            .expect_err("the app role must not run maintenance");
        assert!(err.to_string().contains("permission denied"), "{function}: {err}");
    }
}

#[tokio::test]
async fn search_latency_feeds_the_milvus_triggers() {
    let app = TestApp::spawn().await;
    let owner = app.owner().await;

    // The SQL histogram bounds are the server's.
    let bounds: Vec<f64> = owner
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT screenplay.search_latency_bounds() AS b",
        ))
        .await
        .expect("bounds")
        .expect("row")
        .try_get("", "b")
        .expect("array");
    assert_eq!(bounds, screenplay_api::metrics::SEARCH_BOUNDS_MS.to_vec());

    // 99 fast searches and 2 slow ones: p99 falls in the slow bucket.
    let recorder = screenplay_api::metrics::SearchLatencyRecorder::register("test-instance");
    for _ in 0..99 {
        screenplay_api::metrics::observe_search("vector", Duration::from_millis(4));
    }
    for _ in 0..2 {
        screenplay_api::metrics::observe_search("hybrid", Duration::from_millis(900));
    }
    let written = recorder.flush(&app.state.db).await.expect("flush");
    assert!(written >= 101, "{written}");
    let data = app
        .gql(
            Some(&app.platform_token()),
            "{ vectorDbMetrics { searchCallsLastHour searchQpsPeak searchP99Ms milvusTriggers recommendation } }",
            json!({}),
        )
        .await;
    let v = &data["vectorDbMetrics"];
    assert!(v["searchCallsLastHour"].as_i64() >= Some(101), "{v}");
    let p99 = v["searchP99Ms"].as_f64().expect("p99");
    assert!(
        (750.0..=1000.0).contains(&p99),
        "p99 {p99} should be in the 750-1000 ms bucket"
    );
    let triggers = v["milvusTriggers"].as_array().expect("triggers");
    assert!(
        triggers.iter().any(|t| t.as_str().expect("text").contains("p99")),
        "{triggers:?}"
    );
    assert!(
        v["recommendation"]
            .as_str()
            .expect("text")
            .starts_with("migrate vectors to Milvus (screenplay vectors migrate --to milvus): "),
        "{v}"
    );
}
