//! Data written straight into a test database as the schema owner:
//! tenants, workspaces, documents with random embeddings, and log rows of
//! any age (for retention and backup tests).

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use uuid::Uuid;

/// What [`seed`] created.
#[derive(Debug, Clone)]
pub struct Seeded {
    pub tenants: Vec<Uuid>,
    /// (tenant, workspace)
    pub workspaces: Vec<(Uuid, Uuid)>,
}

pub async fn exec(db: &DatabaseConnection, sql: &str, values: Vec<sea_orm::Value>) {
    db.execute_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

pub async fn one_uuid(db: &DatabaseConnection, sql: &str, values: Vec<sea_orm::Value>) -> Uuid {
    db.query_one_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .expect("row")
        .try_get_by_index(0)
        .expect("uuid")
}

/// `tenants` tenants with `workspaces` workspaces each, holding `docs`
/// documents with random 1536-dim embeddings each.
pub async fn seed(db: &DatabaseConnection, tenants: usize, workspaces: usize, docs: usize) -> Seeded {
    let mut out = Seeded {
        tenants: Vec::new(),
        workspaces: Vec::new(),
    };
    for t in 0..tenants {
        let slug = format!("seed-{t}-{}", &Uuid::new_v4().simple().to_string()[..8]);
        let tenant = one_uuid(
            db,
            "INSERT INTO screenplay.tenants (slug, name) VALUES ($1, $2) RETURNING id",
            vec![slug.clone().into(), format!("Seed {t}").into()],
        )
        .await;
        out.tenants.push(tenant);
        for w in 0..workspaces {
            let workspace = one_uuid(
                db,
                "INSERT INTO screenplay.workspaces (tenant_id, name, slug) VALUES ($1, $2, $3) RETURNING id",
                vec![tenant.into(), format!("Workspace {w}").into(), format!("ws-{w}").into()],
            )
            .await;
            out.workspaces.push((tenant, workspace));
            insert_documents(db, tenant, workspace, docs).await;
        }
    }
    out
}

/// `n` documents with random embeddings in one workspace.
pub async fn insert_documents(db: &DatabaseConnection, tenant: Uuid, workspace: Uuid, n: usize) {
    exec(
        db,
        "INSERT INTO screenplay.code_documents \
             (tenant_id, workspace_id, source_path, title, content, content_hash, embedding, embedding_model) \
         SELECT $1, $2, 'scripts/doc' || g || '.md', 'Scene ' || g, 'INT. ROOM ' || g || ' - NIGHT. 雨夜的对白 ' || g, \
                md5($2::text || g), \
                (SELECT array_agg(random()::real) FROM generate_series(1, 1536) AS i WHERE g > 0)::vector(1536), \
                'test-embedding' \
         FROM generate_series(1, $3) AS g",
        vec![tenant.into(), workspace.into(), (n as i32).into()],
    )
    .await;
}

/// One row in each log table at `days_ago` days before now (partitions
/// are created as needed).
pub async fn insert_logs(db: &DatabaseConnection, tenant: Uuid, days_ago: i32, rows: i32) {
    let months_back = days_ago / 28 + 2;
    exec(
        db,
        "SELECT count(*) FROM screenplay.ensure_log_partitions($1, 3)",
        vec![months_back.into()],
    )
    .await;
    let at = "now() - make_interval(days => $2) + make_interval(secs => g)";
    exec(
        db,
        &format!(
            "INSERT INTO screenplay.execution_logs (tenant_id, agent_name, action, status, started_at, created_at) \
             SELECT $1, 'planner', 'plan', 'succeeded', {at}, {at} FROM generate_series(1, $3) AS g"
        ),
        vec![tenant.into(), days_ago.into(), rows.into()],
    )
    .await;
    exec(
        db,
        &format!(
            "INSERT INTO screenplay.llm_call_logs (tenant_id, provider, model, prompt_tokens, status, created_at) \
             SELECT $1, 'openai', 'gpt', 10, 'succeeded', {at} FROM generate_series(1, $3) AS g"
        ),
        vec![tenant.into(), days_ago.into(), rows.into()],
    )
    .await;
    exec(
        db,
        &format!(
            "INSERT INTO screenplay.audit_logs (tenant_id, request_id, outcome, created_at) \
             SELECT $1, 'seed-' || g, 'ok', {at} FROM generate_series(1, $3) AS g"
        ),
        vec![tenant.into(), days_ago.into(), rows.into()],
    )
    .await;
    exec(
        db,
        "INSERT INTO screenplay.quota_usage (tenant_id, metric, bucket_start, value) \
         SELECT $1, 'requests', date_trunc('hour', now() - make_interval(days => $2) - make_interval(hours => g)), 1 \
         FROM generate_series(1, $3) AS g ON CONFLICT DO NOTHING",
        vec![tenant.into(), days_ago.into(), rows.into()],
    )
    .await;
}

/// Exact row counts of every table of the schema (partitions included), by name.
pub async fn row_counts(db: &DatabaseConnection) -> Vec<(String, i64)> {
    let tables = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT c.relname::text FROM pg_class c WHERE c.relnamespace = 'screenplay'::regnamespace \
             AND c.relkind IN ('r', 'p') ORDER BY c.relname",
        ))
        .await
        .expect("tables");
    let mut out = Vec::new();
    for row in tables {
        let table: String = row.try_get_by_index(0).expect("name");
        let n: i64 = db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                format!("SELECT count(*) FROM screenplay.\"{table}\""),
            ))
            .await
            .expect("count")
            .expect("row")
            .try_get_by_index(0)
            .expect("i64");
        out.push((table, n));
    }
    out
}
