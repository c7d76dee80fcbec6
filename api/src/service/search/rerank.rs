//! Reranking a search's fused candidates with the configured reranker,
//! counted like an LLM call: a row in `llm_call_logs` (provider `rerank`,
//! its tokens and latency, the session and step when the search names
//! them) and the tenant's `llm_tokens`, checked against its quota first.

use std::{collections::HashMap, time::Instant};

use entity::enums::QuotaMetric;
use rust_decimal::Decimal;
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement};
use uuid::Uuid;

use crate::{
    domain::TenantId,
    embedding::Reranker,
    error::{AppError, AppResult},
    search::Scored,
    service::{documents::DocumentRow, usage},
};

/// A fused hit: id, score, and each channel's own score and rank.
pub(super) type Fused = (Uuid, f64, Option<Scored>, Option<Scored>);

/// What a rerank is for: its query and the retrieval it may be part of.
pub(super) struct RerankCall<'a> {
    pub tenant_id: TenantId,
    pub query: &'a str,
    pub session: Option<(Uuid, Option<Uuid>)>,
}

/// The candidates in the reranker's order, each with its rerank score as
/// the hit's score; also returns those scores by id.
pub(super) async fn rerank(
    tx: &DatabaseTransaction,
    reranker: &Reranker,
    call: RerankCall<'_>,
    fused: Vec<Fused>,
    rows: &HashMap<Uuid, DocumentRow>,
) -> AppResult<(Vec<Fused>, HashMap<Uuid, f64>)> {
    let fused: Vec<Fused> = fused.into_iter().filter(|f| rows.contains_key(&f.0)).collect();
    let texts: Vec<String> = fused
        .iter()
        .map(|f| rows.get(&f.0).map(|r| r.content.clone()).unwrap_or_default())
        .collect();
    let estimate: u64 = texts.iter().map(|t| crate::text::estimate_tokens(t)).sum::<u64>()
        + crate::text::estimate_tokens(call.query) * texts.len() as u64;
    usage::ensure_within_unlocked(tx, call.tenant_id, QuotaMetric::LlmTokens, estimate as i64).await?;
    let started = Instant::now();
    let reranked = reranker
        .rerank(call.query, &texts)
        .await
        .map_err(|e| AppError::internal(anyhow::Error::new(e).context("reranking search hits")))?;
    let latency_ms = started.elapsed().as_millis().min(i32::MAX as u128) as i32;
    log_call(tx, &call, reranker.model(), reranked.tokens, latency_ms).await?;
    usage::add(
        tx,
        call.tenant_id,
        QuotaMetric::LlmTokens,
        Decimal::from(reranked.tokens),
    )
    .await?;
    let scores: HashMap<Uuid, f64> = reranked.order.iter().map(|&(i, s)| (fused[i].0, s)).collect();
    let ordered = reranked
        .order
        .into_iter()
        .map(|(i, score)| (fused[i].0, score, fused[i].2, fused[i].3))
        .collect();
    Ok((ordered, scores))
}

/// The call's row in `llm_call_logs`.
async fn log_call(
    tx: &DatabaseTransaction,
    call: &RerankCall<'_>,
    model: &str,
    tokens: u64,
    latency_ms: i32,
) -> AppResult<()> {
    let (session, step) = call.session.map_or((None, None), |(s, st)| (Some(s), st));
    tx.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO screenplay.llm_call_logs (id, tenant_id, session_id, step_id, provider, model, prompt_tokens, \
           latency_ms, status) VALUES ($1, $2, $3, $4, 'rerank', $5, $6, $7, 'succeeded')",
        [
            Uuid::now_v7().into(),
            call.tenant_id.into(),
            session.into(),
            step.into(),
            model.into(),
            (tokens.min(i32::MAX as u64) as i32).into(),
            latency_ms.into(),
        ],
    ))
    .await?;
    Ok(())
}
