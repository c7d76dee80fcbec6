//! The seed's move to Milvus and back on real data: `screenplay vectors
//! migrate --to milvus` (interrupted with SIGKILL, then resumed) while a
//! server keeps writing, `verify`, the switch, and `--to pgvector`; and a
//! server killed mid-drain loses nothing.

use std::time::Duration;

use rand::{SeedableRng, rngs::StdRng};
use screenplay_api::{
    app::Application,
    bench::copy::copy_rows,
    config::{Config, DatabaseArgs, MilvusConfig, ServeArgs},
    search::Milvus,
    service::vector_sync,
};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::json;
use uuid::Uuid;

use super::{random_unit, stores, vector::synthetic_row};
use crate::helpers::{JWT_SECRET, TestApp, TestDb, process::ServerProcess, scalar_i64};

/// Vectors bulk-loaded before the migration: enough batches to interrupt.
const BULK: usize = 3000;

/// `screenplay vectors …` on `db` with Milvus `settings`.
fn vectors_command(db: &TestDb, settings: &MilvusConfig, args: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_screenplay"));
    cmd.arg("vectors")
        .args(args)
        .env("DATABASE_URL", &db.app_url)
        .env("SCREENPLAY_MIGRATION_DATABASE_URL", &db.owner_url)
        .env("SCREENPLAY_MILVUS_URL", &settings.url)
        .env("SCREENPLAY_MILVUS_COLLECTION", &settings.collection)
        .env("SCREENPLAY_MILVUS_INDEX", "FLAT")
        .kill_on_drop(true);
    cmd
}

/// Runs it to the end; returns (success, stdout + stderr).
async fn run(db: &TestDb, settings: &MilvusConfig, args: &[&str]) -> (bool, String) {
    let out = vectors_command(db, settings, args)
        .output()
        .await
        .expect("run screenplay vectors");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

async fn pending(owner: &DatabaseConnection) -> i64 {
    vector_sync::status(owner).await.expect("status").pending
}

/// A tenant's workspace with `BULK` vectors (COPY) plus a few ingested ones.
async fn load(app: &TestApp, owner: &DatabaseConnection) -> (Uuid, String) {
    let fx = app.tenant("move").await;
    let ws = app.workspace(&fx, "library").await;
    let mut rng = StdRng::seed_from_u64(3);
    let rows: Vec<_> = (0..BULK)
        .map(|i| synthetic_row(fx.id, ws, i, random_unit(&mut rng)))
        .collect();
    assert_eq!(copy_rows(owner, &rows).await.expect("copy"), BULK as u64);
    ingest(app, &fx.admin_token, ws, "before", 5).await;
    (ws, fx.admin_token)
}

async fn ingest(app: &TestApp, token: &str, ws: Uuid, prefix: &str, n: usize) {
    let mut rng = StdRng::seed_from_u64(n as u64 + prefix.len() as u64);
    let docs: Vec<_> = (0..n)
        .map(|i| json!({ "sourcePath": format!("{prefix}/{i}"), "content": format!("{prefix} text {i}"), "embedding": random_unit(&mut rng) }))
        .collect();
    let body = app
        .gql(
            Some(token),
            crate::helpers::docs::INGEST,
            json!({ "input": { "workspaceId": ws, "documents": docs, "embeddingModel": "synthetic" } }),
        )
        .await;
    assert_eq!(body["ingestDocuments"]["added"], n, "{body}");
}

/// Starts `migrate --to milvus` and kills it (SIGKILL) once it has copied
/// part of the vectors; returns how many were left.
async fn interrupted_migration(db: &TestDb, settings: &MilvusConfig, owner: &DatabaseConnection) -> i64 {
    let mut child = vectors_command(db, settings, &["migrate", "--to", "milvus"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn migrate");
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let left = pending(owner).await;
        let mirror = vector_sync::status(owner).await.expect("status").mirror;
        if mirror.is_some() && left > 0 && left < (BULK as i64) {
            child.kill().await.expect("SIGKILL");
            return pending(owner).await;
        }
        assert!(std::time::Instant::now() < deadline, "the migration made no progress");
        assert!(
            child.try_wait().expect("wait").is_none(),
            "the migration ended before it could be interrupted"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn migrate_to_milvus_verify_switch_and_back() {
    let db = TestDb::create().await;
    let owner = db.owner().await;
    let settings = stores::milvus_settings("migrate").await;
    let pg = TestApp::spawn_on(db.clone(), &[]).await;
    let (ws, admin) = load(&pg, &owner).await;

    let left = interrupted_migration(&db, &settings, &owner).await;
    assert!(left > 0, "interrupted with nothing left");
    // The server keeps serving pgvector and its writes are queued for Milvus.
    ingest(&pg, &admin, ws, "during", 7).await;
    assert_eq!(pending(&owner).await, left + 7);
    let (ok, out) = run(&db, &settings, &["verify", "--sample", "50"]).await;
    assert!(!ok, "verify passed before the copy finished:\n{out}");
    assert!(out.contains(&format!("workspace {ws}")), "{out}");

    let (ok, out) = run(&db, &settings, &["migrate", "--to", "milvus"]).await;
    assert!(ok, "{out}");
    assert!(out.contains("resuming"), "{out}");
    assert_eq!(pending(&owner).await, 0);
    let (ok, out) = run(&db, &settings, &["verify", "--sample", "300"]).await;
    assert!(ok, "{out}");
    assert!(out.contains(&format!("{} vector(s) in PostgreSQL", BULK + 12)), "{out}");
    assert!(out.contains("no differences"), "{out}");

    // A vector missing from Milvus is found.
    let client = Milvus::connect(&settings).await.expect("client");
    let victim = crate::helpers::ids(
        &owner,
        "SELECT id FROM screenplay.code_documents WHERE source_path = 'during/3'".to_owned(),
    )
    .await[0];
    client.delete(&[victim]).await.expect("delete from Milvus");
    let (ok, out) = run(&db, &settings, &["verify", "--sample", "10"]).await;
    assert!(!ok, "{out}");
    assert!(
        out.contains(&format!(
            "workspace {ws}: {} in PostgreSQL, {} in Milvus",
            BULK + 12,
            BULK + 11
        )),
        "{out}"
    );
    owner
        .execute_unprepared(&format!(
            "INSERT INTO screenplay.vector_outbox (document_id, tenant_id) \
             SELECT id, tenant_id FROM screenplay.code_documents WHERE id = '{victim}'"
        ))
        .await
        .expect("queue again");
    assert!(run(&db, &settings, &["migrate", "--to", "milvus"]).await.0);
    assert!(run(&db, &settings, &["verify"]).await.0);

    // The switch: a server searching Milvus answers as pgvector does.
    let flags = stores::milvus_flags(&settings);
    let mut mv = TestApp::spawn_on(db.clone(), &flags.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let query = random_unit(&mut StdRng::seed_from_u64(99));
    let input =
        json!({ "workspaceId": ws, "embedding": query, "embeddingModel": "synthetic", "mode": "VECTOR", "limit": 10 });
    let (a, b) = (pg.search(&admin, input.clone()).await, mv.search(&admin, input).await);
    assert_eq!(a.len(), 10);
    let ids = |hits: &[serde_json::Value]| hits.iter().map(|h| h["document"]["id"].clone()).collect::<Vec<_>>();
    assert_eq!(ids(&a), ids(&b));
    mv.stop().await;

    // And back: the mirror stops, writes no longer queue, a Milvus server refuses to start.
    let (ok, out) = run(&db, &settings, &["migrate", "--to", "pgvector"]).await;
    assert!(ok, "{out}");
    ingest(&pg, &admin, ws, "after", 3).await;
    assert_eq!(
        scalar_i64(&owner, "SELECT count(*) FROM screenplay.vector_outbox").await,
        0
    );
    let Err(err) = milvus_server(&db, &flags).await else {
        panic!("a Milvus server started without the mirror");
    };
    assert!(format!("{err:#}").contains("vectors migrate --to milvus"), "{err:#}");
}

/// Builds (without running) a server with these flags.
async fn milvus_server(db: &TestDb, flags: &[String]) -> anyhow::Result<Application> {
    let mut args = vec!["--bind", "127.0.0.1:0", "--jwt-secret", JWT_SECRET, "--no-migrate"];
    args.extend(flags.iter().map(String::as_str));
    let config = Config::from_args(
        ServeArgs::parse_flags(&args)?,
        DatabaseArgs::at(&db.app_url, Some(&db.owner_url)),
    )?;
    Application::build(config).await
}

#[tokio::test]
async fn a_server_killed_mid_drain_loses_nothing() {
    let db = TestDb::create().await;
    let owner = db.owner().await;
    let settings = stores::milvus_settings("killed").await;
    let pg = TestApp::spawn_on(db.clone(), &[]).await;
    vector_sync::start_mirror(&owner).await.expect("mirror on");
    let (ws, _) = load(&pg, &owner).await;
    let total = pending(&owner).await;
    assert_eq!(
        total,
        BULK as i64 + 5,
        "COPY and ingest both queue through the triggers"
    );

    let env = [
        ("SCREENPLAY_MILVUS_URL", settings.url.as_str()),
        ("SCREENPLAY_MILVUS_COLLECTION", settings.collection.as_str()),
        ("SCREENPLAY_MILVUS_INDEX", "FLAT"),
    ];
    let mut server = ServerProcess::spawn(&db, &env).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while pending(&owner).await == total {
        assert!(std::time::Instant::now() < deadline, "the server drained nothing");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.child.kill().await.expect("SIGKILL");
    let left = pending(&owner).await;
    assert!(left > 0 && left < total, "killed with {left} of {total} left");

    let server = ServerProcess::spawn(&db, &env).await;
    stores::settle(&db).await;
    drop(server);
    let client = Milvus::connect(&settings).await.expect("client");
    let tenant = crate::helpers::ids(
        &owner,
        format!("SELECT tenant_id FROM screenplay.workspaces WHERE id = '{ws}'"),
    )
    .await[0];
    // Every committed document once: counts match and the primary key is unique.
    assert_eq!(client.count(tenant, ws).await.expect("count"), BULK as u64 + 5);
    let report = vector_sync::verify(&pg.state.db, &client, 500).await.expect("verify");
    assert!(report.differences.is_empty(), "{:?}", report.differences);
}
