//! Read replicas against a real streaming standby (`pg_basebackup -R`):
//! queries read from it under the same tenant scope, mutations write to the
//! primary, a standby that falls behind or goes down is skipped.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    TestApp, assert_invisible,
    audit::{count_when, counter_sql},
    fixtures::TenantFixture,
    replica::Replicated,
};

const MAX_LAG: Duration = Duration::from_secs(5);
const WORKSPACE: &str = "query($id: UUID!) { workspace(id: $id) { id name } }";

/// One sample of a replica metric (`screenplay_replica_usable`, say).
async fn metric(app: &TestApp, name: &str) -> Option<f64> {
    app.metrics_text()
        .await
        .lines()
        .find(|l| l.starts_with(name) && (l.contains("replica=\"127.0.0.1:54359/") || !name.contains("{")))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Waits (20 s at most) until the replica's `usable` gauge is `usable`.
async fn wait_usable(app: &TestApp, usable: bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let want = if usable { 1.0 } else { 0.0 };
    while metric(app, "screenplay_replica_usable{").await != Some(want) {
        assert!(Instant::now() < deadline, "the replica never became usable={usable}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn reads(app: &TestApp) -> f64 {
    metric(app, "screenplay_replica_reads_total{").await.unwrap_or(0.0)
}

async fn fallbacks(app: &TestApp) -> f64 {
    metric(app, "screenplay_replica_fallbacks_total").await.unwrap_or(0.0)
}

async fn create_workspace(app: &TestApp, fx: &TenantFixture, name: &str) -> Uuid {
    let slug = format!("r-{}", &Uuid::new_v4().simple().to_string()[..8]);
    let data = app
        .gql(
            Some(&fx.admin_token),
            "mutation($i: CreateWorkspaceInput!) { createWorkspace(input: $i) { workspace { id name } } }",
            json!({ "i": { "name": name, "slug": slug } }),
        )
        .await;
    // The mutation reads its own write back (on the primary).
    assert_eq!(data["createWorkspace"]["workspace"]["name"], name);
    data["createWorkspace"]["workspace"]["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid")
}

async fn workspace(app: &TestApp, fx: &TenantFixture, id: Uuid) -> Value {
    app.gql(Some(&fx.admin_token), WORKSPACE, json!({ "id": id })).await["workspace"].clone()
}

#[tokio::test]
async fn queries_read_from_a_streaming_replica_within_the_lag_bound() {
    let pair = Replicated::start().await;
    let app = TestApp::spawn_with_replicas(pair.db.clone(), &[pair.standby_app_url()], MAX_LAG).await;
    wait_usable(&app, true).await;
    let fx = app.tenant("replica").await;
    let other = app.tenant("replica-other").await;

    // A read goes to the replica, under the caller's tenant scope.
    let first = create_workspace(&app, &fx, "Caught up").await;
    let before = reads(&app).await;
    wait_for(&app, &fx, first).await;
    assert!(reads(&app).await > before, "the read did not go to the replica");
    assert_invisible(
        &app.post(Some(&other.admin_token), WORKSPACE, json!({ "id": first }))
            .await
            .1,
        "another tenant's workspace on the replica",
    );

    // With replay paused, the replica serves what it had (see below) ...
    let second = stale_read_from_a_paused_replica(&pair, &app, &fx).await;
    // ... until it lags past the bound; then reads go to the primary.
    wait_usable(&app, false).await;
    assert!(metric(&app, "screenplay_replica_lag_seconds{").await >= Some(MAX_LAG.as_secs_f64()));
    let fallbacks = metric(&app, "screenplay_replica_fallbacks_total").await.unwrap_or(0.0);
    assert_eq!(workspace(&app, &fx, second).await["name"], "Written while behind");
    assert!(metric(&app, "screenplay_replica_fallbacks_total").await > Some(fallbacks));

    // Caught up again, the replica takes reads again.
    pair.pause_replay(false).await;
    wait_usable(&app, true).await;
    let before = reads(&app).await;
    assert_eq!(workspace(&app, &fx, second).await["name"], "Written while behind");
    assert!(reads(&app).await > before);

    searches_on_the_replica_are_counted(&app, &fx, first).await;

    // A standby that goes down is skipped: every read still answers.
    pair.stop_standby();
    for _ in 0..5 {
        assert_eq!(workspace(&app, &fx, first).await["name"], "Caught up");
    }
    wait_usable(&app, false).await;
    assert!(metric(&app, "screenplay_replica_lag_seconds{").await.is_none());
}

/// Pauses the standby's replay and creates a workspace: a query does not
/// see it yet, so the read really is on the replica. On a loaded machine the
/// watcher may have set the replica aside for a moment (its look timed out);
/// then the read legitimately went to the primary, and the pause is tried
/// again (3 times at most). Returns the workspace, replay still paused.
async fn stale_read_from_a_paused_replica(pair: &Replicated, app: &TestApp, fx: &TenantFixture) -> Uuid {
    let mut seen = Vec::new();
    for attempt in 0..3 {
        wait_usable(app, true).await;
        pair.pause_replay(true).await;
        let id = create_workspace(app, fx, "Written while behind").await;
        let counts = (reads(app).await, fallbacks(app).await);
        if workspace(app, fx, id).await.is_null() {
            return id;
        }
        let after = (reads(app).await, fallbacks(app).await);
        let state = (
            metric(app, "screenplay_replica_usable{").await,
            metric(app, "screenplay_replica_lag_seconds{").await,
        );
        seen.push(format!(
            "attempt {attempt}: the workspace was there; (reads, fallbacks) {counts:?} -> {after:?}; (usable, lag) {state:?}"
        ));
        pair.pause_replay(false).await;
    }
    panic!("queries never read from the paused replica: {seen:#?}");
}

/// Polls the workspace until a read on the replica shows it (5 s at most).
/// Until the replica has replayed the tenant and its admin too, their reads
/// go to the primary (which shows the workspace at once).
async fn wait_for(app: &TestApp, fx: &TenantFixture, id: Uuid) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let before = reads(app).await;
        if !workspace(app, fx, id).await.is_null() && reads(app).await > before {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no read on the replica showed workspace {id}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A search is a query: it runs on the replica, and its usage counters
/// reach the primary through the batched writer.
async fn searches_on_the_replica_are_counted(app: &TestApp, fx: &TenantFixture, workspace_id: Uuid) {
    let ingest = app
        .ingest(
            &fx.admin_token,
            workspace_id,
            json!([{ "sourcePath": "storm.md", "title": "Storm", "content": "A storm breaks over the harbour." }]),
        )
        .await;
    app.wait_for_job(&fx.admin_token, &ingest["job"]["id"]).await;
    let input = json!({ "workspaceId": workspace_id, "query": "storm", "mode": "KEYWORD" });
    let deadline = Instant::now() + Duration::from_secs(5);
    let before = reads(app).await;
    // The document reaches the replica within moments.
    while app.search(&fx.admin_token, input.clone()).await.is_empty() {
        assert!(Instant::now() < deadline, "the replica never found the document");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(reads(app).await > before);
    let sql = counter_sql(fx.id, "search_queries");
    assert!(
        count_when(app, &sql, |n| n >= 1).await >= 1,
        "replica searches were not counted"
    );
}
