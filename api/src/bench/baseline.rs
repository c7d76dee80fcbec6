//! What `searchDocuments` is measured against: the bare statements a DBA
//! would write (run as the schema owner through prepared statements), and
//! the exact answers recall is counted against.

use std::collections::HashSet;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, prelude::PgVector};
use uuid::Uuid;

use crate::search::{
    Scored,
    fusion::{Fusion, fuse},
};

/// Which channel(s) a search uses.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Mode {
    Vector,
    Keyword,
    Hybrid,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::Vector, Mode::Keyword, Mode::Hybrid];
    pub fn name(self) -> &'static str {
        match self {
            Mode::Vector => "VECTOR",
            Mode::Keyword => "KEYWORD",
            Mode::Hybrid => "HYBRID",
        }
    }
}

/// One query of the workload.
#[derive(Clone)]
pub struct Query {
    pub workspace: Uuid,
    pub text: String,
    pub vector: Vec<f32>,
    /// Halfway between two clusters: the hard case for HNSW.
    pub hard: bool,
}

/// The nearest 10 of the workspace by cosine distance: pgvector's README query.
pub const BARE_VECTOR: &str = "SELECT id FROM screenplay.code_documents WHERE workspace_id = $1 \
                               ORDER BY embedding <=> $2 LIMIT 10";

/// The same nearest 10 compared with every row of the workspace (`+ 0`
/// keeps the planner off the HNSW index): the bare statement at the
/// recall the API answers with on workspaces it searches exactly.
pub const BARE_VECTOR_EXACT: &str = "SELECT id FROM screenplay.code_documents WHERE workspace_id = $1 \
                                     ORDER BY (embedding <=> $2) + 0, id LIMIT 10";

/// Which bare statement a mode is compared with.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Baseline {
    /// The statement a DBA writes first (the `BARE_*` of the mode).
    Plain,
    /// VECTOR only: [`BARE_VECTOR_EXACT`].
    Exact,
}

impl Baseline {
    /// The baselines of a mode: VECTOR has both, the others their plain one.
    pub fn of(mode: Mode) -> &'static [Baseline] {
        match mode {
            Mode::Vector => &[Baseline::Plain, Baseline::Exact],
            Mode::Keyword | Mode::Hybrid => &[Baseline::Plain],
        }
    }
}

/// The 10 best full-text matches on the GIN index, with the same tsquery
/// the product builds (`keyword_tsquery`: stemmed words, CJK bigrams).
pub const BARE_KEYWORD: &str = "SELECT d.id FROM screenplay.code_documents AS d, \
                                screenplay.keyword_tsquery($2) AS q \
                                WHERE d.workspace_id = $1 AND d.search_vector @@ q \
                                ORDER BY ts_rank(d.search_vector, q, 1) DESC, d.id LIMIT 10";

/// Reciprocal rank fusion (k 60) of the 50 nearest and the 50 best matches.
pub const BARE_HYBRID: &str = "WITH v AS ( \
       SELECT id, row_number() OVER (ORDER BY dist, id) AS r FROM ( \
         SELECT id, embedding <=> $2 AS dist FROM screenplay.code_documents WHERE workspace_id = $1 \
         ORDER BY embedding <=> $2 LIMIT 50) AS s), \
     k AS ( \
       SELECT id, row_number() OVER (ORDER BY score DESC, id) AS r FROM ( \
         SELECT d.id, ts_rank(d.search_vector, q, 1) AS score \
         FROM screenplay.code_documents AS d, screenplay.keyword_tsquery($3) AS q \
         WHERE d.workspace_id = $1 AND d.search_vector @@ q ORDER BY 2 DESC, 1 LIMIT 50) AS s) \
     SELECT coalesce(v.id, k.id) AS id FROM v FULL JOIN k ON v.id = k.id \
     ORDER BY coalesce(1.0 / (60 + v.r), 0) + coalesce(1.0 / (60 + k.r), 0) DESC, 1 LIMIT 10";

/// The bare statement of a mode, for one query.
pub fn bare(mode: Mode, baseline: Baseline, q: &Query) -> Statement {
    let v = || PgVector::from(q.vector.clone());
    match mode {
        Mode::Vector => {
            let sql = match baseline {
                Baseline::Plain => BARE_VECTOR,
                Baseline::Exact => BARE_VECTOR_EXACT,
            };
            Statement::from_sql_and_values(DbBackend::Postgres, sql, [q.workspace.into(), v().into()])
        }
        Mode::Keyword => Statement::from_sql_and_values(
            DbBackend::Postgres,
            BARE_KEYWORD,
            [q.workspace.into(), q.text.clone().into()],
        ),
        Mode::Hybrid => Statement::from_sql_and_values(
            DbBackend::Postgres,
            BARE_HYBRID,
            [q.workspace.into(), v().into(), q.text.clone().into()],
        ),
    }
}

/// The ids a statement returns, in order.
pub async fn ids(db: &DatabaseConnection, stmt: Statement) -> anyhow::Result<Vec<Uuid>> {
    let rows = db.query_all_raw(stmt).await?;
    rows.iter().map(|r| Ok(r.try_get_by_index::<Uuid>(0)?)).collect()
}

/// The exact nearest `limit` (every row of the workspace compared).
async fn exact_vector(db: &DatabaseConnection, q: &Query, limit: i32) -> anyhow::Result<Vec<Scored>> {
    channel(
        db,
        Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id, similarity AS score, rank FROM screenplay.search_similar_documents($1, $2, $3, \
             p_exact => true)",
            [
                q.workspace.into(),
                PgVector::from(q.vector.clone()).into(),
                limit.into(),
            ],
        ),
    )
    .await
}

/// The best `limit` keyword matches (GIN is exact).
async fn keyword(db: &DatabaseConnection, q: &Query, limit: i32) -> anyhow::Result<Vec<Scored>> {
    channel(
        db,
        Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id, score, rank FROM screenplay.search_by_keywords($1, $2, $3)",
            [q.workspace.into(), q.text.clone().into(), limit.into()],
        ),
    )
    .await
}

async fn channel(db: &DatabaseConnection, stmt: Statement) -> anyhow::Result<Vec<Scored>> {
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

/// The exact top 10 of a mode: VECTOR compares every row; KEYWORD is the
/// GIN search; HYBRID fuses (RRF, k 60) the exact 50 nearest with the 50
/// best keyword matches.
pub async fn truth(db: &DatabaseConnection, mode: Mode, q: &Query) -> anyhow::Result<HashSet<Uuid>> {
    let top: Vec<Uuid> = match mode {
        Mode::Vector => exact_vector(db, q, 10).await?.iter().map(|h| h.id).collect(),
        Mode::Keyword => keyword(db, q, 10).await?.iter().map(|h| h.id).collect(),
        Mode::Hybrid => {
            let v = exact_vector(db, q, 50).await?;
            let k = keyword(db, q, 50).await?;
            fuse(&v, &k, Fusion::Rrf { k: 60 })
                .into_iter()
                .take(10)
                .map(|f| f.id)
                .collect()
        }
    };
    Ok(top.into_iter().collect())
}

/// The share of `want` found in `got` (1 when nothing is wanted).
pub fn recall(got: &[Uuid], want: &HashSet<Uuid>) -> f64 {
    if want.is_empty() {
        return 1.0;
    }
    got.iter().filter(|id| want.contains(id)).count() as f64 / want.len() as f64
}
