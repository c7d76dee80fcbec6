//! The server behind Debian's PgBouncer 1.18 in transaction pooling mode
//! (`SCREENPLAY_DB_PGBOUNCER=true`): no session state outside SET LOCAL, no
//! named prepared statement outliving its transaction, every statement in a
//! transaction. Few PgBouncer server connections serve many clients.

use futures::future::join_all;
use screenplay_api::auth::Role;
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, TestDb,
    fixtures::{PASSWORD, TenantFixture},
    pgbouncer::{POOL_SIZE, PgBouncer},
    scalar_i64,
};

/// The core flows, each through the API. After the sessions and search
/// issues merge, add here: `createSession`, `appendFragment`, and a hybrid
/// `searchDocuments` call (they run through the same PgBouncer).
async fn core_flows(app: &TestApp, fx: &TenantFixture) -> Value {
    let login = app
        .gql(
            None,
            "mutation($i: LoginInput!) { login(input: $i) { accessToken user { role } } }",
            json!({ "i": { "tenantSlug": fx.slug, "email": format!("admin@{}.test", "bounce"), "password": PASSWORD } }),
        )
        .await;
    let token = login["login"]["accessToken"].as_str().expect("token").to_owned();
    let workspace = app
        .gql(
            Some(&token),
            "mutation($i: CreateWorkspaceInput!) { createWorkspace(input: $i) { workspace { id } } }",
            json!({ "i": { "name": "Bounced", "slug": format!("b-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]) } }),
        )
        .await;
    let workspace_id: uuid::Uuid = workspace["createWorkspace"]["workspace"]["id"]
        .as_str()
        .expect("workspace")
        .parse()
        .expect("uuid");
    // A session with an outline and a fragment.
    let session = app.create_session(&token, workspace_id, "Through the bouncer").await;
    let steps = app.set_outline(&token, session, json!([{ "title": "Act One" }])).await;
    app.append(&token, session, steps[0], "ACTION", "Rain hammers the pier.")
        .await;
    let read = app
        .gql(
            Some(&token),
            "query($id: UUID!) { session(id: $id) { status outline { title fragments { content } } } }",
            json!({ "id": session }),
        )
        .await;
    assert_eq!(
        read["session"]["outline"][0]["fragments"][0]["content"],
        "Rain hammers the pier."
    );
    let member = app.user(fx, Role::Member).await;
    app.gql(
        Some(&member.token),
        "{ me { role tenant { name } } workspaces { totalCount edges { node { name } } } }",
        json!({}),
    )
    .await
}

#[tokio::test]
async fn the_server_works_through_pgbouncer_in_transaction_mode() {
    let db = TestDb::create().await;
    let bouncer = PgBouncer::start(&db);
    let app = TestApp::spawn_with_pool(db.clone(), bouncer.url(&db.app_url), &[], true).await;

    let ready = app.client.get(app.url("/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), reqwest::StatusCode::OK, "{}", bouncer.log());
    let fx = app.tenant("bounce").await;
    let data = core_flows(&app, &fx).await;
    assert_eq!(data["me"]["role"], "MEMBER");
    assert!(data["workspaces"]["totalCount"].as_i64() >= Some(1));

    // Many concurrent requests, reads and writes, over 8 pool connections
    // multiplexed on POOL_SIZE server connections.
    let requests = (0..48).map(|i| {
        let app = &app;
        let fx = &fx;
        async move {
            if i % 3 == 0 {
                app.post(
                    Some(&fx.admin_token),
                    "mutation($i: CreateWorkspaceInput!) { createWorkspace(input: $i) { workspace { id name } } }",
                    json!({ "i": { "name": format!("W{i}"), "slug": format!("w-{i}") } }),
                )
                .await
            } else {
                app.post(
                    Some(&fx.admin_token),
                    "{ me { role } workspaces(first: 5) { totalCount } users { totalCount } }",
                    json!({}),
                )
                .await
            }
        }
    });
    let answers = join_all(requests).await;
    for (status, body) in &answers {
        assert_eq!(*status, reqwest::StatusCode::OK);
        assert!(body.get("errors").is_none(), "error through PgBouncer: {body}");
    }
    let platform = app
        .gql(
            Some(&app.platform_token()),
            "{ tenants { totalCount } tableSizes { tableName } }",
            json!({}),
        )
        .await;
    assert!(platform["tenants"]["totalCount"].as_i64() >= Some(1));

    // The server's 8 connections went through PgBouncer's few.
    let owner = db.owner().await;
    let server_side = scalar_i64(
        &owner,
        &format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND usename = 'screenplay_app'",
            db.name
        ),
    )
    .await;
    assert!(
        (1..=i64::from(POOL_SIZE)).contains(&server_side),
        "{server_side} server connections for the app role"
    );
    assert_eq!(
        scalar_i64(
            &owner,
            "SELECT count(*) FROM screenplay.workspaces WHERE name LIKE 'W%'"
        )
        .await,
        16
    );
}

/// The control: the same server without `SCREENPLAY_DB_PGBOUNCER` fails
/// behind PgBouncer, as sqlx's per-connection statement names clash on
/// shared server connections. (If this ever passes, the PgBouncer test
/// above proves nothing.)
#[tokio::test]
async fn without_the_pgbouncer_setting_prepared_statements_clash() {
    let db = TestDb::create().await;
    let bouncer = PgBouncer::start(&db);
    let app = TestApp::spawn_with_pool(db.clone(), bouncer.url(&db.app_url), &[], false).await;
    let token = app.platform_token();
    let requests = (0..24).map(|_| app.post(Some(&token), "{ tenants { totalCount } }", json!({})));
    let failed = join_all(requests)
        .await
        .into_iter()
        .filter(|(_, body)| body.get("errors").is_some())
        .count();
    assert!(failed > 0, "no request failed without SCREENPLAY_DB_PGBOUNCER");
}
