//! The foundation: migrations, the catalog they leave, the HTTP surface.

use std::{collections::BTreeSet, time::Duration};

use migration::{Migrator, MigratorTrait};
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestDb, error_code, process::ServerProcess, proxy::TcpProxy};

/// The twelve tables of the seed design.
const SEED_TABLES: [&str; 12] = [
    "tenants",
    "users",
    "workspaces",
    "screenplay_sessions",
    "outline_steps",
    "screenplay_fragments",
    "retrieved_documents",
    "code_documents",
    "execution_logs",
    "llm_call_logs",
    "audit_logs",
    "quota_usage",
];

const LOG_TABLES: [&str; 4] = ["execution_logs", "llm_call_logs", "audit_logs", "quota_usage"];

async fn rows(db: &impl ConnectionTrait, sql: &str) -> Vec<Vec<String>> {
    db.query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|row| {
            let n = row.column_names().len();
            (0..n)
                .map(|i| {
                    row.try_get_by_index::<Option<String>>(i)
                        .expect("text column")
                        .unwrap_or_default()
                })
                .collect()
        })
        .collect()
}

/// Everything migrations create in a database, as comparable text.
async fn catalog(db: &DatabaseConnection) -> BTreeSet<String> {
    let queries = [
        "SELECT 'column', table_name, column_name, data_type || '/' || udt_name || '/' || is_nullable || '/' || \
                coalesce(column_default, '') || '/' || coalesce(generation_expression, '') \
         FROM information_schema.columns WHERE table_schema = 'screenplay'",
        "SELECT 'index', tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'screenplay'",
        "SELECT 'constraint', conrelid::regclass::text, conname, pg_get_constraintdef(oid) \
         FROM pg_constraint WHERE connamespace = to_regnamespace('screenplay')",
        "SELECT 'function', proname, pg_get_function_identity_arguments(oid), md5(pg_get_functiondef(oid)) \
         FROM pg_proc WHERE pronamespace = to_regnamespace('screenplay')",
        "SELECT 'view', viewname, '', md5(definition) FROM pg_views WHERE schemaname = 'screenplay'",
        "SELECT 'policy', tablename, policyname, cmd || '/' || roles::text || '/' || coalesce(qual, '') || '/' || \
                coalesce(with_check, '') FROM pg_policies WHERE schemaname = 'screenplay'",
        "SELECT 'trigger', tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) FROM pg_trigger \
         WHERE NOT tgisinternal \
           AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = to_regnamespace('screenplay'))",
        "SELECT 'relation', relname, relkind::text, relrowsecurity::text || '/' || relforcerowsecurity::text \
         FROM pg_class WHERE relnamespace = to_regnamespace('screenplay')",
        "SELECT 'grant', table_name, grantee, privilege_type FROM information_schema.role_table_grants \
         WHERE table_schema = 'screenplay'",
    ];
    // Names print the same whatever the session's search_path (the owner's
    // includes screenplay once migrated, and is reset by the down migration).
    let tx = db.begin().await.expect("begin");
    tx.execute_unprepared("SET LOCAL search_path = pg_catalog")
        .await
        .expect("search_path");
    let mut out = BTreeSet::new();
    for sql in queries {
        for row in rows(&tx, sql).await {
            out.insert(row.join(" | "));
        }
    }
    tx.rollback().await.expect("rollback");
    out
}

#[tokio::test]
async fn migrations_up_down_up_leave_the_same_catalog() {
    let db = TestDb::create_empty().await;
    screenplay_api::db::migrate_up(&db.owner_url).await.expect("up");
    let owner = db.owner().await;
    let first = catalog(&owner).await;
    assert!(first.len() > 200, "suspiciously small catalog: {}", first.len());

    Migrator::down(&owner, None).await.expect("down to zero");
    let schema_left = rows(&owner, "SELECT nspname FROM pg_namespace WHERE nspname = 'screenplay'").await;
    assert!(schema_left.is_empty(), "schema screenplay survived down migrations");
    assert!(catalog(&owner).await.is_empty());

    screenplay_api::db::migrate_up(&db.owner_url).await.expect("up again");
    let second = catalog(&owner).await;
    let only_first: Vec<_> = first.difference(&second).collect();
    let only_second: Vec<_> = second.difference(&first).collect();
    assert!(
        only_first.is_empty() && only_second.is_empty(),
        "catalog differs after up/down/up:\nonly before: {only_first:#?}\nonly after: {only_second:#?}"
    );
}

#[tokio::test]
async fn catalog_has_every_table_extension_and_index() {
    let db = TestDb::create().await;
    let owner = db.owner().await;

    let tables: BTreeSet<String> = rows(
        &owner,
        "SELECT relname FROM pg_class WHERE relnamespace = 'screenplay'::regnamespace AND relkind IN ('r', 'p') \
         AND NOT relispartition",
    )
    .await
    .into_iter()
    .map(|r| r[0].clone())
    .collect();
    for table in SEED_TABLES {
        assert!(tables.contains(table), "table {table} missing; have {tables:?}");
    }

    let extensions = rows(&owner, "SELECT extname, extversion FROM pg_extension").await;
    let version = |name: &str| extensions.iter().find(|r| r[0] == name).map(|r| r[1].clone());
    let vector = version("vector").expect("extension vector");
    let (major, minor) = vector.split_once('.').expect("version");
    let minor: u32 = minor.split('.').next().and_then(|m| m.parse().ok()).expect("minor");
    assert!(
        major.parse::<u32>().expect("major") > 0 || minor >= 8,
        "pgvector {vector} < 0.8"
    );
    assert!(version("pg_trgm").is_some(), "extension pg_trgm missing");

    let embedding_type = rows(
        &owner,
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute \
         WHERE attrelid = 'screenplay.code_documents'::regclass AND attname = 'embedding'",
    )
    .await;
    assert_eq!(embedding_type[0][0], "vector(1536)");

    let indexdef = |name: &'static str| {
        let owner = &owner;
        async move {
            rows(
                owner,
                &format!("SELECT indexdef FROM pg_indexes WHERE indexname = '{name}'"),
            )
            .await
            .first()
            .map(|r| r[0].clone())
            .unwrap_or_else(|| panic!("index {name} missing"))
        }
    };
    let hnsw = indexdef("code_documents_embedding_hnsw_idx").await;
    assert!(
        hnsw.contains("USING hnsw") && hnsw.contains("vector_cosine_ops"),
        "{hnsw}"
    );
    let gin = indexdef("code_documents_search_vector_idx").await;
    assert!(gin.contains("USING gin") && gin.contains("search_vector"), "{gin}");
    let trgm = indexdef("code_documents_content_trgm_idx").await;
    assert!(trgm.contains("gin_trgm_ops"), "{trgm}");

    // Every foreign key is served by an index: one led by its last (most
    // selective) column, or one whose leading columns are exactly its columns.
    let unindexed = rows(
        &owner,
        "SELECT c.conrelid::regclass::text, c.conname FROM pg_constraint c \
         WHERE c.contype = 'f' AND c.connamespace = 'screenplay'::regnamespace \
           AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid \
                           AND i.indkey[0] = c.conkey[array_length(c.conkey, 1)]) \
           AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid \
                           AND (i.indkey::int2[])[0:array_length(c.conkey, 1) - 1] @> c.conkey)",
    )
    .await;
    assert!(unindexed.is_empty(), "foreign keys without an index: {unindexed:?}");

    for table in LOG_TABLES {
        let kind = rows(
            &owner,
            &format!("SELECT relkind::text FROM pg_class WHERE oid = 'screenplay.{table}'::regclass"),
        )
        .await;
        assert_eq!(kind[0][0], "p", "{table} is not partitioned");
        let time_col = if table == "quota_usage" {
            "bucket_start"
        } else {
            "created_at"
        };
        let idx = rows(
            &owner,
            &format!(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = 'screenplay' AND tablename = '{table}' \
                 AND indexdef LIKE '%(tenant_id, {time_col})%'"
            ),
        )
        .await;
        assert!(!idx.is_empty(), "{table} lacks an index on (tenant_id, {time_col})");
        let parts = rows(
            &owner,
            &format!("SELECT count(*)::text FROM pg_inherits WHERE inhparent = 'screenplay.{table}'::regclass"),
        )
        .await;
        assert!(
            parts[0][0].parse::<i64>().expect("count") >= 4,
            "{table} has too few partitions"
        );
    }

    // Row-level security is enabled on every tenant-owned table, and not
    // forced: the owner (the DBA's role) is exempt, so pg_dump runs as the
    // seed writes it; every other role is filtered.
    let unprotected = rows(
        &owner,
        "SELECT c.relname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' \
         WHERE c.relnamespace = 'screenplay'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition \
           AND NOT (c.relrowsecurity AND NOT c.relforcerowsecurity)",
    )
    .await;
    assert!(
        unprotected.is_empty(),
        "tables without RLS (or with FORCE): {unprotected:?}"
    );

    // updated_at is kept by the database on every table that has it.
    let untriggered = rows(
        &owner,
        "SELECT c.relname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'updated_at' \
         WHERE c.relnamespace = 'screenplay'::regnamespace AND c.relkind = 'r' AND NOT c.relispartition \
           AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgname LIKE '%set_updated_at')",
    )
    .await;
    assert!(untriggered.is_empty(), "updated_at without trigger: {untriggered:?}");
}

#[tokio::test]
async fn graphql_request_through_the_router() {
    let app = TestApp::spawn().await;
    let data = app.gql(None, "{ health version databaseReady }", json!({})).await;
    assert_eq!(data["health"], "ok");
    assert_eq!(data["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(data["databaseReady"], true);

    let resp = app.client.get(app.url("/healthz")).send().await.expect("healthz");
    assert_eq!(resp.status(), StatusCode::OK);
    let id = resp
        .headers()
        .get("x-request-id")
        .expect("request id")
        .to_str()
        .expect("ascii");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");

    // A well-formed incoming request id is kept, a malformed one replaced.
    let kept = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "client-trace.42")
        .send()
        .await
        .expect("healthz");
    assert_eq!(kept.headers()["x-request-id"], "client-trace.42");
    let replaced = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "bad id <script>")
        .send()
        .await
        .expect("healthz");
    assert_ne!(replaced.headers()["x-request-id"], "bad id <script>");
}

#[tokio::test]
async fn graphiql_is_served_to_browsers() {
    let app = TestApp::spawn().await;
    let resp = app
        .client
        .get(app.url("/graphql"))
        .header("accept", "text/html")
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/html")
    );
    let body = resp.text().await.expect("body");
    assert!(body.to_lowercase().contains("graphiql"), "not a GraphiQL page");

    let off = TestApp::spawn_with(&["--graphiql", "false"]).await;
    let resp = off
        .client
        .get(off.url("/graphql"))
        .header("accept", "text/html")
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn bad_graphql_gets_clear_errors_and_http_statuses() {
    let app = TestApp::spawn().await;
    let send = |body: Value, accept: &'static str| {
        let req = app
            .client
            .post(app.url("/graphql"))
            .header("accept", accept)
            .json(&body);
        async move {
            let resp = req.send().await.expect("send");
            let status = resp.status();
            (status, resp.json::<Value>().await.expect("json"))
        }
    };

    // Plain application/json: GraphQL errors ride on 200.
    let (status, body) = send(json!({ "query": "{ health " }), "application/json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(error_code(&body).as_deref(), Some("GRAPHQL_PARSE_FAILED"));
    assert!(body["errors"][0]["locations"].is_array());

    // application/graphql-response+json: request errors are 400.
    let (status, body) = send(json!({ "query": "{ health " }), "application/graphql-response+json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body).as_deref(), Some("GRAPHQL_PARSE_FAILED"));

    let (status, body) = send(
        json!({ "query": "{ health nope }" }),
        "application/graphql-response+json",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body).as_deref(), Some("GRAPHQL_VALIDATION_FAILED"));
    assert!(body["errors"][0]["message"].as_str().expect("message").contains("nope"));

    let (status, body) = send(json!({ "query": "{ health nope }" }), "application/json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(error_code(&body).as_deref(), Some("GRAPHQL_VALIDATION_FAILED"));

    // Not a GraphQL request at all.
    let resp = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(error_code(&body).as_deref(), Some("BAD_REQUEST"));

    // Mutations are not accepted over GET.
    let resp = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", "mutation { logout(input: {refreshToken: \"x\"}) { ok } }")])
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);

    // Queries are.
    let resp = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", "{ health }")])
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<Value>().await.expect("json")["data"]["health"], "ok");
}

#[tokio::test]
async fn readyz_follows_the_database() {
    let db = TestDb::create().await;
    let target: std::net::SocketAddr = {
        let url = url::Url::parse(&db.app_url).expect("url");
        format!("127.0.0.1:{}", url.port().expect("port"))
            .parse()
            .expect("addr")
    };
    let proxy = TcpProxy::start(target).await;
    let mut proxied = url::Url::parse(&db.app_url).expect("url");
    proxied.set_port(Some(proxy.addr.port())).expect("port");
    let app = TestApp::spawn_on_url(db.clone(), proxied.to_string(), &[]).await;

    let readyz = || async { app.readyz().await.0 };
    assert_eq!(readyz().await, StatusCode::OK);

    proxy.cut().await;
    assert_eq!(readyz().await, StatusCode::SERVICE_UNAVAILABLE);
    let health = app.client.get(app.url("/healthz")).send().await.expect("healthz");
    assert_eq!(
        health.status(),
        StatusCode::OK,
        "liveness must not depend on the database"
    );

    proxy.restore().await;
    let mut status = readyz().await;
    for _ in 0..50 {
        if status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        status = readyz().await;
    }
    assert_eq!(status, StatusCode::OK, "not ready again after the database came back");

    // A pending migration makes the server unready too.
    let owner = db.owner().await;
    Migrator::down(&owner, Some(1)).await.expect("down one");
    let (status, body) = app.readyz().await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body["reason"].as_str().expect("reason").contains("pending"), "{body}");
}

#[test]
fn schema_graphql_matches_the_code() {
    let path = crate::helpers::checkout().join("schema.graphql");
    let committed = std::fs::read_to_string(&path).expect("schema.graphql at the top level");
    let current = screenplay_api::graphql::sdl();
    assert!(
        committed == current,
        "schema.graphql is out of date: run `cargo run -- schema > schema.graphql`"
    );
}

#[tokio::test]
async fn sigterm_stops_the_server_after_in_flight_requests() {
    let db = TestDb::create().await;
    let mut server = ServerProcess::spawn(&db, &[]).await;
    let client = reqwest::Client::new();
    let url = server.url("/graphql");
    let mut requests = Vec::new();
    for _ in 0..40 {
        let client = client.clone();
        let url = url.clone();
        requests.push(tokio::spawn(async move {
            client
                .post(&url)
                .json(&json!({ "query": "{ health databaseReady }" }))
                .send()
                .await
        }));
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    server.terminate();
    let status = server.wait().await;
    assert!(status.success(), "exit status {status}");
    let mut answered = 0;
    for req in requests {
        match req.await.expect("task") {
            Ok(resp) => {
                // Anything that got a response got all of it.
                assert_eq!(resp.status(), StatusCode::OK);
                let body: Value = resp.json().await.expect("complete body");
                assert_eq!(body["data"]["health"], "ok");
                answered += 1;
            }
            Err(e) => assert!(e.is_connect() || e.is_request(), "request broke mid-way: {e}"),
        }
    }
    let after = client.post(&url).json(&json!({ "query": "{ health }" })).send().await;
    assert!(after.is_err(), "still accepting after SIGTERM");
    eprintln!("{answered} of 40 requests answered before shutdown");
}

#[tokio::test]
async fn one_privileged_url_migrates_and_serves_with_row_level_security_intact() {
    use crate::helpers::JWT_SECRET;
    use screenplay_api::{
        auth::{Role, jwt::JwtIssuer},
        config::{AuthConfig, IdpConfig, Secret},
    };

    // A fresh database and only a superuser URL, as someone bringing their own PostgreSQL might.
    let db = TestDb::create_empty().await;
    let superuser = screenplay_api::db::local::LocalUrls::with_database(&db.superuser_url, &db.name);
    let only_url = TestDb {
        app_url: superuser.clone(),
        owner_url: superuser,
        ..db.clone()
    };
    let server = ServerProcess::spawn(&only_url, &[]).await;
    let client = reqwest::Client::new();
    let ready = client.get(server.url("/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), StatusCode::OK, "migrated at start");
    crate::helpers::cluster::add_platform_admin(&only_url.owner_url, "p").await;

    let issuer = JwtIssuer::from_config(&AuthConfig {
        jwt_secret: Some(Secret::new(JWT_SECRET.to_owned())),
        idp: IdpConfig::default(),
        issuer: None,
        audience: None,
        access_token_ttl: Duration::from_secs(600),
        refresh_token_ttl: Duration::from_secs(6000),
        platform_token_max_ttl: std::time::Duration::from_secs(12 * 3600),
    });
    let platform = issuer
        .issue("p", None, Role::PlatformAdmin, Duration::from_secs(600))
        .expect("token")
        .0;
    let gql = |token: String, query: &'static str, vars: Value| {
        let req = client
            .post(server.url("/graphql"))
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": vars }));
        async move { req.send().await.expect("send").json::<Value>().await.expect("json") }
    };
    let mut tenants = Vec::new();
    for slug in ["one", "two"] {
        let body = gql(
            platform.clone(),
            "mutation($i: CreateTenantInput!) { createTenant(input: $i) { tenant { id } admin { id } } }",
            json!({ "i": { "slug": slug, "name": slug, "adminEmail": format!("a@{slug}.test"), "adminPassword": "long enough password" } }),
        )
        .await;
        let t: uuid::Uuid = body["data"]["createTenant"]["tenant"]["id"]
            .as_str()
            .expect("tenant")
            .parse()
            .expect("uuid");
        let a: uuid::Uuid = body["data"]["createTenant"]["admin"]["id"]
            .as_str()
            .expect("admin")
            .parse()
            .expect("uuid");
        tenants.push(
            issuer
                .issue(&a.to_string(), Some(t), Role::TenantAdmin, Duration::from_secs(600))
                .expect("token")
                .0,
        );
    }
    let body = gql(
        tenants[0].clone(),
        "mutation { createWorkspace(input: {name: \"Secret plans\"}) { workspace { id } } }",
        json!({}),
    )
    .await;
    let ws = body["data"]["createWorkspace"]["workspace"]["id"]
        .as_str()
        .expect("workspace")
        .to_owned();
    // The server's connection is a superuser, yet tenant two sees nothing of tenant one.
    let body = gql(
        tenants[1].clone(),
        "query($id: UUID!) { workspace(id: $id) { name } }",
        json!({ "id": ws }),
    )
    .await;
    assert!(
        body.get("errors").is_none() && body["data"]["workspace"].is_null(),
        "{body}"
    );
    let body = gql(tenants[1].clone(), "{ workspaces { totalCount } }", json!({})).await;
    assert_eq!(body["data"]["workspaces"]["totalCount"], 0);
}
