//! The benchmark itself (see the module documentation).

use std::{
    collections::{HashMap, HashSet},
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use rand::{Rng, SeedableRng, rngs::StdRng};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, prelude::PgVector};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    copy::{CopyRow, copy_rows},
    data::Generator,
};
use crate::{
    app::Application,
    auth::Role,
    config::{Config, DatabaseArgs, ServeArgs},
    db::{
        Db, PoolOptions,
        local::{LocalDb, LocalUrls, create_database},
    },
    ingest,
    search::{
        Scored,
        fusion::{Fusion, fuse},
    },
    service::tenants::{self, Limits, NewTenant},
};

const MODEL: &str = "synthetic-1536";
const DATABASE: &str = "screenplay_bench";

#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Vectors in the dataset.
    #[arg(long, default_value_t = 100_000)]
    pub vectors: usize,
    /// Workspaces they are spread over (evenly).
    #[arg(long, default_value_t = 100)]
    pub workspaces: usize,
    /// Distinct queries (a third of them fall between two clusters).
    #[arg(long, default_value_t = 200)]
    pub queries: usize,
    /// How long each throughput run lasts.
    #[arg(long, default_value = "8s", value_parser = crate::config::parse_duration)]
    pub duration: Duration,
    /// Rows for the ingest comparison (COPY against ingestDocuments).
    #[arg(long, default_value_t = 5_000)]
    pub ingest_rows: usize,
    /// Reuse the dataset of an earlier run when it has the same size.
    #[arg(long)]
    pub reuse: bool,
    /// Seed of the generator.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
}

/// One query of the workload.
#[derive(Clone)]
struct Query {
    workspace: Uuid,
    text: String,
    vector: Vec<f32>,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Mode {
    Vector,
    Keyword,
    Hybrid,
}

impl Mode {
    const ALL: [Mode; 3] = [Mode::Vector, Mode::Keyword, Mode::Hybrid];
    fn name(self) -> &'static str {
        match self {
            Mode::Vector => "VECTOR",
            Mode::Keyword => "KEYWORD",
            Mode::Hybrid => "HYBRID",
        }
    }
}

/// Latency percentiles and throughput of one configuration.
struct Measured {
    p50: Duration,
    p95: Duration,
    p99: Duration,
    qps1: f64,
    qps4: f64,
}

pub async fn run(args: BenchArgs, db_args: DatabaseArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.workspaces > 0 && args.vectors >= args.workspaces,
        "need vectors ≥ workspaces > 0"
    );
    let (owner_url, app_url) = bench_database(&db_args).await?;
    let owner = connect(&owner_url, 8).await?;
    eprintln!("bench database ready; generating {} vectors", args.vectors);

    let mut generator = Generator::new(args.seed, 200, 0.8);
    let (tenant_id, admin_id, workspaces) = dataset(&owner, &args, &mut generator).await?;

    let queries = workload(&args, &mut generator, &workspaces);

    // The real server, on the app role, like production.
    let jwt_secret = hex::encode(rand::random::<[u8; 32]>());
    let serve = ServeArgs::parse_flags(&["--bind", "127.0.0.1:0", "--jwt-secret", &jwt_secret, "--no-migrate"])?;
    let config = Config::from_args(serve, DatabaseArgs::at(&app_url, Some(&owner_url)))?;
    let server = Application::build(config).await?.spawn();
    let (addr, state) = (server.addr, server.state.clone());
    let token = state
        .issuer
        .issue(
            &admin_id.to_string(),
            Some(tenant_id),
            Role::TenantAdmin,
            Duration::from_secs(6 * 3600),
        )?
        .0;

    // Recall against exact search.
    eprintln!("measuring recall@10 against exact search");
    let recall = recall(&owner, &queries).await?;

    let mut results: Vec<(Mode, &'static str, Measured)> = Vec::new();
    for mode in Mode::ALL {
        eprintln!("measuring {} through the SQL function and the API", mode.name());
        let (sql, api) = measure(mode, &owner_url, addr, &token, &queries, args.duration).await?;
        results.push((mode, SQL, sql));
        results.push((mode, API, api));
    }

    eprintln!("measuring ingest: COPY against ingestDocuments");
    let ingest = ingest_comparison(&owner, tenant_id, addr, &token, &args, &mut generator).await?;

    server.stop().await?;

    report(&owner, &args, &queries, &results, &recall, &ingest).await
}

/// The queries: random workspaces, a topic of each, a third of them
/// between two clusters (the hard case for HNSW).
fn workload(args: &BenchArgs, generator: &mut Generator, workspaces: &[Uuid]) -> Vec<Query> {
    let topics = |w: usize| -> Vec<usize> { (0..8).map(|k| (w * 3 + k * 25) % 200).collect() };
    // The same clusters, a stream of its own.
    generator.reseed(args.seed ^ 0x9e37_79b9);
    let mut rng = StdRng::seed_from_u64(args.seed ^ 0x5eed);
    (0..args.queries)
        .map(|i| {
            let w = rng.random_range(0..workspaces.len());
            let t = topics(w);
            let a = t[rng.random_range(0..t.len())];
            let vector = if i % 3 == 2 {
                generator.between(a, t[(t.iter().position(|x| *x == a).unwrap_or(0) + 1) % t.len()])
            } else {
                generator.vector(a)
            };
            Query {
                workspace: workspaces[w],
                text: generator.query_text(a, w % 2 == 1),
                vector,
            }
        })
        .collect()
}

/// The report, in Markdown, on standard output.
async fn report(
    owner: &DatabaseConnection,
    args: &BenchArgs,
    queries: &[Query],
    results: &[(Mode, &'static str, Measured)],
    recall: &HashMap<Mode, f64>,
    ingest: &IngestRates,
) -> anyhow::Result<()> {
    // The report, in Markdown.
    let rows = scalar(owner, "SELECT count(*) FROM screenplay.code_documents").await?;
    let version = scalar_text(owner, "SELECT extversion FROM pg_extension WHERE extname = 'vector'").await?;
    let pg = scalar_text(owner, "SELECT current_setting('server_version')").await?;
    println!(
        "Dataset: {} clustered 1536-dim vectors (200 clusters) in {} workspaces of {} rows, half English and half \
         Chinese text; {} queries, a third of them between two clusters. PostgreSQL {pg}, pgvector {version}, \
         HNSW m=16 ef_construction=64, ef_search 100 (the functions' default) with iterative scan (relaxed order) and exact re-ranking. Rows at the end: {rows}.\n",
        args.vectors,
        args.workspaces,
        args.vectors / args.workspaces,
        args.queries
    );
    println!("| mode | via | p50 ms | p95 ms | p99 ms | QPS 1 client | QPS 4 clients | recall@10 |");
    println!("|---|---|--:|--:|--:|--:|--:|--:|");
    for (mode, via, m) in results {
        println!(
            "| {} | {via} | {:.2} | {:.2} | {:.2} | {:.0} | {:.0} | {} |",
            mode.name(),
            ms(m.p50),
            ms(m.p95),
            ms(m.p99),
            m.qps1,
            m.qps4,
            recall.get(mode).map_or("–".to_owned(), |r| format!("{r:.3}"))
        );
    }
    println!();
    for mode in Mode::ALL {
        let sql = results.iter().find(|r| r.0 == mode && r.1 == SQL);
        let api = results.iter().find(|r| r.0 == mode && r.1 == API);
        if let (Some(sql), Some(api)) = (sql, api) {
            let added = (ms(api.2.p50) - ms(sql.2.p50)) / ms(sql.2.p50) * 100.0;
            println!(
                "- {}: the API adds {:.2} ms ({added:+.0}%) to the SQL function's p50.",
                mode.name(),
                ms(api.2.p50) - ms(sql.2.p50)
            );
        }
    }
    if let Some(hard) = recall.get(&Mode::Vector).and(recall_hard(owner, queries).await.ok()) {
        println!("- VECTOR recall@10 on the between-cluster third of the queries alone: {hard:.3}.");
    }
    println!(
        "- Ingest of {} rows with provided embeddings: COPY {:.0} rows/s; ingestDocuments (GraphQL, batches of 100, 1 client) {:.0} rows/s, {:.0}% of COPY.",
        ingest.rows,
        ingest.copy_rate,
        ingest.api_rate,
        ingest.api_rate / ingest.copy_rate * 100.0
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn connect(url: &str, pool: u32) -> anyhow::Result<DatabaseConnection> {
    let db = Db::connect(
        url,
        &PoolOptions {
            max_connections: pool,
            pgbouncer: false,
            application_name: "screenplay-bench".into(),
        },
    )
    .await?;
    Ok(db.conn().clone())
}

async fn scalar(db: &DatabaseConnection, sql: &str) -> anyhow::Result<i64> {
    let row = db
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await?
        .context("no row")?;
    Ok(row.try_get_by_index(0)?)
}

async fn scalar_text(db: &DatabaseConnection, sql: &str) -> anyhow::Result<String> {
    let row = db
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await?
        .context("no row")?;
    Ok(row.try_get_by_index(0)?)
}

/// The bench database: `screenplay_bench` on the local cluster, or the
/// configured database (which should be one of its own).
async fn bench_database(args: &DatabaseArgs) -> anyhow::Result<(String, String)> {
    if let Some(url) = &args.database_url {
        let owner = args
            .migration_database_url
            .as_ref()
            .context("set SCREENPLAY_MIGRATION_DATABASE_URL (the schema owner) for the bench")?;
        crate::db::migrate_up(owner.expose()).await?;
        return Ok((owner.expose().clone(), url.expose().clone()));
    }
    let local = LocalDb::new(args.home.clone(), args.db_port)?;
    let urls = local.start().await?;
    create_database(&urls.superuser, DATABASE, None).await?;
    let owner = LocalUrls::with_database(&urls.owner, DATABASE);
    crate::db::migrate_up(&owner).await?;
    Ok((owner, LocalUrls::with_database(&urls.app, DATABASE)))
}

/// The tenant, its admin and workspaces; the rows loaded (unless reused).
async fn dataset(
    owner: &DatabaseConnection,
    args: &BenchArgs,
    generator: &mut Generator,
) -> anyhow::Result<(Uuid, Uuid, Vec<Uuid>)> {
    if args.reuse
        && let Some(found) = earlier_dataset(owner, args).await?
    {
        eprintln!("reusing the dataset of an earlier run");
        return Ok(found);
    }
    owner
        .execute_unprepared("DELETE FROM screenplay.tenants WHERE slug = 'bench'")
        .await?;
    let tx = {
        use sea_orm::TransactionTrait;
        owner.begin().await?
    };
    let (tenant, admin) = tenants::create(
        &tx,
        NewTenant {
            slug: "bench".into(),
            name: "Benchmark".into(),
            plan: entity::enums::TenantPlan::Enterprise,
            limits: Limits::default(),
            settings: None,
            admin_email: "bench@screenplay.local".into(),
            admin_password: hex::encode(rand::random::<[u8; 16]>()),
            admin_display_name: None,
        },
    )
    .await?;
    tx.commit().await?;
    let mut workspaces = Vec::with_capacity(args.workspaces);
    for w in 0..args.workspaces {
        let row = owner
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                format!(
                    "INSERT INTO screenplay.workspaces (tenant_id, name, slug) VALUES ('{}', 'Bench {w}', 'bench-{w}') RETURNING id",
                    tenant.id
                ),
            ))
            .await?
            .context("workspace")?;
        workspaces.push(row.try_get_by_index(0)?);
    }
    load_rows(owner, args, generator, tenant.id, &workspaces).await?;
    Ok((tenant.id, admin.id, workspaces))
}

/// An earlier run's dataset of the same size, if there is one.
async fn earlier_dataset(
    owner: &DatabaseConnection,
    args: &BenchArgs,
) -> anyhow::Result<Option<(Uuid, Uuid, Vec<Uuid>)>> {
    let Some(row) = owner
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT t.id AS tenant, u.id AS admin FROM screenplay.tenants t \
             JOIN screenplay.users u ON u.tenant_id = t.id WHERE t.slug = 'bench'",
        ))
        .await?
    else {
        return Ok(None);
    };
    let tenant: Uuid = row.try_get("", "tenant")?;
    let count = scalar(
        owner,
        &format!(
            "SELECT count(*) FROM screenplay.code_documents WHERE tenant_id = '{tenant}' AND source_path LIKE 'bench/%'"
        ),
    )
    .await?;
    if count as usize != args.vectors {
        return Ok(None);
    }
    let workspaces = workspaces_of(owner, tenant).await?;
    if workspaces.len() != args.workspaces {
        return Ok(None);
    }
    Ok(Some((tenant, row.try_get("", "admin")?, workspaces)))
}

/// The clustered rows, by COPY without the HNSW index, which is built after.
async fn load_rows(
    owner: &DatabaseConnection,
    args: &BenchArgs,
    generator: &mut Generator,
    tenant: Uuid,
    workspaces: &[Uuid],
) -> anyhow::Result<()> {
    owner
        .execute_unprepared("DROP INDEX IF EXISTS screenplay.code_documents_embedding_hnsw_idx")
        .await?;
    let started = Instant::now();
    let mut rows = Vec::with_capacity(10_000);
    for i in 0..args.vectors {
        let w = i % args.workspaces;
        let c = (w * 3 + (i / args.workspaces % 8) * 25) % 200;
        let content = generator.text(c, w % 2 == 1, 40);
        rows.push(CopyRow {
            id: Uuid::now_v7(),
            tenant_id: tenant,
            workspace_id: workspaces[w],
            source_path: format!("bench/{w}/{i}.md"),
            title: format!("Bench document {i}"),
            content_hash: ingest::content_hash(&format!("{i}:{content}")),
            language: if w % 2 == 1 { "zh" } else { "en" }.into(),
            token_count: crate::text::estimate_tokens(&content) as i32,
            content,
            embedding: generator.vector(c),
            embedding_model: MODEL.into(),
        });
        if rows.len() == 10_000 {
            copy_rows(owner, &rows).await?;
            rows.clear();
        }
    }
    copy_rows(owner, &rows).await?;
    eprintln!("loaded {} rows by COPY in {:.1?}", args.vectors, started.elapsed());
    let started = Instant::now();
    owner
        .execute_unprepared(
            "SET maintenance_work_mem = '1GB'; SET max_parallel_maintenance_workers = 2; \
             CREATE INDEX code_documents_embedding_hnsw_idx ON screenplay.code_documents \
             USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)",
        )
        .await?;
    owner
        .execute_unprepared("VACUUM ANALYZE screenplay.code_documents")
        .await?;
    eprintln!("built the HNSW index in {:.1?}", started.elapsed());
    Ok(())
}

async fn workspaces_of(owner: &DatabaseConnection, tenant: Uuid) -> anyhow::Result<Vec<Uuid>> {
    let rows = owner
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT id FROM screenplay.workspaces WHERE tenant_id = '{tenant}' AND slug LIKE 'bench-%' ORDER BY (substr(slug, 7))::int"),
        ))
        .await?;
    rows.iter().map(|r| Ok(r.try_get_by_index(0)?)).collect()
}

fn sql_statement(mode: Mode, q: &Query, limit: i32, exact: bool) -> Statement {
    let v = || PgVector::from(q.vector.clone());
    match mode {
        Mode::Vector => Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id, similarity AS score, rank FROM screenplay.search_similar_documents($1, $2, $3, \
             p_embedding_model => $4, p_exact => $5)",
            [q.workspace.into(), v().into(), limit.into(), MODEL.into(), exact.into()],
        ),
        Mode::Keyword => Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id, score, rank FROM screenplay.search_by_keywords($1, $2, $3)",
            [q.workspace.into(), q.text.clone().into(), limit.into()],
        ),
        Mode::Hybrid => Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id, score, rank FROM screenplay.hybrid_search_documents($1, $2, $3, $4, \
             p_embedding_model => $5)",
            [
                q.workspace.into(),
                q.text.clone().into(),
                v().into(),
                limit.into(),
                MODEL.into(),
            ],
        ),
    }
}

async fn sql_hits(db: &DatabaseConnection, stmt: Statement) -> anyhow::Result<Vec<Scored>> {
    let rows = db.query_all_raw(stmt).await?;
    rows.iter()
        .map(|r| {
            Ok(Scored {
                id: r.try_get("", "id")?,
                score: r.try_get("", "score")?,
                rank: r.try_get::<i32>("", "rank")? as u32,
            })
        })
        .collect()
}

fn overlap(a: &[Scored], b: &[Scored]) -> f64 {
    let want: HashSet<Uuid> = b.iter().map(|h| h.id).collect();
    if want.is_empty() {
        return 1.0;
    }
    a.iter().filter(|h| want.contains(&h.id)).count() as f64 / want.len() as f64
}

/// recall@10 of each mode against exact search: VECTOR against an exact
/// scan; HYBRID against the fusion of exact vector candidates with the
/// keyword candidates; KEYWORD against a sequential scan (GIN is exact).
async fn recall(owner: &DatabaseConnection, queries: &[Query]) -> anyhow::Result<HashMap<Mode, f64>> {
    let (mut vector, mut hybrid, mut keyword) = (0.0, 0.0, 0.0);
    for q in queries {
        let approx = sql_hits(owner, sql_statement(Mode::Vector, q, 10, false)).await?;
        let exact = sql_hits(owner, sql_statement(Mode::Vector, q, 10, true)).await?;
        vector += overlap(&approx, &exact);
        let exact_candidates = sql_hits(owner, sql_statement(Mode::Vector, q, 50, true)).await?;
        let keyword_candidates = sql_hits(owner, sql_statement(Mode::Keyword, q, 50, false)).await?;
        let truth: Vec<Scored> = fuse(&exact_candidates, &keyword_candidates, Fusion::Rrf { k: 60 })
            .into_iter()
            .take(10)
            .map(|f| Scored {
                id: f.id,
                score: f.score,
                rank: 0,
            })
            .collect();
        let got = sql_hits(owner, sql_statement(Mode::Hybrid, q, 10, false)).await?;
        hybrid += overlap(&got, &truth);
    }
    let sample = &queries[..queries.len().min(40)];
    for q in sample {
        let indexed = sql_hits(owner, sql_statement(Mode::Keyword, q, 10, false)).await?;
        let tx = {
            use sea_orm::TransactionTrait;
            owner.begin().await?
        };
        tx.execute_unprepared("SET LOCAL enable_bitmapscan = off; SET LOCAL enable_indexscan = off")
            .await?;
        let rows = tx.query_all_raw(sql_statement(Mode::Keyword, q, 10, false)).await?;
        let scanned: Vec<Scored> = rows
            .iter()
            .map(|r| {
                Ok(Scored {
                    id: r.try_get("", "id")?,
                    score: r.try_get("", "score")?,
                    rank: 0,
                })
            })
            .collect::<anyhow::Result<_>>()?;
        tx.rollback().await?;
        keyword += overlap(&indexed, &scanned);
    }
    let n = queries.len() as f64;
    Ok(HashMap::from([
        (Mode::Vector, vector / n),
        (Mode::Hybrid, hybrid / n),
        (Mode::Keyword, keyword / sample.len() as f64),
    ]))
}

async fn recall_hard(owner: &DatabaseConnection, queries: &[Query]) -> anyhow::Result<f64> {
    let hard: Vec<&Query> = queries.iter().skip(2).step_by(3).collect();
    let mut total = 0.0;
    for q in &hard {
        let approx = sql_hits(owner, sql_statement(Mode::Vector, q, 10, false)).await?;
        let exact = sql_hits(owner, sql_statement(Mode::Vector, q, 10, true)).await?;
        total += overlap(&approx, &exact);
    }
    Ok(total / hard.len().max(1) as f64)
}

const API_QUERY: &str = "query($input: SearchDocumentsInput!) { searchDocuments(input: $input) { score \
    document { id title sourcePath } highlight } }";

fn api_body(mode: Mode, q: &Query) -> Value {
    let mut input = json!({ "workspaceId": q.workspace, "mode": mode.name(), "limit": 10 });
    if mode != Mode::Keyword {
        input["embedding"] = json!(q.vector);
        input["embeddingModel"] = json!(MODEL);
    }
    if mode != Mode::Vector {
        input["query"] = json!(q.text);
    }
    json!({ "query": API_QUERY, "variables": { "input": input } })
}

const SQL: &str = "SQL function";
const API: &str = "GraphQL API";

/// Latency (1 client; every query once through both paths after a warm-up
/// pass, the two paths interleaved so neither profits from the other's
/// cache) and throughput at 1 and 4 clients for `duration` each.
async fn measure(
    mode: Mode,
    owner_url: &str,
    addr: SocketAddr,
    token: &str,
    queries: &[Query],
    duration: Duration,
) -> anyhow::Result<(Measured, Measured)> {
    let db = connect(owner_url, 4).await?;
    let client = reqwest::Client::builder().pool_max_idle_per_host(8).build()?;
    let url = format!("http://{addr}/graphql");
    // Bodies are built before timing: the client's JSON encoding is not the server's cost.
    let bodies: Arc<Vec<String>> = Arc::new(queries.iter().map(|q| api_body(mode, q).to_string()).collect());
    let one = {
        let (db, client, url, token, bodies) = (
            db.clone(),
            client.clone(),
            url.clone(),
            token.to_owned(),
            bodies.clone(),
        );
        let queries = queries.to_vec();
        move |via: &'static str, i: usize| {
            let (db, client, url, token, bodies) =
                (db.clone(), client.clone(), url.clone(), token.clone(), bodies.clone());
            let q = queries[i % queries.len()].clone();
            async move {
                if via == SQL {
                    let hits = sql_hits(&db, sql_statement(mode, &q, 10, false)).await?;
                    anyhow::ensure!(mode == Mode::Keyword || !hits.is_empty(), "no hits");
                } else {
                    let resp = client
                        .post(&url)
                        .bearer_auth(&token)
                        .header("content-type", "application/json")
                        .body(bodies[i % bodies.len()].clone())
                        .send()
                        .await?;
                    let body: Value = resp.json().await?;
                    anyhow::ensure!(body.get("errors").is_none(), "API error: {body}");
                }
                anyhow::Ok(())
            }
        }
    };
    for i in 0..queries.len() {
        one(SQL, i).await?;
        one(API, i).await?;
    }
    let (mut sql, mut api) = (Vec::with_capacity(queries.len()), Vec::with_capacity(queries.len()));
    for i in 0..queries.len() {
        let started = Instant::now();
        one(SQL, i).await?;
        sql.push(started.elapsed());
        let started = Instant::now();
        one(API, i).await?;
        api.push(started.elapsed());
    }
    let mut out = Vec::new();
    for (via, mut latencies) in [(SQL, sql), (API, api)] {
        latencies.sort();
        let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
        let mut qps = [0.0; 2];
        for (slot, clients) in [(0, 1usize), (1, 4)] {
            let deadline = Instant::now() + duration;
            let started = Instant::now();
            let tasks: Vec<_> = (0..clients)
                .map(|c| {
                    let one = one.clone();
                    tokio::spawn(async move {
                        let mut done = 0usize;
                        let mut i = c * 7919;
                        while Instant::now() < deadline {
                            one(via, i).await?;
                            done += 1;
                            i += 1;
                        }
                        anyhow::Ok(done)
                    })
                })
                .collect();
            let mut total = 0;
            for t in tasks {
                total += t.await??;
            }
            qps[slot] = total as f64 / started.elapsed().as_secs_f64();
        }
        out.push(Measured {
            p50: pct(0.50),
            p95: pct(0.95),
            p99: pct(0.99),
            qps1: qps[0],
            qps4: qps[1],
        });
    }
    db.close_by_ref().await?;
    let api = out.pop().context("api")?;
    let sql = out.pop().context("sql")?;
    Ok((sql, api))
}

struct IngestRates {
    rows: usize,
    copy_rate: f64,
    api_rate: f64,
}

/// The same rows (new workspaces each time) by plain COPY and by
/// `ingestDocuments` with provided embeddings, into the indexed table.
async fn ingest_comparison(
    owner: &DatabaseConnection,
    tenant_id: Uuid,
    addr: SocketAddr,
    token: &str,
    args: &BenchArgs,
    generator: &mut Generator,
) -> anyhow::Result<IngestRates> {
    let run = Uuid::new_v4().simple().to_string()[..8].to_owned();
    let new_workspace = |name: String| {
        let owner = owner.clone();
        async move {
            let row = owner
                .query_one_raw(Statement::from_string(
                    DbBackend::Postgres,
                    format!(
                        "INSERT INTO screenplay.workspaces (tenant_id, name, slug) VALUES ('{tenant_id}', '{name}', '{name}') RETURNING id"
                    ),
                ))
                .await?
                .context("workspace")?;
            anyhow::Ok(row.try_get_by_index::<Uuid>(0)?)
        }
    };
    let copy_ws = new_workspace(format!("copy-{run}")).await?;
    let api_ws = new_workspace(format!("api-{run}")).await?;
    let docs: Vec<(String, bool, Vec<f32>)> = (0..args.ingest_rows)
        .map(|i| {
            let c = i % 200;
            let chinese = i % 2 == 1;
            (generator.text(c, chinese, 40), chinese, generator.vector(c))
        })
        .collect();
    let rows: Vec<CopyRow> = docs
        .iter()
        .enumerate()
        .map(|(i, (content, chinese, v))| CopyRow {
            id: Uuid::now_v7(),
            tenant_id,
            workspace_id: copy_ws,
            source_path: format!("ingest/{i}.md"),
            title: format!("{i}.md"),
            content: content.clone(),
            content_hash: ingest::content_hash(content),
            language: if *chinese { "zh" } else { "en" }.into(),
            embedding: v.clone(),
            embedding_model: MODEL.into(),
            token_count: crate::text::estimate_tokens(content) as i32,
        })
        .collect();
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/graphql");
    let bodies: Vec<String> = docs
        .chunks(100)
        .enumerate()
        .map(|(b, batch)| {
            let documents: Vec<Value> = batch
                .iter()
                .enumerate()
                .map(|(i, (content, chinese, v))| {
                    json!({ "sourcePath": format!("ingest/{}.md", b * 100 + i), "content": content,
                            "language": if *chinese { "zh" } else { "en" }, "embedding": v })
                })
                .collect();
            json!({ "query": "mutation($input: IngestDocumentsInput!) { ingestDocuments(input: $input) { added } }",
                    "variables": { "input": { "workspaceId": api_ws, "embeddingModel": MODEL, "documents": documents } } })
            .to_string()
        })
        .collect();
    // Batch by batch, COPY and the API in turn, so both see the same index and caches.
    let (mut copy_time, mut api_time, mut added) = (Duration::ZERO, Duration::ZERO, 0u64);
    for (piece, body) in rows.chunks(100).zip(bodies) {
        let started = Instant::now();
        copy_rows(owner, piece).await?;
        copy_time += started.elapsed();
        let started = Instant::now();
        let resp: Value = client
            .post(&url)
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?
            .json()
            .await?;
        api_time += started.elapsed();
        added += resp["data"]["ingestDocuments"]["added"]
            .as_u64()
            .with_context(|| format!("ingest failed: {resp}"))?;
    }
    anyhow::ensure!(added as usize == rows.len(), "ingested {added} of {}", rows.len());
    let copy_rate = rows.len() as f64 / copy_time.as_secs_f64();
    let api_rate = added as f64 / api_time.as_secs_f64();
    Ok(IngestRates {
        rows: rows.len(),
        copy_rate,
        api_rate,
    })
}
