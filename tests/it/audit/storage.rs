//! What an audit row holds, exactly: hostile text, every column through both
//! INSERT paths, NUL characters, refused rows, redacted secrets.

use reqwest::StatusCode;
use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::helpers::{
    TestApp, TestDb,
    audit::{audit_text, count, count_when, counter_sql, quote},
    fixtures::PASSWORD,
    scalar_i64,
};

#[tokio::test]
async fn a_mutations_audit_row_keeps_hostile_text_exactly() {
    // The mutation's row travels with its COMMIT as escaped SQL literals;
    // quotes, backslashes and SQL in the input must arrive unchanged.
    let app = TestApp::spawn().await;
    let fx = app.tenant("hostile").await;
    let id = app.workspace(&fx, "Target").await.to_string();
    const TENANTS: &str = "SELECT count(*) FROM screenplay.tenants";
    let tenants_before = count(&app, TENANTS).await;
    let hostile = "it's \\ a 'quoted' \"string\"\n\t'); DROP TABLE screenplay.tenants; -- \
                   $$ $q$ E'\\x41' \\' \\\\ 中文剧本 🎬 \u{7f}\u{1}";
    let agent = r"agent 'x' \ E'\n' ); --";
    let (status, _, body) = app
        .post_with(
            Some(&fx.admin_token),
            json!({
                "query": "mutation Hostile($i: UpdateWorkspaceInput!) { updateWorkspace(input: $i) { workspace { description } } }",
                "variables": { "i": { "id": id, "description": hostile } }
            }),
            &[("x-request-id", "hostile-text"), ("user-agent", agent)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["data"]["updateWorkspace"]["workspace"]["description"], hostile,
        "{body}"
    );
    // Committed with the change: there without waiting for any queue.
    assert_eq!(
        audit_text(&app, "hostile-text", "details->'variables'->'i'->>'description'")
            .await
            .as_deref(),
        Some(hostile)
    );
    assert_eq!(
        audit_text(&app, "hostile-text", "details->'changes'->0->'after'->>'description'")
            .await
            .as_deref(),
        Some(hostile)
    );
    assert_eq!(
        audit_text(&app, "hostile-text", "user_agent").await.as_deref(),
        Some(agent)
    );
    assert_eq!(
        audit_text(
            &app,
            "hostile-text",
            "outcome || ' ' || operation_name || ' ' || resource_ids[1]"
        )
        .await,
        Some(format!("ok Hostile {id}"))
    );
    // The SQL in the input ran nowhere.
    assert_eq!(count(&app, TENANTS).await, tenants_before);
    // The pooled connection that carried the COMMIT serves the next requests
    // normally (its transaction state was left consistent).
    for n in 0..20 {
        let data = app
            .gql(
                Some(&fx.admin_token),
                "mutation($i: UpdateWorkspaceInput!) { updateWorkspace(input: $i) { workspace { name } } }",
                json!({ "i": { "id": id, "name": format!("Name {n}") } }),
            )
            .await;
        assert_eq!(data["updateWorkspace"]["workspace"]["name"], format!("Name {n}"));
    }
    let rows = count(
        &app,
        &format!("SELECT count(*) FROM screenplay.audit_logs WHERE tenant_id = '{}' AND fields = '{{updateWorkspace}}' AND outcome = 'ok'", fx.id),
    )
    .await;
    assert_eq!(rows, 21);
}

/// An audit row with every column set, its text to values that need
/// escaping as SQL literals, array literals and JSON.
fn every_column_record(tenant: uuid::Uuid, user: uuid::Uuid, request_id: &str) -> entity::audit_logs::Model {
    use chrono::{DurationRound, TimeDelta, Utc};
    let text = "it's \\ 'q' \"d\" {a,b} NULL $1 $$ E'\\x41' 中文剧本 🎬 \u{7f}";
    entity::audit_logs::Model {
        id: uuid::Uuid::now_v7(),
        // PostgreSQL keeps microseconds.
        created_at: Utc::now()
            .duration_trunc(TimeDelta::microseconds(1))
            .expect("truncate")
            .fixed_offset(),
        tenant_id: Some(tenant),
        user_id: Some(user),
        subject: Some(text.into()),
        role: Some("tenant_admin".into()),
        request_id: request_id.into(),
        operation_type: Some("mutation".into()),
        operation_name: Some(text.into()),
        fields: vec!["updateWorkspace".into(), text.into(), String::new(), "NULL".into()],
        resource_type: None,
        resource_ids: vec![],
        outcome: entity::enums::AuditOutcome::Ok,
        error_codes: vec!["A,B".into(), "{x}".into()],
        ip: Some("2001:db8::1".into()),
        user_agent: None,
        details: json!({ "variables": { "i": text, "n": [1, null, 2.5, { "k": text }] }, "changes": [] }),
        duration_ms: i32::MAX,
    }
}

async fn read_audit_row(app: &TestApp, record: &entity::audit_logs::Model) -> Option<entity::audit_logs::Model> {
    use sea_orm::EntityTrait;
    let mut row = entity::audit_logs::Entity::find_by_id((record.id, record.created_at))
        .one(&app.owner().await)
        .await
        .expect("read audit row")?;
    // inet reads back with its prefix length.
    assert_eq!(row.ip.as_deref(), Some("2001:db8::1/128"));
    row.ip.clone_from(&record.ip);
    Some(row)
}

#[tokio::test]
async fn every_column_survives_the_prepared_and_the_plain_audit_insert() {
    use screenplay_api::{audit::insert_and_commit, db::TxScope};
    let app = TestApp::spawn().await;
    let fx = app.tenant("forms").await;
    let scope = TxScope::Tenant {
        tenant_id: fx.id.into(),
        subject: fx.admin_id.to_string(),
        session: None,
    };
    for prepared in [true, false] {
        let (tx, status) = app.state.db.begin(&scope).await.expect("begin");
        // The server's pool prepared the INSERT on its connection.
        assert!(status.expect("caller status").audit_insert_prepared);
        let record = every_column_record(fx.id, fx.admin_id, &format!("forms-{prepared}"));
        insert_and_commit(tx, record.clone(), prepared)
            .await
            .expect("insert and commit");
        assert_eq!(
            read_audit_row(&app, &record).await,
            Some(record),
            "prepared: {prepared}"
        );
    }

    // And through the batch writer, where rows travel as one JSON array.
    let record = every_column_record(fx.id, fx.admin_id, "forms-batch");
    app.state.audit.record(record.clone()).await;
    let sql = "SELECT count(*) FROM screenplay.audit_logs WHERE request_id = 'forms-batch'";
    assert_eq!(count_when(&app, sql, |n| n == 1).await, 1);
    assert_eq!(read_audit_row(&app, &record).await, Some(record), "batch writer");

    // Row-level security holds for the prepared statement as well: a row
    // for another tenant is refused, and the change of its transaction with it.
    let workspace = app.workspace(&fx, "Forms").await;
    let other = app.tenant("forms-other").await;
    let (tx, _) = app.state.db.begin(&scope).await.expect("begin");
    tx.execute_unprepared(&format!(
        "UPDATE screenplay.workspaces SET description = 'changed' WHERE id = '{workspace}'"
    ))
    .await
    .expect("update");
    let record = every_column_record(other.id, fx.admin_id, "forms-other-tenant");
    assert!(insert_and_commit(tx, record.clone(), true).await.is_err());
    assert_eq!(read_audit_row(&app, &record).await, None);
    assert_eq!(
        count(
            &app,
            &format!("SELECT count(*) FROM screenplay.workspaces WHERE id = '{workspace}' AND description = 'changed'")
        )
        .await,
        0
    );
    // The pool's connections serve the next mutations normally.
    let data = app
        .gql(
            Some(&fx.admin_token),
            "mutation($i: UpdateWorkspaceInput!) { updateWorkspace(input: $i) { workspace { description } } }",
            json!({ "i": { "id": workspace, "description": "after" } }),
        )
        .await;
    assert_eq!(data["updateWorkspace"]["workspace"]["description"], "after");
}

#[tokio::test]
async fn a_connection_opened_before_the_migrations_audits_with_the_plain_insert() {
    use screenplay_api::{
        audit::insert_and_commit,
        db::{Db, PoolOptions, TxScope},
    };
    let db = TestDb::create_empty().await;
    // One connection, opened while there is no audit_logs to prepare for:
    // the PREPARE fails and the connection works without it.
    let pool = Db::connect(
        &db.app_url,
        &PoolOptions {
            max_connections: 1,
            pgbouncer: false,
            application_name: "before-migrations".into(),
            read_only: false,
        },
    )
    .await
    .expect("pool");
    pool.conn()
        .execute_unprepared("SELECT 1")
        .await
        .expect("connection works");
    screenplay_api::db::migrate_up(&db.owner_url).await.expect("migrate");

    let tenant = uuid::Uuid::now_v7();
    let (tx, status) = pool
        .begin(&TxScope::Tenant {
            tenant_id: tenant.into(),
            subject: "nobody".into(),
            session: None,
        })
        .await
        .expect("begin on the same connection");
    assert!(!status.expect("caller status").audit_insert_prepared);
    let record = every_column_record(tenant, uuid::Uuid::now_v7(), "before-migrations");
    insert_and_commit(tx, record.clone(), false)
        .await
        .expect("plain insert");
    let owner = db.owner().await;
    assert_eq!(
        scalar_i64(
            &owner,
            &format!("SELECT count(*) FROM screenplay.audit_logs WHERE id = '{}'", record.id)
        )
        .await,
        1
    );
    // A new connection prepares it.
    pool.conn()
        .execute_unprepared("SELECT pg_terminate_backend(pg_backend_pid())")
        .await
        .ok();
    let (tx, status) = pool
        .begin(&TxScope::Tenant {
            tenant_id: tenant.into(),
            subject: "nobody".into(),
            session: None,
        })
        .await
        .expect("begin on a new connection");
    assert!(status.expect("caller status").audit_insert_prepared);
    drop(tx);
    pool.close().await;
}

#[tokio::test]
async fn nul_characters_are_refused_and_do_not_block_the_audit_writer() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("nul").await;
    let id = app.workspace(&fx, "Before").await.to_string();
    let (_, _, body) = app
        .post_with(
            Some(&fx.admin_token),
            json!({
                "query": "mutation($i: UpdateWorkspaceInput!) { updateWorkspace(input: $i) { workspace { id } } }",
                "variables": { "i": { "id": id, "name": "a\u{0}b" } }
            }),
            &[("x-request-id", "nul-byte")],
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
    // A later request's row is written too: the failure row did not stall
    // the writer (jsonb cannot hold \u0000).
    app.post_with(
        Some(&fx.admin_token),
        json!({ "query": "{ me { role } }" }),
        &[("x-request-id", "after-nul")],
    )
    .await;
    let written = count_when(
        &app,
        "SELECT count(*) FROM screenplay.audit_logs WHERE request_id = 'after-nul' AND outcome = 'ok'",
        |n| n == 1,
    )
    .await;
    assert_eq!(written, 1);
    assert_eq!(
        audit_text(&app, "nul-byte", "details->'variables'->'i'->>'name'")
            .await
            .as_deref(),
        Some("a\u{FFFD}b")
    );
    assert_eq!(
        audit_text(&app, "nul-byte", "outcome || ' ' || error_codes[1]")
            .await
            .as_deref(),
        Some("error BAD_USER_INPUT")
    );
    let name = count(
        &app,
        &format!("SELECT count(*) FROM screenplay.workspaces WHERE id = '{id}' AND name = 'Before'"),
    )
    .await;
    assert_eq!(name, 1, "the refused change was not written");
}

#[tokio::test]
async fn a_row_the_database_refuses_does_not_hold_back_the_others() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("poison").await;
    // A constraint this one row breaks stands in for any row the database
    // will never take.
    app.owner()
        .await
        .execute_unprepared(
            "ALTER TABLE screenplay.audit_logs ADD CONSTRAINT test_poison CHECK (request_id <> 'poison')",
        )
        .await
        .expect("constraint");
    let send = |id: &'static str| {
        let app = &app;
        let token = fx.admin_token.clone();
        async move {
            app.post_with(
                Some(&token),
                json!({ "query": "{ me { role } }" }),
                &[("x-request-id", id)],
            )
            .await
        }
    };
    // Queued together, so they share a batch.
    tokio::join!(send("good-1"), send("poison"), send("good-2"));
    send("good-3").await;
    let good = count_when(
        &app,
        "SELECT count(*) FROM screenplay.audit_logs WHERE request_id IN ('good-1', 'good-2', 'good-3')",
        |n| n == 3,
    )
    .await;
    assert_eq!(good, 3, "rows queued with the refused one are written");
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM screenplay.audit_logs WHERE request_id = 'poison'"
        )
        .await,
        0
    );
    let requests = count_when(&app, &counter_sql(fx.id, "requests"), |n| n >= 4).await;
    assert!(requests >= 4, "the counters of the refused batch are kept: {requests}");
}

#[tokio::test]
async fn no_secret_value_reaches_the_audit_log() {
    let mut app = TestApp::spawn().await;
    let fx = app.tenant("secret").await;
    let secret_password = "Sup3r-Secret-Passw0rd!";
    let data = app
        .gql(
            Some(&fx.admin_token),
            "mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }",
            json!({ "i": { "email": "s@secret.test", "displayName": "S", "role": "MEMBER", "password": secret_password } }),
        )
        .await;
    assert!(data["createUser"]["user"]["id"].is_string());
    let login = app
        .gql(
            None,
            "mutation($i: LoginInput!) { login(input: $i) { accessToken refreshToken } }",
            json!({ "i": { "tenantSlug": fx.slug, "email": "s@secret.test", "password": secret_password } }),
        )
        .await;
    let access = login["login"]["accessToken"].as_str().expect("token").to_owned();
    let refresh = login["login"]["refreshToken"].as_str().expect("token").to_owned();
    let rotated = app
        .gql(
            None,
            "mutation($i: RefreshTokenInput!) { refreshToken(input: $i) { refreshToken } }",
            json!({ "i": { "refreshToken": refresh } }),
        )
        .await;
    let refresh2 = rotated["refreshToken"]["refreshToken"]
        .as_str()
        .expect("token")
        .to_owned();
    app.gql(
        None,
        "mutation($i: LogoutInput!) { logout(input: $i) { ok } }",
        json!({ "i": { "refreshToken": refresh2 } }),
    )
    .await;
    app.gql(
        Some(&app.platform_token()),
        "mutation($i: CreateTenantInput!) { createTenant(input: $i) { tenant { id } } }",
        json!({ "i": { "slug": "other-secret", "name": "O", "adminEmail": "o@o.test", "adminPassword": secret_password } }),
    )
    .await;
    // A wrong password is not recorded either.
    app.post(
        None,
        "mutation($i: LoginInput!) { login(input: $i) { accessToken } }",
        json!({ "i": { "tenantSlug": fx.slug, "email": "s@secret.test", "password": "Wrong-Guess-123" } }),
    )
    .await;
    app.stop().await;

    let owner = app.owner().await;
    for needle in [
        secret_password,
        "Wrong-Guess-123",
        &access,
        &refresh,
        &refresh2,
        PASSWORD,
    ] {
        let hits = scalar_i64(
            &owner,
            &format!(
                "SELECT count(*) FROM screenplay.audit_logs a WHERE position({} in a::text) > 0",
                quote(needle)
            ),
        )
        .await;
        assert_eq!(hits, 0, "a secret reached audit_logs");
    }
    let redacted = scalar_i64(
        &owner,
        "SELECT count(*) FROM screenplay.audit_logs WHERE details->'variables'->'i'->>'password' = '[REDACTED]'",
    )
    .await;
    assert!(redacted >= 2, "passwords are recorded as [REDACTED]");
    let logins = scalar_i64(
        &owner,
        "SELECT count(*) FROM screenplay.audit_logs WHERE operation_name IS NULL AND fields = '{login}' AND tenant_id IS NULL",
    )
    .await;
    assert_eq!(logins, 2, "sign-ins are audited (one ok, one failed)");
}

/// The batch writer's INSERT has one shape whatever the batch size, so each
/// pooled backend caches one plan for it, not one per size (159 cached
/// plans, 58.6 MiB, on one backend after 40,000 reads before).
#[tokio::test]
async fn audit_batches_of_any_size_share_one_statement() {
    let app = TestApp::spawn_with_pool_size(1).await;
    let fx = app.tenant("shapes").await;
    for burst in [1usize, 3, 7, 2, 5] {
        let reads = (0..burst).map(|_| app.gql(Some(&fx.admin_token), "{ me { role } }", json!({})));
        futures::future::join_all(reads).await;
        // The writer flushes within 250 ms: one batch per burst.
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    }
    let sql = format!(
        "SELECT count(*) FROM screenplay.audit_logs WHERE tenant_id = '{}' AND operation_type = 'query'",
        fx.id
    );
    assert_eq!(count_when(&app, &sql, |n| n >= 18).await, 18, "every read audited");
    // The pool's one connection is the writer's: its prepared statements.
    let tx = app.state.db.begin_platform().await.expect("begin");
    let shapes = tx
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT count(*) FROM pg_prepared_statements \
             WHERE statement LIKE 'INSERT INTO %audit_logs%'",
        ))
        .await
        .expect("prepared statements")
        .expect("a row")
        .try_get_by_index::<i64>(0)
        .expect("count");
    let listed = tx
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT name || ': ' || left(statement, 300) FROM pg_prepared_statements",
        ))
        .await
        .expect("list");
    let listed: Vec<String> = listed.iter().map(|r| r.try_get_by_index(0).expect("text")).collect();
    tx.rollback().await.expect("rollback");
    assert_eq!(
        shapes, 1,
        "one audit INSERT shape for batches of 1 to 7 rows: {listed:#?}"
    );
}
