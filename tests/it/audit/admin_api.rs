//! Reading audit logs and usage: `auditLogs`, `quotaUsage`, `usageSummary`.

use screenplay_api::auth::Role;
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn audit_and_usage_admin_api() {
    let mut app = TestApp::spawn().await;
    let a = app.tenant("ra").await;
    let b = app.tenant("rb").await;
    let member = app.user(&a, Role::Member).await;
    for i in 0..3 {
        app.gql(Some(&member.token), "query Probe { me { role } }", json!({}))
            .await;
        app.gql(
            Some(&a.admin_token),
            "mutation Make($i: CreateWorkspaceInput!) { createWorkspace(input: $i) { workspace { id } } }",
            json!({ "i": { "name": format!("A{i}"), "slug": format!("a-{i}") } }),
        )
        .await;
    }
    app.gql(Some(&b.admin_token), "query Probe { me { role } }", json!({}))
        .await;
    // Write the queued rows: restart on the same database.
    app.stop().await;
    let app = TestApp::spawn_on(app.db.clone(), &[]).await;

    let q = "query($f: AuditLogFilter) { auditLogs(filter: $f, first: 50) { totalCount edges { node { tenantId userId operationName operationType outcome fields resourceType } } } }";
    let data = app
        .gql(Some(&a.admin_token), q, json!({ "f": { "operationName": "Probe" } }))
        .await;
    assert_eq!(
        data["auditLogs"]["totalCount"], 3,
        "tenant admins see their tenant only"
    );
    for edge in data["auditLogs"]["edges"].as_array().expect("edges") {
        assert_eq!(edge["node"]["tenantId"], a.id.to_string());
        assert_eq!(edge["node"]["userId"], member.id.to_string());
    }
    let data = app
        .gql(Some(&a.admin_token), q, json!({ "f": { "userId": member.id } }))
        .await;
    assert_eq!(data["auditLogs"]["totalCount"], 3);
    let data = app
        .gql(
            Some(&a.admin_token),
            q,
            json!({ "f": { "operationName": "Make", "outcome": "OK" } }),
        )
        .await;
    assert_eq!(data["auditLogs"]["totalCount"], 3);
    assert_eq!(data["auditLogs"]["edges"][0]["node"]["resourceType"], "workspace");
    // Another tenant's id is NOT_FOUND for a tenant admin; platform admins see any tenant.
    let (_, body) = app
        .post(Some(&a.admin_token), q, json!({ "f": { "tenantId": b.id } }))
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND");
    let platform = app.platform_token();
    let data = app
        .gql(
            Some(&platform),
            q,
            json!({ "f": { "tenantId": b.id, "operationName": "Probe" } }),
        )
        .await;
    assert_eq!(data["auditLogs"]["totalCount"], 1);
    let data = app
        .gql(Some(&platform), q, json!({ "f": { "operationName": "Probe" } }))
        .await;
    assert_eq!(data["auditLogs"]["totalCount"], 4);
    assert_eq!(app.gql_err(Some(&member.token), q, json!({})).await, "FORBIDDEN");

    let now = chrono::Utc::now();
    let series = "query($t: UUID, $from: DateTime!, $to: DateTime!, $g: Granularity) { quotaUsage(tenantId: $t, metric: MUTATIONS, from: $from, to: $to, granularity: $g) { bucketStart value } }";
    let vars = |t: Option<uuid::Uuid>, g: &str| json!({ "t": t, "from": (now - chrono::Duration::days(2)).to_rfc3339(), "to": (now + chrono::Duration::hours(1)).to_rfc3339(), "g": g });
    let data = app.gql(Some(&a.admin_token), series, vars(None, "HOUR")).await;
    let total: f64 = data["quotaUsage"]
        .as_array()
        .expect("points")
        .iter()
        .map(|p| {
            p["value"]
                .as_str()
                .and_then(|v| v.parse::<f64>().ok())
                .or(p["value"].as_f64())
                .expect("value")
        })
        .sum();
    assert_eq!(
        total, 4.0,
        "four mutations of tenant A (createUser and three createWorkspace): {data}"
    );
    let data = app.gql(Some(&platform), series, vars(Some(b.id), "DAY")).await;
    assert!(data["quotaUsage"].as_array().expect("points").is_empty());
    let (_, body) = app.post(Some(&platform), series, vars(None, "DAY")).await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "tenantId");

    app.gql(
        Some(&platform),
        "mutation($i: UpdateTenantInput!) { updateTenant(input: $i) { tenant { id } } }",
        json!({ "i": { "id": a.id, "limits": { "llmTokensPerDay": 1000, "maxDocuments": 10 } } }),
    )
    .await;
    let data = app
        .gql(Some(&a.admin_token), "{ usageSummary { tenantId limits { llmTokensPerDay } meters { metric window used limit remaining resetsAt } } }", json!({}))
        .await;
    let meters = data["usageSummary"]["meters"].as_array().expect("meters");
    let meter = |name: &str| meters.iter().find(|m| m["metric"] == name).cloned().expect("meter");
    assert_eq!(meter("llm_tokens")["limit"], 1000);
    assert_eq!(meter("llm_tokens")["window"], "DAY");
    assert_eq!(meter("documents")["limit"], 10);
    assert!(meter("documents")["resetsAt"].is_null());
    assert!(meter("requests")["limit"].is_null());
}
