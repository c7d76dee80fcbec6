//! Audit rows and usage counters written by the server itself, rate limits,
//! persisted queries and request protection.

use std::time::Duration;

use reqwest::StatusCode;
use screenplay_api::auth::Role;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestDb, fixtures::PASSWORD, process::ServerProcess, scalar_i64};

async fn count(app: &TestApp, sql: &str) -> i64 {
    scalar_i64(&app.owner().await, sql).await
}

/// The SQL summing a tenant's usage counter over all hours.
fn counter_sql(tenant: uuid::Uuid, metric: &str) -> String {
    format!(
        "SELECT coalesce(sum(value), 0)::bigint FROM screenplay.quota_usage WHERE tenant_id = '{tenant}' AND metric = '{metric}'"
    )
}

async fn counter(app: &TestApp, tenant: uuid::Uuid, metric: &str) -> i64 {
    count(app, &counter_sql(tenant, metric)).await
}

/// Polls the count `sql` until `done` holds or 5 s have passed (rows and
/// counters from the queue land within a flush); returns the last value.
async fn count_when(app: &TestApp, sql: &str, done: impl Fn(i64) -> bool) -> i64 {
    let mut value = count(app, sql).await;
    for _ in 0..50 {
        if done(value) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        value = count(app, sql).await;
    }
    value
}

#[tokio::test]
async fn concurrent_mixed_requests_get_exactly_one_row_each_and_exact_counters() {
    let mut app = TestApp::spawn().await;
    let fx = app.tenant("mix").await;
    let viewer = app.user(&fx, Role::Viewer).await;

    // 200 requests: reads, writes, refused writes, failed writes, anonymous and garbage.
    let mut tasks = Vec::new();
    for i in 0..200 {
        let client = app.client.clone();
        let url = app.url("/graphql");
        let (token, body): (Option<String>, Value) = match i % 5 {
            0 => (
                Some(fx.admin_token.clone()),
                json!({ "query": "{ me { role } workspaces { totalCount } }" }),
            ),
            1 => (
                Some(fx.admin_token.clone()),
                json!({ "query": "mutation($i: CreateWorkspaceInput!) { createWorkspace(input: $i) { workspace { id } } }",
                        "variables": { "i": { "name": format!("W{i}"), "slug": format!("w-{i}") } } }),
            ),
            2 => (
                Some(viewer.token.clone()),
                json!({ "query": "mutation { createWorkspace(input: {name: \"nope\"}) { workspace { id } } }" }),
            ),
            3 => (
                Some(fx.admin_token.clone()),
                json!({ "query": "mutation { createWorkspace(input: {name: \"bad\", slug: \"Not A Slug\"}) { workspace { id } } }" }),
            ),
            _ => (
                if i % 2 == 0 { None } else { Some("garbage".into()) },
                json!({ "query": "{ health }" }),
            ),
        };
        tasks.push(tokio::spawn(async move {
            let mut req = client.post(url).header("x-request-id", format!("load-{i}")).json(&body);
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            req.send().await.expect("send").status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("task"), StatusCode::OK);
    }
    // A graceful stop writes every queued row.
    app.stop().await;

    let rows = count(
        &app,
        "SELECT count(*) FROM screenplay.audit_logs WHERE request_id LIKE 'load-%'",
    )
    .await;
    assert_eq!(rows, 200, "one audit row per request");
    let distinct = count(
        &app,
        "SELECT count(DISTINCT request_id) FROM screenplay.audit_logs WHERE request_id LIKE 'load-%'",
    )
    .await;
    assert_eq!(distinct, 200);
    let ok_mutations = count(
        &app,
        "SELECT count(*) FROM screenplay.audit_logs WHERE request_id LIKE 'load-%' AND operation_type = 'mutation' AND outcome = 'ok'",
    )
    .await;
    assert_eq!(ok_mutations, 40);
    let forbidden = count(
        &app,
        "SELECT count(*) FROM screenplay.audit_logs WHERE request_id LIKE 'load-%' AND error_codes = '{FORBIDDEN}'",
    )
    .await;
    assert_eq!(forbidden, 40);
    let bad_input = count(
        &app,
        "SELECT count(*) FROM screenplay.audit_logs WHERE request_id LIKE 'load-%' AND error_codes = '{BAD_USER_INPUT}'",
    )
    .await;
    assert_eq!(bad_input, 40);
    // Anonymous and refused tokens are audited without a tenant.
    let anonymous = count(
        &app,
        "SELECT count(*) FROM screenplay.audit_logs WHERE request_id LIKE 'load-%' AND tenant_id IS NULL",
    )
    .await;
    assert_eq!(anonymous, 40);
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT count(*) FROM screenplay.workspaces WHERE tenant_id = '{}'",
                fx.id
            )
        )
        .await,
        40
    );
    // The mutation rows carry what changed.
    let with_changes = count(
        &app,
        "SELECT count(*) FROM screenplay.audit_logs WHERE request_id LIKE 'load-%' AND resource_type = 'workspace' \
         AND outcome = 'ok' AND cardinality(resource_ids) = 1 AND details->'changes'->0->'after'->>'slug' LIKE 'w-%'",
    )
    .await;
    assert_eq!(with_changes, 40);

    // Counters: 160 tenant requests executed (reads, ok, forbidden, failed),
    // 120 of them mutations, plus the setup's (counted asynchronously, so
    // read from the audit log rather than from before the load).
    let setup = count(
        &app,
        &format!(
            "SELECT count(*) FROM screenplay.audit_logs WHERE tenant_id = '{}' AND request_id NOT LIKE 'load-%'",
            fx.id
        ),
    )
    .await;
    assert_eq!(setup, 1, "the setup created one user");
    assert_eq!(counter(&app, fx.id, "requests").await, 160 + setup);
    assert_eq!(counter(&app, fx.id, "mutations").await, 120 + setup);
}

#[tokio::test]
async fn a_mutation_that_fails_half_way_keeps_nothing_and_gets_one_failure_row() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("half").await;
    let (_, _, body) = app
        .post_with(
            Some(&fx.admin_token),
            json!({ "query": "mutation Both { a: createWorkspace(input: {name: \"First\", slug: \"dup\"}) { workspace { id } } \
                                             b: createWorkspace(input: {name: \"Second\", slug: \"dup\"}) { workspace { id } } }" }),
            &[("x-request-id", "half-way")],
        )
        .await;
    assert!(
        body["data"].is_null(),
        "a failed mutation operation returns no data: {body}"
    );
    assert_eq!(body["errors"][0]["extensions"]["code"], "CONFLICT");
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT count(*) FROM screenplay.workspaces WHERE tenant_id = '{}'",
                fx.id
            )
        )
        .await,
        0
    );

    // The failure row is queued; poll until the writer has it.
    let rows = count_when(
        &app,
        "SELECT count(*) FROM screenplay.audit_logs WHERE request_id = 'half-way'",
        |n| n > 0,
    )
    .await;
    assert_eq!(rows, 1);
    let ok = count(
        &app,
        "SELECT count(*) FROM screenplay.audit_logs WHERE request_id = 'half-way' AND outcome = 'ok'",
    )
    .await;
    assert_eq!(ok, 0);
    let fields = count(
        &app,
        "SELECT count(*) FROM screenplay.audit_logs WHERE request_id = 'half-way' AND fields = '{createWorkspace,createWorkspace}' \
         AND operation_name = 'Both' AND error_codes = '{CONFLICT}'",
    )
    .await;
    assert_eq!(fields, 1);
}

/// One text column of the audit row of `request_id`, as the owner sees it.
async fn audit_text(app: &TestApp, request_id: &str, expr: &str) -> Option<String> {
    let row = app
        .owner()
        .await
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            format!("SELECT ({expr})::text FROM screenplay.audit_logs WHERE request_id = $1"),
            [request_id.into()],
        ))
        .await
        .expect("query")?;
    row.try_get_by_index::<Option<String>>(0).expect("text")
}

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
async fn queued_rows_are_written_within_a_flush_period_under_steady_traffic() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("steady").await;
    let read = json!({ "query": "{ me { role } }" });
    app.post_with(Some(&fx.admin_token), read.clone(), &[("x-request-id", "steady-first")])
        .await;
    // Requests keep coming for 4 s, several per flush period of 250 ms.
    let stream_ends = std::time::Instant::now() + Duration::from_secs(4);
    let stream = async {
        let mut sent = 0;
        while std::time::Instant::now() < stream_ends {
            app.post_with(
                Some(&fx.admin_token),
                read.clone(),
                &[("x-request-id", "steady-stream")],
            )
            .await;
            sent += 1;
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
        sent
    };
    let watch = async {
        let started = std::time::Instant::now();
        let rows = count_when(
            &app,
            "SELECT count(*) FROM screenplay.audit_logs WHERE request_id = 'steady-first'",
            |n| n == 1 || started.elapsed() > Duration::from_secs(2),
        )
        .await;
        (rows, started.elapsed())
    };
    let (sent, (rows, waited)) = tokio::join!(stream, watch);
    assert_eq!(
        rows, 1,
        "the first row was still queued after {waited:?} of steady traffic"
    );
    assert!(waited < Duration::from_secs(2));
    let streamed = count_when(
        &app,
        "SELECT count(*) FROM screenplay.audit_logs WHERE request_id = 'steady-stream'",
        |n| n == sent,
    )
    .await;
    assert_eq!(streamed, sent);
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

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    for (trusted, expected) in [(true, "203.0.113.7"), (false, "127.0.0.1")] {
        let flags: &[&str] = if trusted {
            &["--trusted-proxies", "127.0.0.1/32"]
        } else {
            &[]
        };
        let mut app = TestApp::spawn_with(flags).await;
        app.post_with(
            None,
            json!({ "query": "{ health }" }),
            &[
                ("x-forwarded-for", "198.51.100.1, 203.0.113.7"),
                ("x-request-id", "xff"),
                ("user-agent", "probe/1.0"),
            ],
        )
        .await;
        app.stop().await;
        let row = count(
            &app,
            &format!(
                "SELECT count(*) FROM screenplay.audit_logs WHERE request_id = 'xff' AND host(ip) = '{expected}' AND user_agent = 'probe/1.0'"
            ),
        )
        .await;
        assert_eq!(row, 1, "trusted={trusted}");
    }
}

#[tokio::test]
async fn over_limit_requests_are_refused_before_any_write() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("limited").await;
    app.gql(
        Some(&app.platform_token()),
        "mutation($i: UpdateTenantInput!) { updateTenant(input: $i) { tenant { limits { requestsPerMinute } } } }",
        json!({ "i": { "id": fx.id, "limits": { "requestsPerMinute": 5 } } }),
    )
    .await;
    let mut statuses = Vec::new();
    let mut refused_body = Value::Null;
    let mut retry_after = None;
    for i in 0..8 {
        let (status, headers, body) = app
            .post_with(
                Some(&fx.admin_token),
                json!({ "query": "mutation($i: CreateWorkspaceInput!) { createWorkspace(input: $i) { workspace { id } } }",
                        "variables": { "i": { "name": format!("R{i}"), "slug": format!("r-{i}") } } }),
                &[],
            )
            .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            refused_body = body;
            retry_after = headers
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
        }
        statuses.push(status);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count(),
        3
    );
    assert_eq!(refused_body["errors"][0]["extensions"]["code"], "RATE_LIMITED");
    let wait = refused_body["errors"][0]["extensions"]["retryAfterSeconds"]
        .as_u64()
        .expect("retryAfterSeconds");
    assert!((1..=12).contains(&wait), "{wait}");
    assert_eq!(retry_after.as_deref(), Some(wait.to_string().as_str()));
    // Refused requests wrote nothing.
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT count(*) FROM screenplay.workspaces WHERE tenant_id = '{}'",
                fx.id
            )
        )
        .await,
        5
    );
    // Other tenants are not affected.
    let other = app.tenant("free").await;
    app.gql(Some(&other.admin_token), "{ me { role } }", json!({})).await;
}

#[tokio::test]
async fn sigterm_during_load_loses_no_audit_row_of_an_answered_request() {
    let db = TestDb::create().await;
    let probe = TestApp::spawn_on(db.clone(), &[]).await;
    let fx = probe.tenant("term").await;
    let mut server = ServerProcess::spawn(&db, &[]).await;
    let url = server.url("/graphql");
    let client = reqwest::Client::new();
    let mut tasks = Vec::new();
    for i in 0..300 {
        let (client, url, token) = (client.clone(), url.clone(), fx.admin_token.clone());
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(i as u64 * 2)).await;
            let body = if i % 3 == 0 {
                json!({ "query": "mutation($i: CreateWorkspaceInput!) { createWorkspace(input: $i) { workspace { id } } }",
                        "variables": { "i": { "name": format!("T{i}"), "slug": format!("t-{i}") } } })
            } else {
                json!({ "query": "{ me { role } workspaces { totalCount } }" })
            };
            let resp = client
                .post(&url)
                .bearer_auth(token)
                .header("x-request-id", format!("term-{i}"))
                .json(&body)
                .send()
                .await;
            match resp {
                Ok(r) if r.status() == StatusCode::OK => r.json::<Value>().await.ok().map(|_| i),
                _ => None,
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(250)).await;
    server.terminate();
    let mut answered = Vec::new();
    for t in tasks {
        if let Some(i) = t.await.expect("task") {
            answered.push(i);
        }
    }
    let status = server.wait().await;
    assert!(status.success(), "{status}");
    assert!(
        !answered.is_empty() && answered.len() < 300,
        "the signal should land mid-load: {}",
        answered.len()
    );
    let ids = answered
        .iter()
        .map(|i| format!("'term-{i}'"))
        .collect::<Vec<_>>()
        .join(",");
    let rows = count(
        &probe,
        &format!("SELECT count(DISTINCT request_id) FROM screenplay.audit_logs WHERE request_id IN ({ids})"),
    )
    .await;
    assert_eq!(rows as usize, answered.len(), "answered requests without an audit row");
}

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

#[tokio::test]
async fn automatic_persisted_queries_and_allow_list_mode() {
    use sha2::{Digest, Sha256};
    let app = TestApp::spawn().await;
    let query = "{ health version }";
    let hash = hex::encode(Sha256::digest(query.as_bytes()));
    let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });

    // Unknown hash: the client is told to send the query.
    let (_, _, body) = app.post_with(None, json!({ "extensions": ext }), &[]).await;
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound");
    assert_eq!(body["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_FOUND");
    // Hash and query: registered and answered.
    let (_, _, body) = app
        .post_with(None, json!({ "query": query, "extensions": ext }), &[])
        .await;
    assert_eq!(body["data"]["health"], "ok");
    // Hash only, also over GET.
    let (_, _, body) = app.post_with(None, json!({ "extensions": ext }), &[]).await;
    assert_eq!(body["data"]["health"], "ok");
    let resp = app
        .client
        .get(app.url("/graphql"))
        .query(&[("extensions", ext.to_string())])
        .send()
        .await
        .expect("get");
    assert_eq!(
        resp.json::<Value>().await.expect("json")["data"]["version"],
        env!("CARGO_PKG_VERSION")
    );
    // A hash that does not match its query is refused.
    let wrong = json!({ "persistedQuery": { "version": 1, "sha256Hash": hex::encode([0u8; 32]) } });
    let (_, _, body) = app
        .post_with(None, json!({ "query": query, "extensions": wrong }), &[])
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST");

    // Allow-list mode: only the manifest's operations run.
    let dir = std::env::temp_dir().join(format!("pq-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let manifest = dir.join("manifest.json");
    std::fs::write(
        &manifest,
        json!({ "operations": [{ "id": hash, "name": "Health", "type": "query", "body": query }] }).to_string(),
    )
    .expect("manifest");
    let strict = TestApp::spawn_with(&[
        "--persisted-queries",
        manifest.to_str().expect("path"),
        "--persisted-only",
        "true",
    ])
    .await;
    let (_, _, body) = strict.post_with(None, json!({ "extensions": ext }), &[]).await;
    assert_eq!(body["data"]["health"], "ok");
    let (_, _, body) = strict.post_with(None, json!({ "query": query }), &[]).await;
    assert_eq!(body["data"]["health"], "ok", "the manifest's text is accepted as is");
    let (_, _, body) = strict.post_with(None, json!({ "query": "{ version }" }), &[]).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_ALLOWED");
    let other =
        json!({ "persistedQuery": { "version": 1, "sha256Hash": hex::encode(Sha256::digest(b"{ version }")) } });
    let (_, _, body) = strict
        .post_with(None, json!({ "query": "{ version }", "extensions": other }), &[])
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_ALLOWED");
}

#[tokio::test]
async fn depth_complexity_body_and_introspection_limits() {
    let app = TestApp::spawn_with(&["--anon-max-depth", "2", "--max-depth", "3", "--body-limit", "4096"]).await;
    let fx = app.tenant("limits").await;
    let depth3 = "{ me { user { id } } }";
    // Signed in: depth 3 is fine. Anonymous: limited to 2 (refused before execution).
    app.gql(Some(&fx.admin_token), depth3, json!({})).await;
    let (_, body) = app.post(None, depth3, json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED");
    let (_, body) = app
        .post(
            Some(&fx.admin_token),
            "{ me { tenant { limits { maxDocuments } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "depth 4 > 3: {body}"
    );

    let big = "x".repeat(8000);
    let resp = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": "{ health }", "variables": { "pad": big } }))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let introspection = "{ __schema { queryType { name } } }";
    assert_eq!(
        app.gql(Some(&fx.admin_token), introspection, json!({})).await["__schema"]["queryType"]["name"],
        "Query"
    );
    let closed = TestApp::spawn_with(&["--introspection", "false"]).await;
    let token = closed.platform_token();
    let (_, body) = closed.post(Some(&token), introspection, json!({})).await;
    // Disabled introspection answers nothing about the schema.
    assert!(
        body["data"]["__schema"].is_null(),
        "introspection must be refused: {body}"
    );
    let (_, body) = closed
        .post(
            Some(&token),
            "{ __type(name: \"Query\") { fields { name } } }",
            json!({}),
        )
        .await;
    assert!(body["data"]["__type"].is_null(), "{body}");
}

#[tokio::test]
async fn each_websocket_operation_is_audited() {
    use crate::helpers::ws::WsClient;

    let mut app = TestApp::spawn().await;
    let s = app.studio("wsaudit").await;
    let session = app.create_session(&s.fx.admin_token, s.workspace, "Watched").await;
    let mut ws = WsClient::connect(app.addr, &s.fx.admin_token).await;
    // A query and a mutation over the socket, then a subscription.
    async fn answer_of(ws: &mut WsClient, id: &str) -> Value {
        loop {
            let frame = ws.next(Duration::from_secs(10)).await.expect("an answer");
            if frame["type"] == "next" && frame["id"] == id {
                return frame["payload"].clone();
            }
        }
    }
    ws.subscribe("q1", "query OverSocket { me { role } }", json!({})).await;
    let answer = answer_of(&mut ws, "q1").await;
    assert_eq!(answer["data"]["me"]["role"], "TENANT_ADMIN");
    ws.subscribe(
        "m1",
        "mutation RenameOverSocket($i: UpdateSessionInput!) { updateSession(input: $i) { session { title } } }",
        json!({ "i": { "id": session, "version": 1, "title": "Renamed over the socket" } }),
    )
    .await;
    let answer = answer_of(&mut ws, "m1").await;
    assert_eq!(
        answer["data"]["updateSession"]["session"]["title"],
        "Renamed over the socket"
    );
    async fn frame_of(ws: &mut WsClient, id: &str) -> Value {
        loop {
            let frame = ws.next(Duration::from_secs(10)).await.expect("a frame");
            if frame["id"] == id {
                return frame;
            }
        }
    }
    // A broken document on the socket is audited too.
    ws.subscribe("bad", "subscription { nope }", json!({})).await;
    let refused = frame_of(&mut ws, "bad").await;
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "{refused}"
    );
    assert_eq!(frame_of(&mut ws, "bad").await["type"], "complete");
    // A subscription: audited when it starts delivering.
    let steps = app
        .set_outline(&s.fx.admin_token, session, json!([{ "title": "Act" }]))
        .await;
    ws.subscribe(
        "s1",
        "subscription Watch($id: UUID!) { sessionEvents(sessionId: $id) { __typename } }",
        json!({ "id": session }),
    )
    .await;
    let token = s.fx.admin_token.clone();
    crate::helpers::ws::until_live(&mut [&mut ws], || async {
        app.append(&token, session, steps[0], "ACTION", "Wind.").await;
    })
    .await;
    drop(ws);
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.stop().await;

    let owner = app.owner().await;
    for (name, kind) in [
        ("OverSocket", "query"),
        ("RenameOverSocket", "mutation"),
        ("Watch", "subscription"),
    ] {
        let rows = scalar_i64(
            &owner,
            &format!(
                "SELECT count(*) FROM screenplay.audit_logs WHERE operation_name = '{name}' AND operation_type = '{kind}' \
                 AND tenant_id = '{}' AND outcome = 'ok'",
                s.fx.id
            ),
        )
        .await;
        assert_eq!(rows, 1, "{name}");
    }
    let failed = scalar_i64(
        &owner,
        &format!(
            "SELECT count(*) FROM screenplay.audit_logs WHERE tenant_id = '{}' AND error_codes = '{{GRAPHQL_VALIDATION_FAILED}}'",
            s.fx.id
        ),
    )
    .await;
    assert_eq!(failed, 1);
    // Each operation on the connection has its own request id.
    let ids = scalar_i64(
        &owner,
        &format!(
            "SELECT count(DISTINCT request_id) FROM screenplay.audit_logs WHERE tenant_id = '{}' \
             AND operation_name IN ('OverSocket', 'RenameOverSocket', 'Watch')",
            s.fx.id
        ),
    )
    .await;
    assert_eq!(ids, 3);
}

#[tokio::test]
async fn searches_that_embed_their_query_respect_the_embedding_token_limit() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("embq").await;
    let workspace = app.workspace(&fx, "Refs").await;
    app.ingest(
        &fx.admin_token,
        workspace,
        json!([{ "sourcePath": "a.md", "content": "A lighthouse keeper watches the storm." }]),
    )
    .await;
    // The month's embedding tokens are spent: a limit of 1 is already passed.
    app.gql(
        Some(&app.platform_token()),
        "mutation($i: UpdateTenantInput!) { updateTenant(input: $i) { tenant { id } } }",
        json!({ "i": { "id": fx.id, "limits": { "embeddingTokensPerMonth": 1 } } }),
    )
    .await;
    let search = "query($i: SearchDocumentsInput!) { searchDocuments(input: $i) { score } }";
    let (_, body) = app
        .post(
            Some(&fx.admin_token),
            search,
            json!({ "i": { "workspaceId": workspace, "query": "storm", "mode": "HYBRID" } }),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "QUOTA_EXCEEDED", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["metric"], "embedding_tokens");
    // Keyword search embeds nothing and still works.
    let data = app
        .gql(
            Some(&fx.admin_token),
            search,
            json!({ "i": { "workspaceId": workspace, "query": "storm", "mode": "KEYWORD" } }),
        )
        .await;
    assert_eq!(data["searchDocuments"].as_array().expect("hits").len(), 1);
}
