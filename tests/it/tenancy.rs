//! Tenants never see each other: through the API (every id-taking field
//! answers NOT_FOUND for another tenant's id) and in the database itself
//! (row-level security for the app role, whatever the query).

use screenplay_api::auth::Role;
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{TestApp, assert_invisible, fixtures::TenantFixture, scalar};

/// Every table with a tenant_id column.
const TENANT_TABLES: [&str; 13] = [
    "users",
    "refresh_tokens",
    "workspaces",
    "screenplay_sessions",
    "outline_steps",
    "screenplay_fragments",
    "fragment_versions",
    "code_documents",
    "retrieved_documents",
    "execution_logs",
    "llm_call_logs",
    "audit_logs",
    "quota_usage",
];

/// Puts one row in every tenant-owned table for `tenant` (as the owner).
async fn seed_every_table(app: &TestApp, fx: &TenantFixture) {
    let owner = app.owner().await;
    let t = fx.id;
    let u = fx.admin_id;
    let (ws, s, st, fr, doc) = (
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
    );
    let sql = format!(
        "INSERT INTO screenplay.refresh_tokens (tenant_id, user_id, family_id, token_hash, expires_at)
             VALUES ('{t}', '{u}', gen_random_uuid(), gen_random_uuid()::text::bytea, now() + interval '1 day');
         INSERT INTO screenplay.workspaces (id, tenant_id, name, slug) VALUES ('{ws}', '{t}', 'W', 'w-{ws}');
         INSERT INTO screenplay.screenplay_sessions (id, tenant_id, workspace_id, title) VALUES ('{s}', '{t}', '{ws}', 'S');
         INSERT INTO screenplay.outline_steps (id, tenant_id, session_id, position, title) VALUES ('{st}', '{t}', '{s}', 0, 'Act');
         INSERT INTO screenplay.screenplay_fragments (id, tenant_id, session_id, step_id, position, kind, content)
             VALUES ('{fr}', '{t}', '{s}', '{st}', 0, 'action', 'Rain.');
         INSERT INTO screenplay.fragment_versions (tenant_id, fragment_id, version, content, origin, created_at)
             VALUES ('{t}', '{fr}', 1, 'Drizzle.', 'new', now());
         INSERT INTO screenplay.code_documents (id, tenant_id, workspace_id, source_path, title, content, content_hash)
             VALUES ('{doc}', '{t}', '{ws}', 'a.md', 'A', 'text', md5('{doc}'));
         INSERT INTO screenplay.retrieved_documents (tenant_id, session_id, step_id, document_id, method, score, rank)
             VALUES ('{t}', '{s}', '{st}', '{doc}', 'vector', 0.9, 1);
         INSERT INTO screenplay.execution_logs (tenant_id, session_id, step_id, agent_name, action, status, started_at)
             VALUES ('{t}', '{s}', '{st}', 'writer', 'write', 'succeeded', now());
         INSERT INTO screenplay.llm_call_logs (tenant_id, session_id, provider, model, status)
             VALUES ('{t}', '{s}', 'openai', 'gpt', 'succeeded');
         INSERT INTO screenplay.audit_logs (tenant_id, request_id, outcome) VALUES ('{t}', 'r', 'ok');
         INSERT INTO screenplay.quota_usage (tenant_id, metric, bucket_start, value)
             VALUES ('{t}', 'requests', date_trunc('hour', now()), 1);"
    );
    owner.execute_unprepared(&sql).await.expect("seed");
}

async fn count_where(db: &impl ConnectionTrait, table: &str, filter: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT count(*) FROM screenplay.{table} WHERE {filter}"),
        ))
        .await
        .unwrap_or_else(|e| panic!("{table}: {e}"))
        .expect("row");
    row.try_get_by_index::<i64>(0).expect("count")
}

#[tokio::test]
async fn row_level_security_hides_other_tenants_from_the_app_role() {
    let app = TestApp::spawn().await;
    let a = app.tenant("rls-a").await;
    let b = app.tenant("rls-b").await;
    seed_every_table(&app, &a).await;
    seed_every_table(&app, &b).await;
    let owner = app.owner().await;
    for table in TENANT_TABLES {
        assert!(
            count_where(&owner, table, &format!("tenant_id = '{}'", a.id)).await > 0,
            "{table} not seeded"
        );
    }

    let app_conn = app.db.app().await;
    // No tenant set, a malformed one, an unknown one: nothing at all.
    for setting in [None, Some("not-a-uuid".to_owned()), Some(Uuid::new_v4().to_string())] {
        let tx = app_conn.begin().await.expect("begin");
        if let Some(value) = &setting {
            tx.execute_unprepared(&format!("SET LOCAL app.tenant_id = '{value}'"))
                .await
                .expect("set");
        }
        for table in TENANT_TABLES {
            assert_eq!(
                count_where(&tx, table, "true").await,
                0,
                "{table} visible with app.tenant_id={setting:?}"
            );
        }
        assert_eq!(count_where(&tx, "tenants", "true").await, 0);
        tx.rollback().await.expect("rollback");
    }

    // Tenant B's setting: B's rows only, whatever the WHERE clause asks for.
    let tx = app_conn.begin().await.expect("begin");
    tx.execute_unprepared(&format!("SET LOCAL app.tenant_id = '{}'", b.id))
        .await
        .expect("set");
    for table in TENANT_TABLES {
        assert_eq!(
            count_where(&tx, table, &format!("tenant_id = '{}'", a.id)).await,
            0,
            "{table} leaks A to B"
        );
        assert!(count_where(&tx, table, "true").await > 0, "{table} hides B from B");
    }
    assert_eq!(count_where(&tx, "tenants", &format!("id = '{}'", a.id)).await, 0);
    // Writing a row for A while scoped to B is refused.
    let err = tx
        .execute_unprepared(&format!(
            "INSERT INTO screenplay.workspaces (tenant_id, name, slug) VALUES ('{}', 'x', 'x')",
            a.id
        ))
        .await
        .expect_err("cross-tenant insert must fail");
    assert!(err.to_string().contains("row-level security"), "{err}");
    tx.rollback().await.expect("rollback");

    // The app role cannot reach a log partition directly (which would bypass the parent's policy).
    let partition = {
        let row = owner
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                // Qualified whatever the owner's search_path (which includes screenplay).
                "SELECT format('%I.%I', c.relnamespace::regnamespace, c.relname) FROM pg_inherits i \
                 JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'screenplay.audit_logs'::regclass LIMIT 1",
            ))
            .await
            .expect("query")
            .expect("row");
        row.try_get_by_index::<String>(0).expect("name")
    };
    let err = app_conn
        .execute_unprepared(&format!("SELECT * FROM {partition}"))
        .await
        .expect_err("partition must not be readable");
    assert!(err.to_string().contains("permission denied"), "{err}");

    // And the app role is neither owner, superuser nor BYPASSRLS.
    let row = app_conn
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user",
        ))
        .await
        .expect("query")
        .expect("row");
    assert!(!row.try_get_by_index::<bool>(0).expect("bool"));
}

#[tokio::test]
async fn another_tenants_ids_are_not_found() {
    let app = TestApp::spawn().await;
    let a = app.tenant("xa").await;
    let b = app.tenant("xb").await;
    let a_member = app.user(&a, Role::Member).await;
    let a_workspace = app.workspace(&a, "A's workspace").await;
    let b_token = b.admin_token.clone();

    let probes: Vec<(&str, serde_json::Value)> = vec![
        (
            "query($id: UUID!) { user(id: $id) { id email } }",
            json!({ "id": a_member.id }),
        ),
        (
            "query($id: UUID!) { workspace(id: $id) { id name } }",
            json!({ "id": a_workspace }),
        ),
        (
            "mutation($id: UUID!) { updateUser(input: {id: $id, displayName: \"pwned\"}) { user { id } } }",
            json!({ "id": a_member.id }),
        ),
        (
            "mutation($id: UUID!) { disableUser(id: $id) { user { id } } }",
            json!({ "id": a_member.id }),
        ),
        (
            "mutation($id: UUID!) { enableUser(id: $id) { user { id } } }",
            json!({ "id": a_member.id }),
        ),
        (
            "mutation($id: UUID!) { updateWorkspace(input: {id: $id, name: \"pwned\"}) { workspace { id } } }",
            json!({ "id": a_workspace }),
        ),
        (
            "mutation($id: UUID!) { archiveWorkspace(id: $id) { workspace { id } } }",
            json!({ "id": a_workspace }),
        ),
    ];
    for (query, vars) in probes {
        let (_, body) = app.post(Some(&b_token), query, vars).await;
        assert_invisible(&body, query);
        let text = body.to_string();
        assert!(
            !text.contains("pwned") && !text.contains("A's workspace") && !text.contains("@example.test"),
            "{text}"
        );
    }

    // A's rows are unchanged.
    let owner = app.owner().await;
    assert_eq!(
        count_where(&owner, "users", "display_name = 'pwned' OR status = 'disabled'").await,
        0
    );
    assert_eq!(
        count_where(&owner, "workspaces", "name = 'pwned' OR status = 'archived'").await,
        0
    );

    // Lists and nested fields only ever show the caller's tenant.
    let data = app
        .gql(
            Some(&b_token),
            "{ me { tenant { id } } users { totalCount edges { node { tenantId } } } workspaces { totalCount edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["me"]["tenant"]["id"], b.id.to_string());
    assert_eq!(data["users"]["totalCount"], 1);
    for edge in data["users"]["edges"].as_array().expect("edges") {
        assert_eq!(edge["node"]["tenantId"], b.id.to_string());
    }
    assert_eq!(data["workspaces"]["totalCount"], 0);
}

/// The first statement of every request finds its caller through an index,
/// by id or by external subject, however many users the tenant has.
#[tokio::test]
async fn the_caller_is_found_through_an_index_in_a_large_tenant() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("crowd").await;
    let owner = app.owner().await;
    owner
        .execute_unprepared(&format!(
            "INSERT INTO screenplay.users (tenant_id, email, display_name, role) \
             SELECT '{t}', 'u' || g || '@crowd.test', 'U' || g, 'member' FROM generate_series(1, 5000) g; \
             INSERT INTO screenplay.users (tenant_id, email, display_name, role, external_subject) \
             VALUES ('{t}', 'idp@crowd.test', 'From the provider', 'agent', 'idp|last'); \
             ANALYZE screenplay.users",
            t = fx.id
        ))
        .await
        .expect("seed users");
    let last = scalar::<Uuid>(
        &owner,
        "SELECT id FROM screenplay.users WHERE email = 'u5000@crowd.test'",
    )
    .await;
    let provider = scalar::<Uuid>(&owner, "SELECT id FROM screenplay.users WHERE email = 'idp@crowd.test'").await;
    let cases = [
        (last.to_string(), Some(last)),
        ("idp|last".to_owned(), Some(provider)),
        // The id's text in another form matched nothing before either.
        (last.to_string().to_uppercase(), None),
        ("not-a-user".to_owned(), None),
    ];
    for (subject, expected) in cases {
        let tx = owner.begin().await.expect("begin");
        // A delta: the view also holds counts of earlier transactions of
        // this connection that are not flushed yet.
        let before = users_read(&tx).await;
        let found = tx
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT user_id FROM screenplay.begin_tenant_request($1, $2)",
                [fx.id.into(), subject.clone().into()],
            ))
            .await
            .expect("begin_tenant_request")
            .expect("row")
            .try_get_by_index::<Option<Uuid>>(0)
            .expect("user_id");
        assert_eq!(found, expected, "{subject}");
        let read = users_read(&tx).await - before;
        assert!(read <= 2, "{subject}: {read} users read to find the caller");
        tx.rollback().await.expect("rollback");
    }
}

/// Rows of `users` this connection has read (sequentially or by index).
async fn users_read(tx: &impl ConnectionTrait) -> i64 {
    tx.query_one_raw(Statement::from_string(
        DbBackend::Postgres,
        "SELECT (coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0))::int8 \
         FROM pg_stat_xact_user_tables WHERE relid = 'screenplay.users'::regclass",
    ))
    .await
    .expect("stats")
    .expect("row")
    .try_get_by_index::<i64>(0)
    .expect("rows read")
}

/// `current_tenant_id`, in every policy of the app role, is inlined into
/// the statements: as a call it ran as a query of its own, once per table
/// a statement read (migration 0101).
#[tokio::test]
async fn the_tenant_condition_is_inlined() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("inlined").await;
    let app_conn = app.db.app().await;
    let tx = app_conn.begin().await.expect("begin");
    // Upper case, as the policies have always accepted it.
    tx.execute_unprepared(&format!(
        "SET LOCAL app.tenant_id = '{}'",
        fx.id.to_string().to_uppercase()
    ))
    .await
    .expect("set");
    assert!(count_where(&tx, "users", "true").await > 0, "the tenant's users hidden");
    let plan = crate::helpers::explain(&tx, "SELECT id FROM screenplay.users").await;
    assert!(
        !plan.contains("current_tenant_id") && plan.contains("current_setting"),
        "policy not inlined:\n{plan}"
    );
    tx.rollback().await.expect("rollback");
}
