//! How searches are counted: through the batched counter writer, so a
//! search writes nothing and never waits on its tenant's counter row.

use std::time::Duration;

use sea_orm::{ConnectionTrait, TransactionTrait};
use serde_json::json;

use crate::helpers::{
    TestApp,
    audit::{count_when, counter_sql},
    docs::SEARCH,
};

#[tokio::test]
async fn a_search_does_not_wait_on_its_tenants_counter_row() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("counted").await;
    let workspace = app.workspace(&fx, "Refs").await;
    let input = json!({ "input": { "workspaceId": workspace, "query": "storm", "mode": "KEYWORD" } });
    app.gql(Some(&fx.admin_token), SEARCH, input.clone()).await;
    let sql = counter_sql(fx.id, "search_queries");
    assert_eq!(count_when(&app, &sql, |n| n >= 1).await, 1);

    // Another connection holds the tenant's counter rows, as a long
    // transaction that counts something would.
    let owner = app.owner().await;
    let holder = owner.begin().await.expect("begin");
    holder
        .execute_unprepared(&format!(
            "SELECT 1 FROM screenplay.quota_usage WHERE tenant_id = '{}' FOR UPDATE",
            fx.id
        ))
        .await
        .expect("lock the counter rows");
    // Searches still answer at once (counting in the search's transaction
    // waited here until `lock_timeout`, then failed).
    for _ in 0..3 {
        let answer = tokio::time::timeout(
            Duration::from_secs(3),
            app.gql(Some(&fx.admin_token), SEARCH, input.clone()),
        )
        .await
        .expect("the search waited on the locked counter row");
        assert!(answer["searchDocuments"].is_array(), "{answer}");
    }
    holder.rollback().await.expect("release");
    // Counted once the writer gets the row.
    assert_eq!(count_when(&app, &sql, |n| n >= 4).await, 4);
}
