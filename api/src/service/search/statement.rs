//! The search statement: when vectors live in the document rows (the
//! pgvector store), one statement in the tenant transaction checks the
//! workspace (row-level security: another tenant's workspace is not found,
//! as a missing one), reads the model of its vectors, picks the vector plan
//! by the workspace's size (counted here, or counted lately: see
//! [`crate::search::sizes`]), runs the channels and reads the hits' rows
//! (VECTOR, KEYWORD). It writes nothing: the search is counted through the
//! batched counter writer (see `search`).
//!
//! The vector plan: a workspace of at most [`EXACT_MAX_ROWS`] chunks is
//! compared row by row through its btree index, which is exact and cheaper
//! than walking the HNSW graph (or only in the candidates its copy in
//! memory picked, while the copy is current: [`crate::search::resident`]);
//! a larger one is searched through the HNSW index with pgvector's
//! iterative scan (relaxed order), `ef_search` set in the same statement
//! just before the index is read. The nearest `limit`
//! come back as they are: fetching more candidates to re-rank them exactly
//! changed no result on the benchmark's workspaces.

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, QueryResult, Statement, Value};
use uuid::Uuid;

use super::super::documents::{DocumentRow, filter_sql};
use crate::{
    db::rows::{self, Positional as _},
    error::{AppError, AppResult},
    search::{Scored, SearchFilter},
};

/// Workspaces of at most this many chunks are searched exactly (an exact
/// scan of 10,000 chunks costs about what an HNSW search with
/// [`DEFAULT_EF_SEARCH`] does).
pub const EXACT_MAX_ROWS: i64 = 10_000;
/// `ef_search` of an HNSW search when the request names none. On the
/// benchmark's 100,000-row workspace (HNSW m 16, ef_construction 64),
/// queries halfway between two clusters found 0.59 of the exact top 10 with
/// ef_search 100, 0.66 with 200, 0.74 with 400 and 0.92 with 800
/// (BENCHMARKS.md, issue 13).
pub const DEFAULT_EF_SEARCH: u32 = 800;

/// What to search for.
pub(super) struct Channels<'a> {
    pub workspace_id: Uuid,
    pub filter: &'a SearchFilter,
    /// The query vector, its model, and `ef_search` for the HNSW plan.
    pub vector: Option<(&'a [f32], &'a str, Option<u32>)>,
    /// The keyword query text.
    pub keyword: Option<&'a str>,
    /// Hits per channel.
    pub limit: u32,
    /// Read the hits' rows too (single-channel searches, whose hits are final).
    pub with_rows: bool,
    /// The workspace's size when counted lately (the vector plan's choice).
    pub known_size: Option<i64>,
    /// Candidates from the workspace's copy in memory and the copy's
    /// version (see [`crate::search::resident`]): compared exactly instead
    /// of every row while the workspace is still at that version.
    pub resident: Option<(&'a [Uuid], i64)>,
}

/// What the statement found.
#[derive(Default)]
pub(super) struct Found {
    pub vector: Vec<Scored>,
    pub keyword: Vec<Scored>,
    pub rows: HashMap<Uuid, DocumentRow>,
    /// The workspace's size as the statement counted it (capped), when it did.
    pub counted_size: Option<i64>,
    /// The workspace's size as the vector plan saw it (counted or known).
    pub size: Option<i64>,
    /// The version of the workspace's vectors (vector searches).
    pub version: Option<i64>,
}

/// Runs the search statement; NOT_FOUND when the workspace is not the caller's.
pub(super) async fn run(tx: &DatabaseTransaction, c: &Channels<'_>) -> AppResult<Found> {
    let (sql, values) = statement(c);
    let rows = tx
        .query_all_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values))
        .await?;
    let Some(first) = rows.first() else {
        return Err(AppError::not_found("workspace"));
    };
    if let (Some(other), Some((_, model, _))) = (first.try_get::<Option<String>>("", "ws_other_model")?, c.vector) {
        return Err(AppError::other_embedding_model(&format!(
            "the workspace's documents are embedded with model \"{other}\", not \"{model}\""
        )));
    }
    let mut found = Found {
        counted_size: match c.known_size {
            Some(_) => None,
            None => first.try_get("", "ws_size")?,
        },
        size: first.try_get("", "ws_size")?,
        version: first.try_get("", "ws_version")?,
        ..Found::default()
    };
    let mut documents = c.with_rows.then(rows::Decoder::default);
    for row in &rows {
        read_row(row, documents.as_mut(), &mut found)?;
    }
    // The vector channel reads up to its LIMIT bucket; the rest are not hits.
    found.vector.truncate(c.limit as usize);
    Ok(found)
}

/// The vector channel's LIMIT, written into the statement rather than bound,
/// and the workspace compared through the `ws` row rather than `$1`: with
/// either bound, PostgreSQL's generic plan looks costlier than the custom
/// plans (a bound LIMIT is guessed at a tenth of the rows), so it planned
/// the statement anew on every call (0.6 ms of a 3 ms search). A few fixed
/// sizes keep the prepared statements few; the surplus hits are dropped.
fn limit_bucket(limit: u32) -> u32 {
    [10, 20, 50, 100, 200, 500, 1000]
        .into_iter()
        .find(|bucket| *bucket >= limit)
        .unwrap_or(limit)
}

/// One hit, and its document when `documents` decodes them.
fn read_row(row: &QueryResult, documents: Option<&mut rows::Decoder<DocumentRow>>, found: &mut Found) -> AppResult<()> {
    let Some(id) = row.try_get::<Option<Uuid>>("", "hit_id")? else {
        return Ok(());
    };
    let hit = Scored {
        id,
        score: row.try_get("", "hit_score")?,
        rank: row.try_get::<i32>("", "hit_rank")? as u32,
    };
    match row.try_get::<String>("", "hit_channel")?.as_str() {
        "v" => found.vector.push(hit),
        _ => found.keyword.push(hit),
    }
    if let Some(documents) = documents {
        found.rows.insert(id, documents.row(row)?);
    }
    Ok(())
}

/// The statement and its parameters.
fn statement(c: &Channels<'_>) -> (String, Vec<Value>) {
    let mut values: Vec<Value> = vec![c.workspace_id.into(), (c.limit as i32).into()];
    // $1 workspace, $2 limit per channel.
    let mut ctes = vec![workspace_cte(c, &mut values)];
    let mut channels = Vec::new();
    if let Some((vector, _, ef_search)) = c.vector {
        values.push(sea_orm::prelude::PgVector::from(vector.to_vec()).into());
        let v = values.len();
        values.push((ef_search.unwrap_or(DEFAULT_EF_SEARCH) as i32).into());
        let ef = values.len();
        let filter = filter_sql(c.filter, &mut values);
        let resident = c.resident.map(|(ids, version)| {
            values.push(ids.to_vec().into());
            values.push(version.into());
            (values.len() - 1, values.len())
        });
        ctes.push(vector_ctes(v, ef, limit_bucket(c.limit), &filter, resident));
        channels.push(
            "SELECT 'v' AS channel, id, 1 - distance AS score, row_number() OVER (ORDER BY distance, id) AS rank FROM vec",
        );
    }
    if let Some(query) = c.keyword {
        ctes.push(keyword_cte(c.filter, query, &mut values));
        channels.push("SELECT 'k' AS channel, id, score, row_number() OVER (ORDER BY score DESC, id) AS rank FROM kw");
    }
    let (columns, join) = if c.with_rows {
        let columns: Vec<String> = DocumentRow::COLUMNS.iter().map(|col| format!("d.{col}")).collect();
        (
            format!(", {}", columns.join(", ")),
            " LEFT JOIN screenplay.code_documents AS d ON d.id = h.id",
        )
    } else {
        (String::new(), "")
    };
    let sql = format!(
        "WITH {} SELECT ws.size AS ws_size, ws.other_model AS ws_other_model, ws.version AS ws_version, \
         h.channel AS hit_channel, h.id AS hit_id, \
         h.score::float8 AS hit_score, h.rank::int4 AS hit_rank{columns} \
         FROM ws LEFT JOIN ({}) AS h ON true{join} ORDER BY h.channel, h.rank",
        ctes.join(", "),
        channels.join(" UNION ALL "),
    );
    (sql, values)
}

/// The caller's workspace (none under row-level security when it is
/// another tenant's), its size up to the exact-scan limit (counted unless
/// known), another model than the query's if its vectors have one, and the
/// version of its vectors.
fn workspace_cte(c: &Channels<'_>, values: &mut Vec<Value>) -> String {
    let (size, other_model, version) = match c.vector {
        Some((_, model, _)) => {
            let size = match c.known_size {
                Some(size) => {
                    values.push(size.into());
                    format!("${}::int8", values.len())
                }
                None => format!("screenplay.workspace_size_capped(w.id, {})", EXACT_MAX_ROWS + 1),
            };
            values.push(model.to_owned().into());
            let version =
                "(SELECT v.version FROM screenplay.workspace_vector_versions AS v WHERE v.workspace_id = w.id)";
            (size, other_model_sql(values.len()), version)
        }
        // Only the vector channel chooses its plan by the workspace's size.
        None => ("NULL::int8".to_owned(), "NULL::text".to_owned(), "NULL::int8"),
    };
    format!(
        "ws AS MATERIALIZED (SELECT w.id, {size} AS size, {other_model} AS other_model, {version} AS version \
         FROM screenplay.workspaces AS w WHERE w.id = $1)"
    )
}

/// The lowest and highest model of the workspace's vectors, two lookups in
/// the `(workspace_id, embedding_model)` index: one of them differs from
/// the query's model exactly when some vector's does (what
/// `check_embedding_model` checks, without a PL/pgSQL call per search).
fn other_model_sql(model: usize) -> String {
    format!(
        "(SELECT CASE WHEN lo <> ${model} THEN lo WHEN hi <> ${model} THEN hi END \
          FROM (SELECT min(d.embedding_model) AS lo, max(d.embedding_model) AS hi \
                FROM screenplay.code_documents AS d WHERE d.workspace_id = w.id) AS models)"
    )
}

/// The vector channel: one of its plans runs, by the workspace's size
/// and, when the server has a copy of the workspace's vectors in memory,
/// by whether the copy is current. The copy's candidates are compared
/// exactly (`$ids`, when the workspace is still at `$version`); otherwise
/// a small workspace's rows all are. The HNSW plan's workspace condition is
/// written so that no btree index can serve it (`IS TRUE`), which leaves
/// the planner the HNSW index; its one-time condition sets `ef_search` and
/// the iterative scan before the index is first read (pgvector reads both
/// then).
fn vector_ctes(v: usize, ef: usize, limit: u32, filter: &str, resident: Option<(usize, usize)>) -> String {
    let (resident_hits, stale) = match resident {
        Some((ids, version)) => (
            format!(
                "resident_hits AS MATERIALIZED ( \
                   SELECT d.id, (d.embedding <=> ${v}) + 0 AS distance FROM screenplay.code_documents AS d \
                   WHERE d.id = ANY(${ids}) AND d.workspace_id = (SELECT id FROM ws) AND d.embedding IS NOT NULL \
                     AND (SELECT version = ${version} AND other_model IS NULL FROM ws) \
                   ORDER BY 2, 1 LIMIT {limit}), "
            ),
            format!(" AND version IS DISTINCT FROM ${version}"),
        ),
        None => (String::new(), String::new()),
    };
    let union_resident = if resident.is_some() {
        " UNION ALL SELECT id, distance FROM resident_hits"
    } else {
        ""
    };
    format!(
        "{resident_hits}exact_hits AS MATERIALIZED ( \
           SELECT d.id, (d.embedding <=> ${v}) + 0 AS distance FROM screenplay.code_documents AS d \
           WHERE d.workspace_id = (SELECT id FROM ws) AND d.embedding IS NOT NULL{filter} \
             AND (SELECT size <= {max} AND other_model IS NULL{stale} FROM ws) \
           ORDER BY 2, 1 LIMIT {limit}), \
         index_hits AS MATERIALIZED ( \
           SELECT d.id, d.embedding <=> ${v} AS distance FROM screenplay.code_documents AS d \
           WHERE (d.workspace_id = (SELECT id FROM ws)) IS TRUE AND d.embedding IS NOT NULL{filter} \
             AND (SELECT size > {max} AND other_model IS NULL{stale} \
                         AND set_config('hnsw.ef_search', greatest(${ef}::int4, {limit})::text, true) <> '' \
                         AND set_config('hnsw.iterative_scan', 'relaxed_order', true) <> '' FROM ws) \
           ORDER BY d.embedding <=> ${v} LIMIT {limit}), \
         vec AS (SELECT id, distance FROM exact_hits UNION ALL SELECT id, distance FROM index_hits{union_resident})",
        max = EXACT_MAX_ROWS
    )
}

/// The keyword channel: `keyword_hits` (words, CJK pairs and the query as
/// a phrase through their indexes, the caller's tenant).
fn keyword_cte(filter: &SearchFilter, query: &str, values: &mut Vec<Value>) -> String {
    values.push(query.to_owned().into());
    let q = values.len();
    let mut param = |v: Value| {
        values.push(v);
        format!("${}", values.len())
    };
    let language = param(filter.language.clone().into());
    let prefix = param(filter.source_path_prefix.clone().into());
    let metadata = param(filter.metadata.clone().into());
    format!(
        "kw AS MATERIALIZED (SELECT k.id, k.score FROM ws, screenplay.keyword_hits($1, ${q}, $2, \
           {language}::text, {prefix}::text, {metadata}::jsonb) AS k)"
    )
}
