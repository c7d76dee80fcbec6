//! Searching a workspace's documents by vector, keyword or both, and
//! recording what an agent retrieved for a session step.

mod rerank;
mod statement;

use std::collections::HashMap;

use entity::enums::{QuotaMetric, RetrievalMethod};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement};
use uuid::Uuid;

use self::rerank::Fused;
pub use self::statement::{DEFAULT_EF_SEARCH, EXACT_MAX_ROWS};
use super::{
    documents::{self, ClientEmbedding, Deps, DocumentRow},
    usage,
};
use crate::{
    audit::AuditSink,
    auth::TenantCaller,
    domain::TenantId,
    error::{AppError, AppResult},
    search::{
        Scored, SearchFilter, VectorQuery,
        fusion::{self, Fusion},
        highlight, keyword,
        resident::Seen,
    },
};

/// Whether a search writes (a retrieval record, a reranker's call log):
/// then it must run on the primary.
pub fn writes(request: &SearchRequest) -> bool {
    request.session_id.is_some() || request.step_id.is_some() || request.rerank
}

/// Which channels a search uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Vector,
    Keyword,
    Hybrid,
}

impl Mode {
    fn method(self) -> RetrievalMethod {
        match self {
            Self::Vector => RetrievalMethod::Vector,
            Self::Keyword => RetrievalMethod::Keyword,
            Self::Hybrid => RetrievalMethod::Hybrid,
        }
    }
}

/// Largest `limit`.
pub const MAX_LIMIT: u32 = 100;
/// Largest per-channel candidate count.
pub const MAX_CANDIDATES: u32 = 1000;

/// A search request, as the API receives it.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub workspace_id: Uuid,
    pub query: Option<String>,
    pub embedding: Option<ClientEmbedding>,
    /// The model of `embedding`; defaults to the server's.
    pub embedding_model: Option<String>,
    pub mode: Mode,
    pub limit: Option<i32>,
    pub min_score: Option<f64>,
    pub rrf_k: Option<i32>,
    pub vector_weight: Option<f64>,
    pub keyword_weight: Option<f64>,
    /// Per-channel candidates of a hybrid search (default max(50, limit)).
    pub candidates: Option<i32>,
    pub ef_search: Option<i32>,
    pub filter: SearchFilter,
    pub session_id: Option<Uuid>,
    pub step_id: Option<Uuid>,
    /// Reorder the fused candidates with the configured reranker.
    pub rerank: bool,
}

/// One result.
#[derive(Debug, Clone)]
pub struct Hit {
    pub document: DocumentRow,
    /// The fused score (hybrid), the similarity (vector) or the keyword score.
    pub score: f64,
    pub vector: Option<Scored>,
    pub keyword: Option<Scored>,
    /// The reranker's score (then also `score`), when the search reranked.
    pub rerank: Option<f64>,
    pub highlight: String,
}

/// A checked request.
struct Plan {
    query: Option<String>,
    limit: u32,
    candidates: u32,
    fusion: Fusion,
    ef_search: Option<u32>,
    /// Candidates to rerank (each channel finds at least as many).
    rerank: Option<u32>,
}

/// Checks a request; `reranker` is how many candidates the server's
/// reranker takes, if it has one.
fn check(request: &SearchRequest, reranker: Option<u32>) -> AppResult<Plan> {
    let query = check_query(request)?;
    let (limit, candidates) = check_sizes(request)?;
    if request.min_score.is_some_and(|s| !s.is_finite()) {
        return Err(AppError::bad_input("minScore", "`minScore` must be a finite number"));
    }
    let fusion = check_fusion(request)?;
    let ef_search = match request.ef_search {
        None => None,
        Some(e) if (1..=1000).contains(&e) => Some(e as u32),
        Some(_) => return Err(AppError::bad_input("efSearch", "`efSearch` must be between 1 and 1000")),
    };
    let rerank = match (request.rerank, reranker, &query) {
        (false, _, _) => None,
        (true, None, _) => {
            return Err(AppError::bad_input(
                "rerank",
                "the server has no reranker (SCREENPLAY_RERANK_URL)",
            ));
        }
        (true, Some(_), None) => return Err(AppError::bad_input("rerank", "reranking needs `query`")),
        (true, Some(n), Some(_)) => Some(n.max(limit)),
    };
    Ok(Plan {
        query,
        limit,
        candidates: candidates.max(rerank.unwrap_or(0)),
        fusion,
        ef_search,
        rerank,
    })
}

/// The query text (trimmed; none when blank), and what each mode needs.
fn check_query(request: &SearchRequest) -> AppResult<Option<String>> {
    let query = request
        .query
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(str::to_owned);
    if query.as_ref().is_some_and(|q| q.chars().count() > 10_000) {
        return Err(AppError::bad_input("query", "`query` must be at most 10000 characters"));
    }
    match request.mode {
        Mode::Keyword if query.is_none() => Err(AppError::bad_input("query", "a KEYWORD search needs `query`")),
        Mode::Hybrid if query.is_none() => Err(AppError::bad_input("query", "a HYBRID search needs `query`")),
        Mode::Vector if query.is_none() && request.embedding.is_none() => Err(AppError::bad_input(
            "query",
            "a VECTOR search needs `query`, `embedding` or `embeddingBase64`",
        )),
        Mode::Keyword if request.embedding.is_some() => {
            let field = request.embedding.as_ref().map_or("embedding".into(), |e| e.field(""));
            Err(AppError::bad_input(
                &field,
                format!("a KEYWORD search uses no `{field}`"),
            ))
        }
        _ => Ok(query),
    }
}

/// `limit` (default 10) and each channel's `candidates` (default max(50, limit)).
fn check_sizes(request: &SearchRequest) -> AppResult<(u32, u32)> {
    let limit = match request.limit {
        None => 10,
        Some(l) if (1..=MAX_LIMIT as i32).contains(&l) => l as u32,
        Some(_) => {
            return Err(AppError::bad_input(
                "limit",
                format!("`limit` must be between 1 and {MAX_LIMIT}"),
            ));
        }
    };
    let candidates = match request.candidates {
        None => limit.max(50),
        Some(c) if c >= limit as i32 && c <= MAX_CANDIDATES as i32 => c as u32,
        Some(_) => {
            return Err(AppError::bad_input(
                "candidates",
                format!("`candidates` must be between `limit` and {MAX_CANDIDATES}"),
            ));
        }
    };
    Ok((limit, candidates))
}

/// How a HYBRID search fuses its channels: weights, or reciprocal rank fusion.
fn check_fusion(request: &SearchRequest) -> AppResult<Fusion> {
    let weighted = request.vector_weight.is_some() || request.keyword_weight.is_some();
    if weighted && request.rrf_k.is_some() {
        return Err(AppError::bad_input(
            "rrfK",
            "give `rrfK` (reciprocal rank fusion) or weights, not both",
        ));
    }
    if (weighted || request.rrf_k.is_some()) && request.mode != Mode::Hybrid {
        let field = if weighted { "vectorWeight" } else { "rrfK" };
        return Err(AppError::bad_input(
            field,
            format!("`{field}` applies to HYBRID searches"),
        ));
    }
    for (field, w) in [
        ("vectorWeight", request.vector_weight),
        ("keywordWeight", request.keyword_weight),
    ] {
        if w.is_some_and(|w| !w.is_finite() || w < 0.0) {
            return Err(AppError::bad_input(field, format!("`{field}` must be a number ≥ 0")));
        }
    }
    if !weighted {
        return match request.rrf_k {
            None => Ok(Fusion::Rrf {
                k: Fusion::DEFAULT_RRF_K,
            }),
            Some(k) if (0..=10_000).contains(&k) => Ok(Fusion::Rrf { k: k as u32 }),
            Some(_) => Err(AppError::bad_input("rrfK", "`rrfK` must be between 0 and 10000")),
        };
    }
    let fusion = Fusion::weighted(request.vector_weight, request.keyword_weight);
    if let Fusion::Weighted { vector, keyword } = fusion
        && vector + keyword <= 0.0
    {
        return Err(AppError::bad_input("vectorWeight", "the weights must not both be 0"));
    }
    Ok(fusion)
}

/// Runs a search in the caller's tenant transaction, and records its
/// latency by mode (Prometheus and `vector_db_metrics`).
///
/// A search that succeeds counts `search_queries` (and the tokens of
/// embedding its query) through the batched counter writer, as requests
/// are counted, not in its own transaction: an upsert of the tenant's hourly
/// counter row cost a 1,000-row VECTOR search's statement about a fifth of
/// its time, and held that row locked until COMMIT, so one tenant's
/// concurrent searches waited for each other. The search itself writes
/// nothing then, unless it records a retrieval or a reranker's call.
pub async fn search(
    tx: &DatabaseTransaction,
    caller: &TenantCaller,
    deps: Deps<'_>,
    request: SearchRequest,
    counters: &AuditSink,
) -> AppResult<Vec<Hit>> {
    let started = std::time::Instant::now();
    let mode = match request.mode {
        Mode::Vector => "vector",
        Mode::Keyword => "keyword",
        Mode::Hybrid => "hybrid",
    };
    let (hits, tokens) = search_inner(tx, caller, deps, request).await?;
    crate::metrics::observe_search(mode, started.elapsed());
    counters.count(caller.tenant_id, QuotaMetric::SearchQueries, 1).await;
    if tokens > 0 {
        let tokens = i64::try_from(tokens).unwrap_or(i64::MAX);
        counters
            .count(caller.tenant_id, QuotaMetric::EmbeddingTokens, tokens)
            .await;
    }
    Ok(hits)
}

/// The hits, and the tokens embedding the query cost.
async fn search_inner(
    tx: &DatabaseTransaction,
    caller: &TenantCaller,
    deps: Deps<'_>,
    request: SearchRequest,
) -> AppResult<(Vec<Hit>, u64)> {
    let tenant_id = caller.tenant_id;
    let plan = check(&request, deps.reranker.map(|r| r.candidates()))?;
    let filter = documents::check_filter(request.filter.clone())?;
    let retrieval_session = match (request.session_id, request.step_id) {
        (None, None) => None,
        (session, step) => Some(retrieval_target(tx, tenant_id, request.workspace_id, session, step).await?),
    };
    let (query_vector, tokens) = query_vector(tx, tenant_id, deps, &request, &plan).await?;
    let (mut fused, mut rows) = if deps.vectors.searches_in_postgres() {
        in_one_statement(tx, tenant_id, deps, &request, &plan, &filter, query_vector.as_ref()).await?
    } else {
        let fused = run_channels(tx, deps, &request, &plan, &filter, query_vector.as_ref()).await?;
        if fused.is_empty() {
            // Rows found prove the workspace is the tenant's (row-level
            // security); without any, tell a missing workspace from an empty one.
            documents::ensure_workspace(tx, caller, request.workspace_id).await?;
        }
        (fused, HashMap::new())
    };
    let mut rerank_scores = HashMap::new();
    if let (Some(n), Some(reranker), Some(query)) = (plan.rerank, deps.reranker, plan.query.as_deref()) {
        fused.truncate(n as usize);
        fetch_rows(tx, caller, &fused, &mut rows).await?;
        let call = rerank::RerankCall {
            tenant_id,
            query,
            session: retrieval_session,
        };
        (fused, rerank_scores) = rerank::rerank(tx, reranker, call, fused, &rows).await?;
    }
    if let Some(min) = request.min_score {
        fused.retain(|f| f.1 >= min);
    }
    fused.truncate(plan.limit as usize);
    fetch_rows(tx, caller, &fused, &mut rows).await?;
    let mut hits = hits(fused, rows, plan.query.as_deref().unwrap_or_default());
    for hit in &mut hits {
        hit.rerank = rerank_scores.get(&hit.document.id).copied();
    }
    if let Some((session_id, step_id)) = retrieval_session {
        let query = plan.query.as_deref();
        record(tx, tenant_id, session_id, step_id, query, request.mode, &hits).await?;
    }
    Ok((hits, tokens))
}

/// The channels and the rows of single-channel hits in one statement (see
/// [`statement`]); the vector channel compares only the candidates of the
/// workspace's copy in memory when there is a current one (see
/// [`crate::search::resident`]).
async fn in_one_statement(
    tx: &DatabaseTransaction,
    tenant_id: TenantId,
    deps: Deps<'_>,
    request: &SearchRequest,
    plan: &Plan,
    filter: &SearchFilter,
    query_vector: Option<&(Vec<f32>, String)>,
) -> AppResult<(Vec<Fused>, HashMap<Uuid, DocumentRow>)> {
    let keyword = match request.mode {
        Mode::Keyword | Mode::Hybrid => plan.query.as_deref(),
        Mode::Vector => None,
    };
    let limit = channel_limit(request.mode, plan);
    // Only the vector channel chooses a plan by the workspace's size.
    let known_size = query_vector.and_then(|_| deps.sizes.get(request.workspace_id));
    let picked = match query_vector {
        Some((vector, model)) if filter.is_empty() => {
            let (resident, ws) = (deps.resident, request.workspace_id);
            resident.pick(tenant_id, ws, vector, model, limit as usize).await
        }
        _ => None,
    };
    let found = statement::run(
        tx,
        &statement::Channels {
            workspace_id: request.workspace_id,
            filter,
            vector: query_vector.map(|(v, model)| (v.as_slice(), model.as_str(), plan.ef_search)),
            keyword,
            limit,
            with_rows: request.mode != Mode::Hybrid,
            known_size: picked.as_ref().map(|p| p.rows).or(known_size),
            resident: picked.as_ref().map(|p| (p.ids.as_slice(), p.version)),
        },
    )
    .await?;
    if let Some(size) = found.counted_size {
        deps.sizes.put(request.workspace_id, size);
    }
    if query_vector.is_some() && filter.is_empty() {
        let seen = Seen {
            used: picked.map(|p| p.version),
            version: found.version,
            size: found.size,
            max_rows: EXACT_MAX_ROWS,
            again: known_size.is_some(),
        };
        deps.resident.searched(tenant_id, request.workspace_id, seen);
    }
    let fused = fuse_channels(request.mode, plan, &found.vector, &found.keyword);
    Ok((fused, found.rows))
}

/// The query vector and its model (the client's, or the query text embedded
/// here within the tenant's embedding quota), and the tokens that cost.
async fn query_vector(
    tx: &DatabaseTransaction,
    tenant_id: TenantId,
    deps: Deps<'_>,
    request: &SearchRequest,
    plan: &Plan,
) -> AppResult<(Option<(Vec<f32>, String)>, u64)> {
    if request.mode == Mode::Keyword {
        return Ok((None, 0));
    }
    if let Some(embedding) = &request.embedding {
        let model = match request.embedding_model.as_deref().map(str::trim) {
            Some("") => {
                return Err(AppError::bad_input(
                    "embeddingModel",
                    "`embeddingModel` must not be empty",
                ));
            }
            Some(m) => m.to_owned(),
            None => deps.embedder.model().to_owned(),
        };
        let vector = embedding.vector("", deps.embedder)?;
        return Ok((Some((vector, model)), 0));
    }
    if request.embedding_model.is_some() {
        return Err(AppError::bad_input(
            "embeddingModel",
            "`embeddingModel` names the model of `embedding`; the query text is embedded with the server's model",
        ));
    }
    let text = plan.query.clone().unwrap_or_default();
    // Refused, like an ingest, when the tenant's monthly limit would be passed.
    let estimate = crate::text::estimate_tokens(&text);
    usage::ensure_within_unlocked(tx, tenant_id, QuotaMetric::EmbeddingTokens, estimate as i64).await?;
    let embedded = deps
        .embedder
        .embed(std::slice::from_ref(&text))
        .await
        .map_err(|e| AppError::internal(anyhow::Error::new(e).context("embedding a search query")))?;
    let vector = embedded
        .vectors
        .into_iter()
        .next()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("the embedder returned no vector")))?;
    Ok((Some((vector, deps.embedder.model().to_owned())), embedded.tokens))
}

/// The rows of hits not read with them yet.
async fn fetch_rows(
    tx: &DatabaseTransaction,
    caller: &TenantCaller,
    fused: &[Fused],
    rows: &mut HashMap<Uuid, DocumentRow>,
) -> AppResult<()> {
    let missing: Vec<Uuid> = fused.iter().map(|f| f.0).filter(|id| !rows.contains_key(id)).collect();
    if !missing.is_empty() {
        rows.extend(
            documents::get_many(tx, caller, &missing)
                .await?
                .into_iter()
                .map(|r| (r.id, r)),
        );
    }
    Ok(())
}

/// Hits per channel: the limit, or the candidates of a HYBRID or reranked search.
fn channel_limit(mode: Mode, plan: &Plan) -> u32 {
    if mode == Mode::Hybrid || plan.rerank.is_some() {
        plan.candidates
    } else {
        plan.limit
    }
}

/// Runs the mode's channels through the vector store and the keyword
/// function, and fuses them (HYBRID), best first.
async fn run_channels(
    tx: &DatabaseTransaction,
    deps: Deps<'_>,
    request: &SearchRequest,
    plan: &Plan,
    filter: &SearchFilter,
    query_vector: Option<&(Vec<f32>, String)>,
) -> AppResult<Vec<Fused>> {
    let channel_limit = channel_limit(request.mode, plan);
    let vector_hits = match query_vector {
        Some((vector, model)) => {
            let query = VectorQuery {
                workspace_id: request.workspace_id,
                embedding: vector,
                model,
                limit: channel_limit,
                filter,
                ef_search: plan.ef_search,
                exact: false,
            };
            deps.vectors.search(tx, &query).await?
        }
        None => Vec::new(),
    };
    let keyword_hits = match (&plan.query, request.mode) {
        (Some(q), Mode::Keyword | Mode::Hybrid) => {
            keyword::search(tx, request.workspace_id, q, channel_limit, filter).await?
        }
        _ => Vec::new(),
    };
    Ok(fuse_channels(request.mode, plan, &vector_hits, &keyword_hits))
}

/// The mode's hits, best first: one channel's, or both fused.
fn fuse_channels(mode: Mode, plan: &Plan, vector_hits: &[Scored], keyword_hits: &[Scored]) -> Vec<Fused> {
    match mode {
        Mode::Vector => vector_hits.iter().map(|h| (h.id, h.score, Some(*h), None)).collect(),
        Mode::Keyword => keyword_hits.iter().map(|h| (h.id, h.score, None, Some(*h))).collect(),
        Mode::Hybrid => fusion::fuse(vector_hits, keyword_hits, plan.fusion)
            .into_iter()
            .map(|f| (f.id, f.score, f.vector, f.keyword))
            .collect(),
    }
}

/// The hits with their rows, in the fused order, with highlights.
fn hits(fused: Vec<Fused>, mut rows: HashMap<Uuid, DocumentRow>, query_text: &str) -> Vec<Hit> {
    let highlighter = highlight::Highlighter::new(query_text);
    fused
        .into_iter()
        .filter_map(|(id, score, vector, keyword)| {
            rows.remove(&id).map(|document| Hit {
                highlight: highlighter.highlight(&document.content),
                document,
                score,
                vector,
                keyword,
                rerank: None,
            })
        })
        .collect()
}

/// The session (and step) retrievals are recorded for: both of the tenant,
/// the step in the session, the session in the searched workspace.
async fn retrieval_target(
    db: &impl ConnectionTrait,
    tenant_id: TenantId,
    workspace_id: Uuid,
    session_id: Option<Uuid>,
    step_id: Option<Uuid>,
) -> AppResult<(Uuid, Option<Uuid>)> {
    let session_id = match (session_id, step_id) {
        (Some(s), _) => s,
        (None, Some(step)) => {
            let row = db
                .query_one_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT session_id FROM screenplay.outline_steps WHERE tenant_id = $1 AND id = $2",
                    [tenant_id.into(), step.into()],
                ))
                .await?
                .ok_or(AppError::not_found("step"))?;
            row.try_get("", "session_id")?
        }
        (None, None) => return Err(AppError::internal(anyhow::anyhow!("no retrieval target"))),
    };
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT workspace_id FROM screenplay.screenplay_sessions WHERE tenant_id = $1 AND id = $2",
            [tenant_id.into(), session_id.into()],
        ))
        .await?
        .ok_or(AppError::not_found("session"))?;
    let session_workspace: Uuid = row.try_get("", "workspace_id")?;
    if session_workspace != workspace_id {
        return Err(AppError::bad_input(
            "sessionId",
            "the session belongs to another workspace than the one searched",
        ));
    }
    if let Some(step) = step_id {
        let found = db
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT 1 AS one FROM screenplay.outline_steps WHERE tenant_id = $1 AND id = $2 AND session_id = $3",
                [tenant_id.into(), step.into(), session_id.into()],
            ))
            .await?;
        if found.is_none() {
            return Err(AppError::not_found("step"));
        }
    }
    Ok((session_id, step_id))
}

/// Records the hits as retrieved documents of the session (and step).
async fn record(
    db: &impl ConnectionTrait,
    tenant_id: TenantId,
    session_id: Uuid,
    step_id: Option<Uuid>,
    query: Option<&str>,
    mode: Mode,
    hits: &[Hit],
) -> AppResult<()> {
    if hits.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::new();
    let mut scores = Vec::new();
    let mut ranks = Vec::new();
    for (i, hit) in hits.iter().enumerate() {
        ids.push(hit.document.id);
        scores.push(hit.score);
        ranks.push(i as i32 + 1);
    }
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO screenplay.retrieved_documents \
         (tenant_id, session_id, step_id, document_id, query_text, method, score, rank) \
         SELECT $1, $2, $3, d, $4, $5, s, r FROM unnest($6::uuid[], $7::float8[], $8::int[]) AS u(d, s, r)",
        [
            tenant_id.into(),
            session_id.into(),
            step_id.into(),
            query.map(str::to_owned).into(),
            mode.method().as_str().into(),
            ids.into(),
            scores.into(),
            ranks.into(),
        ],
    ))
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(mode: Mode) -> SearchRequest {
        SearchRequest {
            workspace_id: Uuid::nil(),
            query: Some("rain".into()),
            embedding: None,
            embedding_model: None,
            mode,
            limit: None,
            min_score: None,
            rrf_k: None,
            vector_weight: None,
            keyword_weight: None,
            candidates: None,
            ef_search: None,
            filter: SearchFilter::default(),
            session_id: None,
            step_id: None,
            rerank: false,
        }
    }

    fn field(result: AppResult<Plan>) -> String {
        match result {
            Err(AppError::BadInput { field, .. }) => field,
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn reranking_needs_a_reranker_and_a_query() {
        let mut r = request(Mode::Keyword);
        r.rerank = true;
        assert_eq!(field(check(&r, None)), "rerank");
        assert_eq!(
            check(&r, Some(30)).map(|p| (p.rerank, p.candidates)).ok(),
            Some((Some(30), 50))
        );
        r.limit = Some(80);
        assert_eq!(
            check(&r, Some(30)).map(|p| (p.rerank, p.candidates)).ok(),
            Some((Some(80), 80))
        );
        let mut r = request(Mode::Vector);
        (r.query, r.embedding, r.rerank) = (None, Some(ClientEmbedding::Floats(vec![1.0; 1536])), true);
        assert_eq!(field(check(&r, Some(30))), "rerank");
    }

    #[test]
    fn bad_requests_name_their_field() {
        let mut r = request(Mode::Hybrid);
        r.limit = Some(0);
        assert_eq!(field(check(&r, None)), "limit");
        let mut r = request(Mode::Hybrid);
        r.rrf_k = Some(10);
        r.vector_weight = Some(0.5);
        assert_eq!(field(check(&r, None)), "rrfK");
        let mut r = request(Mode::Hybrid);
        r.vector_weight = Some(-1.0);
        assert_eq!(field(check(&r, None)), "vectorWeight");
        let mut r = request(Mode::Keyword);
        r.query = None;
        assert_eq!(field(check(&r, None)), "query");
        let mut r = request(Mode::Hybrid);
        r.limit = Some(20);
        r.candidates = Some(10);
        assert_eq!(field(check(&r, None)), "candidates");
        let mut r = request(Mode::Vector);
        r.min_score = Some(f64::NAN);
        assert_eq!(field(check(&r, None)), "minScore");
    }

    #[test]
    fn candidates_default_to_fifty_or_the_limit() {
        let mut r = request(Mode::Hybrid);
        assert_eq!(check(&r, None).map(|p| p.candidates).ok(), Some(50));
        r.limit = Some(80);
        assert_eq!(check(&r, None).map(|p| p.candidates).ok(), Some(80));
    }
}
