//! Test harness: the cluster, per-test databases, and a running server.

// Shared by every test module; not each module uses every helper.
#![allow(dead_code)]

pub mod audit;
pub mod cluster;
pub mod collector;
pub mod debian;
pub mod docs;
pub mod fixtures;
pub mod fountain;
pub mod idp;
pub mod milvus;
pub mod node;
pub mod pgbouncer;
pub mod process;
pub mod proxy;
pub mod replica;
pub mod rust_source;
pub mod screenplay;
pub mod seed;
pub mod tools;
pub mod ws;

use std::net::SocketAddr;

use reqwest::StatusCode;
use screenplay_api::{
    app::{Application, Running},
    config::{Config, DatabaseArgs, Secret, ServeArgs},
    state::SharedState,
};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::{Value, json};

pub use cluster::TestDb;

/// The checkout under test, read when the test runs: cargo runs test
/// binaries with `CARGO_MANIFEST_DIR` set and in the package's root, while
/// `env!("CARGO_MANIFEST_DIR")` is the checkout the binary was built in,
/// which a checkout of the same sources sharing the target directory (a CI
/// clone) reuses without rebuilding.
pub fn checkout() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::current_dir().expect("the working directory"))
}

/// A server on a fresh database, listening on a random loopback port.
pub struct TestApp {
    pub addr: SocketAddr,
    pub db: TestDb,
    pub state: SharedState,
    pub client: reqwest::Client,
    server: Option<Running>,
}

/// The HS256 secret of test servers.
pub const JWT_SECRET: &str = "9c1f4e7a2b8d05f63a7e1c9b4d2f8a06e5b3c7d19f2a4e6b8c0d1e3f5a7b9c2d";

impl TestApp {
    /// A server with default settings.
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// A server with extra `screenplay serve` flags.
    pub async fn spawn_with(flags: &[&str]) -> Self {
        let db = TestDb::create().await;
        Self::spawn_on(db, flags).await
    }

    /// A server on an existing test database.
    pub async fn spawn_on(db: TestDb, flags: &[&str]) -> Self {
        Self::spawn_on_url(db.clone(), db.app_url.clone(), flags).await
    }

    /// A server whose pool connects through `app_url` (a proxy, say).
    pub async fn spawn_on_url(db: TestDb, app_url: String, flags: &[&str]) -> Self {
        Self::spawn_with_pool(db, app_url, flags, false).await
    }

    /// A server whose pool connects through `app_url`; `pgbouncer` sets
    /// `SCREENPLAY_DB_PGBOUNCER` (PgBouncer in transaction mode in front).
    pub async fn spawn_with_pool(db: TestDb, app_url: String, flags: &[&str], pgbouncer: bool) -> Self {
        let mut database = DatabaseArgs::at(&app_url, Some(&db.owner_url));
        database.pool_size = 8;
        database.pgbouncer = pgbouncer;
        Self::spawn_with_database(db, database, flags).await
    }

    /// A server on a database of its own whose pool holds `size` connections.
    pub async fn spawn_with_pool_size(size: u32) -> Self {
        let db = TestDb::create().await;
        let mut database = DatabaseArgs::at(&db.app_url, Some(&db.owner_url));
        database.pool_size = size;
        Self::spawn_with_database(db, database, &[]).await
    }

    /// A server on `db` whose read-only operations go to `replicas` while
    /// they lag at most `max_lag`.
    pub async fn spawn_with_replicas(db: TestDb, replicas: &[String], max_lag: std::time::Duration) -> Self {
        let mut database = DatabaseArgs::at(&db.app_url, Some(&db.owner_url));
        database.pool_size = 8;
        database.replica_urls = replicas.iter().cloned().map(Secret::new).collect();
        database.replica_max_lag = max_lag;
        Self::spawn_with_database(db, database, &[]).await
    }

    async fn spawn_with_database(db: TestDb, database: DatabaseArgs, flags: &[&str]) -> Self {
        screenplay_api::runtime::init_tls();
        let mut args = vec!["--bind", "127.0.0.1:0", "--jwt-secret", JWT_SECRET, "--no-migrate"];
        args.extend_from_slice(flags);
        let serve = ServeArgs::parse_flags(&args).expect("serve flags");
        let config = Config::from_args(serve, database).expect("config");
        let server = Application::build(config).await.expect("application").spawn();
        Self {
            addr: server.addr,
            state: server.state.clone(),
            db,
            client: reqwest::Client::new(),
            server: Some(server),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// POSTs a GraphQL request; returns the status and the JSON body.
    pub async fn post(&self, token: Option<&str>, query: &str, variables: Value) -> (StatusCode, Value) {
        let mut req = self
            .client
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        (status, resp.json().await.expect("json body"))
    }

    /// POSTs with extra headers; returns status, headers and body.
    pub async fn post_with(
        &self,
        token: Option<&str>,
        body: Value,
        headers: &[(&str, &str)],
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut req = self.client.post(self.url("/graphql")).json(&body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let headers = resp.headers().clone();
        (status, headers, resp.json().await.expect("json body"))
    }

    /// A GraphQL request that must succeed; returns `data`.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let (status, body) = self.post(token, query, variables).await;
        assert_eq!(status, StatusCode::OK, "{body:#}");
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }

    /// A GraphQL request that must fail; returns the first error's code.
    pub async fn gql_err(&self, token: Option<&str>, query: &str, variables: Value) -> String {
        let (_, body) = self.post(token, query, variables).await;
        error_code(&body).unwrap_or_else(|| panic!("expected an error: {body:#}"))
    }

    /// `GET /readyz`: its status and JSON answer.
    pub async fn readyz(&self) -> (StatusCode, Value) {
        let response = self.client.get(self.url("/readyz")).send().await.expect("readyz");
        (response.status(), response.json().await.expect("readyz json"))
    }

    /// `GET /metrics` (no token), as text.
    pub async fn metrics_text(&self) -> String {
        let response = self.client.get(self.url("/metrics")).send().await.expect("metrics");
        response.text().await.expect("metrics body")
    }

    /// Stops the server (graceful) and waits for it.
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await.expect("server result");
        }
    }

    /// A connection as the schema owner (sees every tenant), for assertions.
    pub async fn owner(&self) -> DatabaseConnection {
        self.db.owner().await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(server) = &self.server {
            server.signal_stop();
        }
    }
}

/// Another tenant's (or a missing) id is invisible: a mutation answers
/// `NOT_FOUND`, a single-object lookup `null` with no error.
pub fn assert_invisible(body: &Value, what: &str) {
    if body.get("errors").is_some() {
        assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND", "{what}: {body}");
        return;
    }
    let data = body["data"]
        .as_object()
        .unwrap_or_else(|| panic!("{what}: no data: {body}"));
    assert!(data.values().all(Value::is_null), "{what} leaked data: {body}");
}

/// The `extensions.code` of a response's first error.
pub fn error_code(body: &Value) -> Option<String> {
    body["errors"][0]["extensions"]["code"].as_str().map(str::to_owned)
}

/// Runs SQL as the owner and returns the first column of each row as i64.
pub async fn scalar_i64(db: &DatabaseConnection, sql: &str) -> i64 {
    scalar(db, sql).await
}

/// Runs SQL and returns the first column of its first row.
pub async fn scalar<T: sea_orm::TryGetable>(db: &impl sea_orm::ConnectionTrait, sql: &str) -> T {
    db.query_one_raw(sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, sql))
        .await
        .expect("query")
        .expect("row")
        .try_get_by_index::<T>(0)
        .expect("first column")
}

/// Runs SQL as the owner and returns the first column of each row as a uuid.
pub async fn ids(db: &DatabaseConnection, sql: String) -> Vec<uuid::Uuid> {
    db.query_all_raw(sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, sql))
        .await
        .expect("query")
        .iter()
        .map(|r| r.try_get_by_index::<uuid::Uuid>(0).expect("uuid"))
        .collect()
}

/// How many statements matching `like` the server's pool keeps prepared,
/// for a server with a pool of one connection (`spawn_with_pool_size(1)`):
/// the connection that served the requests answers.
pub async fn prepared_statements(app: &TestApp, like: &str) -> i64 {
    use sea_orm::ConnectionTrait;
    app.state
        .db
        .conn()
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT count(*) FROM pg_prepared_statements \
             WHERE statement LIKE $1 AND statement NOT LIKE '%pg_prepared_statements%'",
            [like.into()],
        ))
        .await
        .expect("prepared statements")
        .expect("row")
        .try_get_by_index::<i64>(0)
        .expect("count")
}

/// The verbose plan of `sql`, one string.
pub async fn explain(db: &impl sea_orm::ConnectionTrait, sql: &str) -> String {
    db.query_all_raw(sea_orm::Statement::from_string(
        sea_orm::DbBackend::Postgres,
        format!("EXPLAIN (VERBOSE, COSTS OFF) {sql}"),
    ))
    .await
    .expect("explain")
    .iter()
    .map(|r| r.try_get_by_index::<String>(0).expect("plan line"))
    .collect::<Vec<_>>()
    .join("\n")
}

/// A fresh temporary folder.
pub fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("screenplay-test-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("tempdir");
    dir
}
