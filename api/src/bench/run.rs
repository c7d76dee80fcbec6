//! The benchmark itself (see the module documentation).

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use anyhow::Context;
use rand::{Rng, SeedableRng, rngs::StdRng};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    baseline::{self, Baseline, Mode, Query},
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
    domain::TenantId,
    ingest,
    search::ResidentVectors,
    service::tenants::{self, Limits, NewTenant},
};

const MODEL: &str = "synthetic-1536";
const DATABASE: &str = "screenplay_bench";
const CLUSTERS: usize = 200;

#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Vectors in the small workspaces.
    #[arg(long, default_value_t = 100_000)]
    pub vectors: usize,
    /// Workspaces they are spread over (evenly).
    #[arg(long, default_value_t = 100)]
    pub workspaces: usize,
    /// Rows of one more, large workspace (0: none), drawn from every
    /// cluster: the case where the HNSW index matters.
    #[arg(long, default_value_t = 0)]
    pub big_workspace: usize,
    /// Distinct queries per kind of workspace (a third of them fall between
    /// two clusters).
    #[arg(long, default_value_t = 200)]
    pub queries: usize,
    /// Rows for the ingest comparison (COPY against ingestDocuments; 0 skips it).
    #[arg(long, default_value_t = 5_000)]
    pub ingest_rows: usize,
    /// Reuse the dataset of an earlier run when it has the same size.
    #[arg(long)]
    pub reuse: bool,
    /// Seed of the generator.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Every small workspace draws its rows from the same 8 clusters, so
    /// workspaces interleave in the vector space (by default each has 8
    /// clusters of its own, and a vector's neighbours are its workspace's).
    #[arg(long)]
    pub shared_topics: bool,
    /// The API requests carry the query vector as `embeddingBase64` (float32,
    /// as OpenAI returns it with `encoding_format: "base64"`) instead of
    /// `embedding`'s 1,536 JSON numbers.
    #[arg(long)]
    pub embedding_base64: bool,
}

impl BenchArgs {
    /// Where the rows' source paths start: a dataset of shared topics is
    /// never reused as one of workspaces' own, nor the other way round.
    fn prefix(&self) -> &'static str {
        if self.shared_topics { "bench-shared" } else { "bench" }
    }

    /// The 8 topics (clusters) of small workspace `w`.
    fn small_topics(&self, w: usize) -> Vec<usize> {
        let w = if self.shared_topics { 0 } else { w };
        (0..8).map(|k| (w * 3 + k * 25) % CLUSTERS).collect()
    }
}

/// The bench's workspaces.
struct Workspaces {
    small: Vec<Uuid>,
    big: Option<Uuid>,
}

/// One mode on one kind of workspace: latencies of both paths, and recall.
struct Row {
    class: String,
    mode: Mode,
    baseline: Baseline,
    bare: Vec<Duration>,
    api: Vec<Duration>,
    recall_bare: f64,
    recall_api: f64,
    recall_api_hard: f64,
}

pub async fn run(args: BenchArgs, db_args: DatabaseArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.workspaces > 0 && args.vectors >= args.workspaces,
        "need vectors ≥ workspaces > 0"
    );
    let (owner_url, app_url) = bench_database(&db_args).await?;
    let owner = connect(&owner_url, 8).await?;
    eprintln!(
        "bench database ready; generating {} vectors",
        args.vectors + args.big_workspace
    );

    let mut generator = Generator::new(args.seed, CLUSTERS, 0.8);
    let (tenant_id, admin_id, workspaces) = dataset(&owner, &args, &mut generator).await?;
    let classes = workload(&args, &mut generator, &workspaces);
    settle(&owner).await?;

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

    let mut rows = Vec::new();
    for (class, queries) in &classes {
        for mode in Mode::ALL {
            for &baseline in Baseline::of(mode) {
                eprintln!(
                    "{class}: {} through the bare statement ({baseline:?}) and the API",
                    mode.name()
                );
                let api = Api {
                    addr,
                    token: &token,
                    base64: args.embedding_base64,
                    tenant: tenant_id,
                    resident: &state.resident_vectors,
                    // Only small workspaces have copies; the big one is searched through HNSW.
                    settle: queries.iter().all(|q| workspaces.small.contains(&q.workspace)),
                };
                rows.push(compare(mode, baseline, class, &owner_url, &api, queries).await?);
            }
        }
    }
    let ingest = if args.ingest_rows > 0 {
        eprintln!("measuring ingest: COPY against ingestDocuments");
        Some(ingest_comparison(&owner, tenant_id, addr, &token, &args, &mut generator).await?)
    } else {
        None
    };
    server.stop().await?;
    report(&owner, &args, &rows, ingest.as_ref()).await
}

/// The queries of each kind of workspace: a topic of the workspace, a
/// third of them between two of its topics (the hard case for HNSW).
fn workload(args: &BenchArgs, generator: &mut Generator, workspaces: &Workspaces) -> Vec<(String, Vec<Query>)> {
    // The same clusters, a stream of its own.
    generator.reseed(args.seed ^ 0x9e37_79b9);
    let mut rng = StdRng::seed_from_u64(args.seed ^ 0x5eed);
    let mut query = |workspace: Uuid, topics: &[usize], chinese: bool, i: usize| {
        let k = rng.random_range(0..topics.len());
        let a = topics[k];
        let hard = i % 3 == 2;
        let vector = if hard {
            generator.between(a, topics[(k + 1) % topics.len()])
        } else {
            generator.vector(a)
        };
        Query {
            workspace,
            text: generator.query_text(a, chinese),
            vector,
            hard,
        }
    };
    let small_rows = args.vectors / args.workspaces;
    let mut classes = Vec::new();
    let small: Vec<Query> = (0..args.queries)
        .map(|i| {
            let w = (i * 7919 + 13) % workspaces.small.len();
            query(workspaces.small[w], &args.small_topics(w), w % 2 == 1, i)
        })
        .collect();
    classes.push((format!("{small_rows}-row workspaces"), small));
    if let Some(big) = workspaces.big {
        let topics: Vec<usize> = (0..CLUSTERS).collect();
        let queries = (0..args.queries).map(|i| query(big, &topics, false, i)).collect();
        classes.push((format!("one {}-row workspace", args.big_workspace), queries));
    }
    classes
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    ms(sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)])
}

/// The report, in Markdown, on standard output.
async fn report(
    owner: &DatabaseConnection,
    args: &BenchArgs,
    rows: &[Row],
    ingest: Option<&IngestRates>,
) -> anyhow::Result<()> {
    let total = scalar(owner, "SELECT count(*) FROM screenplay.code_documents").await?;
    let version = scalar_text(owner, "SELECT extversion FROM pg_extension WHERE extname = 'vector'").await?;
    let pg = scalar_text(owner, "SELECT current_setting('server_version')").await?;
    println!(
        "Dataset: {} clustered 1536-dim vectors ({CLUSTERS} clusters) in {} workspaces of {} rows (8 topics each{}, \
         half English, half Chinese){}; {} queries per kind of workspace, a third of them between two clusters. \
         PostgreSQL {pg}, pgvector {version}, HNSW m=16 ef_construction=64. Rows at the end: {total}. \
         The API's query vectors: {}.\n",
        args.vectors,
        args.workspaces,
        args.vectors / args.workspaces,
        if args.shared_topics { ", the same 8 for all" } else { "" },
        if args.big_workspace > 0 {
            format!(
                ", and one workspace of {} rows drawn from every cluster (English)",
                args.big_workspace
            )
        } else {
            String::new()
        },
        args.queries,
        if args.embedding_base64 {
            "`embeddingBase64`"
        } else {
            "`embedding` (JSON numbers)"
        }
    );
    println!(
        "| workspace | mode | bare p50 ms | bare p99 ms | API p50 ms | API p99 ms | API / bare (p50) | recall@10 API | recall@10 bare | API recall, between clusters |"
    );
    println!("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|");
    for r in rows {
        let (mut bare, mut api) = (r.bare.clone(), r.api.clone());
        bare.sort();
        api.sort();
        println!(
            "| {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2}× | {:.3} | {:.3} | {:.3} |",
            r.class,
            match r.baseline {
                Baseline::Plain => r.mode.name().to_owned(),
                Baseline::Exact => format!("{} (bare compares exactly)", r.mode.name()),
            },
            pct(&bare, 0.5),
            pct(&bare, 0.99),
            pct(&api, 0.5),
            pct(&api, 0.99),
            pct(&api, 0.5) / pct(&bare, 0.5),
            r.recall_api,
            r.recall_bare,
            r.recall_api_hard
        );
    }
    if let Some(ingest) = ingest {
        println!(
            "\n- Ingest of {} rows with provided embeddings: COPY {:.0} rows/s; ingestDocuments (GraphQL, batches of 100, 1 client) {:.0} rows/s, {:.0}% of COPY.",
            ingest.rows,
            ingest.copy_rate,
            ingest.api_rate,
            ingest.api_rate / ingest.copy_rate * 100.0
        );
    }
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
            read_only: false,
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

const API_QUERY: &str = "query($input: SearchDocumentsInput!) { searchDocuments(input: $input) { score \
    document { id title sourcePath } highlight } }";

/// The server under test, and how its requests carry vectors.
struct Api<'a> {
    addr: SocketAddr,
    token: &'a str,
    base64: bool,
    tenant: Uuid,
    /// The server's copies of small workspaces' vectors.
    resident: &'a ResidentVectors,
    /// Time once the server keeps a copy of every workspace searched.
    settle: bool,
}

fn api_body(mode: Mode, q: &Query, base64: bool) -> String {
    let mut input = json!({ "workspaceId": q.workspace, "mode": mode.name(), "limit": 10 });
    if mode != Mode::Keyword {
        if base64 {
            let bytes: Vec<u8> = q.vector.iter().flat_map(|v| v.to_le_bytes()).collect();
            input["embeddingBase64"] = json!(base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                bytes
            ));
        } else {
            input["embedding"] = json!(q.vector);
        }
        input["embeddingModel"] = json!(MODEL);
    }
    if mode != Mode::Vector {
        input["query"] = json!(q.text);
    }
    json!({ "query": API_QUERY, "variables": { "input": input } }).to_string()
}

/// The ids `searchDocuments` answered, in order.
async fn api_ids(client: &reqwest::Client, url: &str, token: &str, body: String) -> anyhow::Result<Vec<Uuid>> {
    let body: Value = client
        .post(url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?
        .json()
        .await?;
    anyhow::ensure!(body.get("errors").is_none(), "API error: {body}");
    body["data"]["searchDocuments"]
        .as_array()
        .context("no hits array")?
        .iter()
        .map(|h| h["document"]["id"].as_str().context("no id")?.parse().context("bad id"))
        .collect()
}

/// Latency (1 client; every query once through both paths after a warm-up
/// pass and, for vectors, once the server keeps a copy of every small
/// workspace; the bare statement and the API interleaved query by query so
/// neither profits from the other's cache), and recall@10 of both against
/// the exact answer.
async fn compare(
    mode: Mode,
    baseline: Baseline,
    class: &str,
    owner_url: &str,
    api: &Api<'_>,
    queries: &[Query],
) -> anyhow::Result<Row> {
    let (addr, token) = (api.addr, api.token);
    // One connection, so every bare statement reuses its prepared statement.
    let db = connect(owner_url, 1).await?;
    let client = reqwest::Client::builder().pool_max_idle_per_host(2).build()?;
    let url = format!("http://{addr}/graphql");
    // Bodies are built before timing: the client's JSON encoding is not the server's cost.
    let bodies: Vec<String> = queries.iter().map(|q| api_body(mode, q, api.base64)).collect();
    // The exact answers first: their full scans must not run between timed queries.
    let mut truths = Vec::with_capacity(queries.len());
    for q in queries {
        truths.push(baseline::truth(&db, mode, q).await?);
    }
    for (q, body) in queries.iter().zip(&bodies) {
        baseline::ids(&db, baseline::bare(mode, baseline, q)).await?;
        api_ids(&client, &url, token, body.clone()).await?;
    }
    if mode != Mode::Keyword && api.settle {
        settle_copies(api, &client, &url, queries, &bodies).await?;
    }
    let (mut bare, mut api) = (Vec::new(), Vec::new());
    let (mut recall_bare, mut recall_api, mut hard_api, mut hard) = (0.0, 0.0, 0.0, 0usize);
    for ((q, body), truth) in queries.iter().zip(&bodies).zip(&truths) {
        let stmt = baseline::bare(mode, baseline, q);
        let started = Instant::now();
        let bare_ids = baseline::ids(&db, stmt).await?;
        bare.push(started.elapsed());
        let body = body.clone();
        let started = Instant::now();
        let api_ids = api_ids(&client, &url, token, body).await?;
        api.push(started.elapsed());
        recall_bare += baseline::recall(&bare_ids, truth);
        let r = baseline::recall(&api_ids, truth);
        recall_api += r;
        if q.hard {
            hard_api += r;
            hard += 1;
        }
    }
    db.close_by_ref().await?;
    let n = queries.len() as f64;
    Ok(Row {
        class: class.to_owned(),
        mode,
        baseline,
        bare,
        api,
        recall_bare: recall_bare / n,
        recall_api: recall_api / n,
        recall_api_hard: hard_api / hard.max(1) as f64,
    })
}

/// Searches each workspace the server keeps no copy of yet (it reads one
/// in the background after a second search within a minute, one at a
/// time) until it keeps them all, or for 30 s: the timed searches measure
/// the steady state, not the first minute of a workspace.
async fn settle_copies(
    api: &Api<'_>,
    client: &reqwest::Client,
    url: &str,
    queries: &[Query],
    bodies: &[String],
) -> anyhow::Result<()> {
    let tenant = TenantId::from(api.tenant);
    let deadline = Instant::now() + Duration::from_secs(30);
    while api.resident.enabled() && Instant::now() < deadline {
        let missing: Vec<&String> = queries
            .iter()
            .zip(bodies)
            .filter(|(q, _)| !api.resident.holds(tenant, q.workspace))
            .map(|(_, body)| body)
            .collect();
        if missing.is_empty() {
            break;
        }
        for body in missing.into_iter().take(4) {
            api_ids(client, url, api.token, body.clone()).await?;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Vacuums the table before timing, reused or not: a table that autovacuum
/// has not reached yet has no page marked all-visible, so every index-only
/// scan (the API's workspace size count among them) reads the heap too.
/// Measured on the settled table production runs on.
async fn settle(owner: &DatabaseConnection) -> anyhow::Result<()> {
    owner
        .execute_unprepared("VACUUM (ANALYZE) screenplay.code_documents")
        .await?;
    let row = owner
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT relallvisible::float8 / greatest(relpages, 1) AS visible FROM pg_class \
             WHERE oid = 'screenplay.code_documents'::regclass",
        ))
        .await?
        .context("no pg_class row")?;
    let visible: f64 = row.try_get("", "visible")?;
    eprintln!("vacuumed: {:.0} % of the table's pages all-visible", visible * 100.0);
    Ok(())
}

/// The tenant, its admin and workspaces; the rows loaded (unless reused).
async fn dataset(
    owner: &DatabaseConnection,
    args: &BenchArgs,
    generator: &mut Generator,
) -> anyhow::Result<(Uuid, Uuid, Workspaces)> {
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
    let mut small = Vec::with_capacity(args.workspaces);
    for w in 0..args.workspaces {
        small.push(new_workspace(owner, tenant.id, &format!("bench-{w}")).await?);
    }
    let big = match args.big_workspace {
        0 => None,
        _ => Some(new_workspace(owner, tenant.id, "bench-big").await?),
    };
    let workspaces = Workspaces { small, big };
    load_rows(owner, args, generator, tenant.id, &workspaces).await?;
    Ok((tenant.id, admin.id, workspaces))
}

/// An earlier run's dataset of the same size, if there is one.
async fn earlier_dataset(
    owner: &DatabaseConnection,
    args: &BenchArgs,
) -> anyhow::Result<Option<(Uuid, Uuid, Workspaces)>> {
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
            "SELECT count(*) FROM screenplay.code_documents WHERE tenant_id = '{tenant}' AND source_path LIKE '{}/%'",
            args.prefix()
        ),
    )
    .await?;
    if count as usize != args.vectors + args.big_workspace {
        return Ok(None);
    }
    let workspaces = workspaces_of(owner, tenant).await?;
    if workspaces.small.len() != args.workspaces || workspaces.big.is_some() != (args.big_workspace > 0) {
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
    workspaces: &Workspaces,
) -> anyhow::Result<()> {
    owner
        .execute_unprepared("DROP INDEX IF EXISTS screenplay.code_documents_embedding_hnsw_idx")
        .await?;
    let started = Instant::now();
    let mut rows = Vec::with_capacity(10_000);
    for i in 0..args.vectors + args.big_workspace {
        // The small workspaces take turns, 8 topics each; the big one draws from every cluster.
        let (workspace, path, c, chinese) = match i.checked_sub(args.vectors) {
            None => {
                let w = i % args.workspaces;
                (
                    workspaces.small[w],
                    format!("{}/{w}/{i}.md", args.prefix()),
                    args.small_topics(w)[i / args.workspaces % 8],
                    w % 2 == 1,
                )
            }
            Some(j) => (
                workspaces.big.context("big workspace")?,
                format!("{}/big/{j}.md", args.prefix()),
                j % CLUSTERS,
                false,
            ),
        };
        let content = generator.text(c, chinese, 40);
        rows.push(CopyRow {
            id: Uuid::now_v7(),
            tenant_id: tenant,
            workspace_id: workspace,
            source_path: path,
            title: format!("Bench document {i}"),
            content_hash: ingest::content_hash(&format!("{i}:{content}")),
            language: if chinese { "zh" } else { "en" }.into(),
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
    eprintln!(
        "loaded {} rows by COPY in {:.1?}",
        args.vectors + args.big_workspace,
        started.elapsed()
    );
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

async fn workspaces_of(owner: &DatabaseConnection, tenant: Uuid) -> anyhow::Result<Workspaces> {
    let rows = owner
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT id, slug FROM screenplay.workspaces WHERE tenant_id = '{tenant}' AND slug ~ '^bench-([0-9]+|big)$' \
                 ORDER BY length(slug), slug"
            ),
        ))
        .await?;
    let mut found = Workspaces {
        small: Vec::new(),
        big: None,
    };
    for r in rows {
        let (id, slug): (Uuid, String) = (r.try_get("", "id")?, r.try_get("", "slug")?);
        if slug == "bench-big" {
            found.big = Some(id);
        } else {
            found.small.push(id);
        }
    }
    Ok(found)
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
    let copy_ws = new_workspace(owner, tenant_id, &format!("copy-{run}")).await?;
    let api_ws = new_workspace(owner, tenant_id, &format!("api-{run}")).await?;
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

/// A workspace of `tenant` named and slugged `slug`, made as the owner.
async fn new_workspace(owner: &DatabaseConnection, tenant: Uuid, slug: &str) -> anyhow::Result<Uuid> {
    let row = owner
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("INSERT INTO screenplay.workspaces (tenant_id, name, slug) VALUES ('{tenant}', '{slug}', '{slug}') RETURNING id"),
        ))
        .await?
        .context("workspace")?;
    Ok(row.try_get_by_index::<Uuid>(0)?)
}
