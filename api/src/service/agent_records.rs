//! What agents record about their work: the documents they retrieved, the
//! actions they ran, the LLM calls they made (counted against the tenant's
//! daily LLM token limit in the same transaction).
//!
//! A cancelled session refuses new retrievals (they feed further writing),
//! but still accepts execution and LLM call logs: they record work that
//! already happened (and money already spent), so they are never refused for
//! the session's state.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use entity::{
    code_documents,
    enums::{ExecutionStatus, LlmCallStatus, QuotaMetric, RetrievalMethod},
    execution_logs, llm_call_logs, retrieved_documents,
};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    Statement, TransactionSession, TransactionTrait,
};
use uuid::Uuid;

use super::{
    fragments, outline,
    page::{self, ChildTable, Page, PageResult},
    sessions::{self, SessionLock},
    usage,
};
use crate::domain::validate;
use crate::{
    auth::TenantCaller,
    db::{TenantOwned, batch},
    error::{AppError, AppResult},
};

pub const MAX_RETRIEVALS: usize = 200;
pub const MAX_JSON_BYTES: usize = 256 * 1024;
pub const MAX_ERROR: usize = 10_000;

pub const RETRIEVALS_BY_SESSION: ChildTable = ChildTable {
    table: "retrieved_documents",
    parent: "session_id",
};
pub const EXECUTIONS_BY_SESSION: ChildTable = ChildTable {
    table: "execution_logs",
    parent: "session_id",
};
pub const LLM_CALLS_BY_SESSION: ChildTable = ChildTable {
    table: "llm_call_logs",
    parent: "session_id",
};

pub struct RetrievalInput {
    pub document_id: Uuid,
    pub method: RetrievalMethod,
    pub score: f64,
    pub rank: i32,
    pub query_text: Option<String>,
}

pub struct ExecutionInput {
    pub session_id: Uuid,
    pub step_id: Option<Uuid>,
    pub agent_name: String,
    pub action: String,
    pub status: ExecutionStatus,
    pub input: Option<serde_json::Value>,
    pub output: Option<serde_json::Value>,
    pub error: Option<String>,
    /// Now when absent.
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

pub struct LlmCallInput {
    pub session_id: Uuid,
    /// Taken from the fragment when absent.
    pub step_id: Option<Uuid>,
    pub fragment_id: Option<Uuid>,
    pub provider: String,
    pub model: String,
    pub prompt_tokens: i32,
    pub completion_tokens: i32,
    pub cost_usd: Decimal,
    pub latency_ms: Option<i32>,
    pub status: LlmCallStatus,
    pub error: Option<String>,
}

/// LLM usage of a session.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    pub call_count: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub cost_usd: Decimal,
    pub total_latency_ms: i64,
}

fn json(field: &str, value: Option<serde_json::Value>) -> AppResult<Option<serde_json::Value>> {
    if let Some(v) = &value
        && v.to_string().len() > MAX_JSON_BYTES
    {
        return Err(AppError::bad_input(
            field,
            format!("`{field}` must be at most {MAX_JSON_BYTES} bytes of JSON"),
        ));
    }
    Ok(value)
}

/// Records the documents an agent retrieved for a session (and step).
/// Every document must be in the session's workspace.
pub async fn record_retrievals(
    db: &impl TransactionTrait,
    caller: &TenantCaller,
    session_id: Uuid,
    step_id: Option<Uuid>,
    input: Vec<RetrievalInput>,
) -> AppResult<Vec<retrieved_documents::Model>> {
    if input.is_empty() {
        return Err(AppError::bad_input("retrievals", "`retrievals` must not be empty"));
    }
    if input.len() > MAX_RETRIEVALS {
        return Err(AppError::bad_input(
            "retrievals",
            format!("at most {MAX_RETRIEVALS} retrievals at once"),
        ));
    }
    let now = Utc::now().fixed_offset();
    let mut rows = Vec::with_capacity(input.len());
    for (i, r) in input.iter().enumerate() {
        if !r.score.is_finite() {
            return Err(AppError::bad_input(
                format!("retrievals[{i}].score"),
                "`score` must be a finite number",
            ));
        }
        if r.rank < 1 {
            return Err(AppError::bad_input(
                format!("retrievals[{i}].rank"),
                "`rank` starts at 1",
            ));
        }
        let query_text = validate::optional_text(&format!("retrievals[{i}].queryText"), r.query_text.clone(), 10_000)?;
        rows.push(serde_json::json!({
            "id": Uuid::now_v7(), "tenant_id": caller.tenant_id, "session_id": session_id, "step_id": step_id,
            "document_id": r.document_id, "query_text": query_text, "method": r.method.as_str(),
            "score": r.score, "rank": r.rank, "created_at": now,
        }));
    }
    let tx = db.begin().await?;
    let session = sessions::lock_for_write(&tx, caller, session_id, SessionLock::Share).await?;
    if let Some(step) = step_id {
        outline::get_in_session(&tx, caller, session.id, step, "stepId").await?;
    }
    let wanted: HashSet<Uuid> = input.iter().map(|r| r.document_id).collect();
    let found: HashSet<Uuid> = code_documents::Entity::find_in(caller.tenant_id)
        .select_only()
        .column(code_documents::Column::Id)
        .filter(code_documents::Column::WorkspaceId.eq(session.workspace_id))
        .filter(code_documents::Column::Id.eq_any(wanted.iter().copied()))
        .into_tuple::<Uuid>()
        .all(&tx)
        .await?
        .into_iter()
        .collect();
    if found.len() != wanted.len() {
        return Err(AppError::not_found("document"));
    }
    const INSERTED: &str =
        "id, tenant_id, session_id, step_id, document_id, query_text, method, score, rank, created_at";
    let inserted = retrieved_documents::Entity::find()
        .from_raw_sql(batch::insert_rows(
            "screenplay.retrieved_documents",
            INSERTED,
            rows,
            "RETURNING *",
        ))
        .all(&tx)
        .await?;
    tx.commit().await?;
    Ok(inserted)
}

/// Logs one agent action.
pub async fn log_execution(
    db: &impl TransactionTrait,
    caller: &TenantCaller,
    input: ExecutionInput,
) -> AppResult<execution_logs::Model> {
    let agent_name = validate::name("agentName", &input.agent_name, 100)?;
    let action = validate::name("action", &input.action, 200)?;
    let error = validate::optional_text("error", input.error, MAX_ERROR)?;
    let in_json = json("input", input.input)?;
    let out_json = json("output", input.output)?;
    let started_at = input.started_at.unwrap_or_else(Utc::now);
    if let Some(finished) = input.finished_at
        && finished < started_at
    {
        return Err(AppError::bad_input(
            "finishedAt",
            "`finishedAt` must not be before `startedAt`",
        ));
    }
    let tx = db.begin().await?;
    let session = sessions::get(&tx, caller, input.session_id).await?;
    if let Some(step) = input.step_id {
        outline::get_in_session(&tx, caller, session.id, step, "stepId").await?;
    }
    let log = execution_logs::ActiveModel {
        id: Set(Uuid::now_v7()),
        created_at: Set(Utc::now().fixed_offset()),
        tenant_id: Set(caller.tenant_id.into()),
        session_id: Set(Some(session.id)),
        step_id: Set(input.step_id),
        agent_name: Set(agent_name),
        action: Set(action),
        status: Set(input.status),
        input: Set(in_json),
        output: Set(out_json),
        error: Set(error),
        duration_ms: sea_orm::ActiveValue::NotSet,
        started_at: Set(started_at.fixed_offset()),
        finished_at: Set(input.finished_at.map(|t| t.fixed_offset())),
    }
    .insert(&tx)
    .await?;
    tx.commit().await?;
    Ok(log)
}

/// Logs one LLM call, linked to its session, step and fragment; counts its
/// tokens and cost. Refused with `QUOTA_EXCEEDED` (and nothing written)
/// when the tenant's daily LLM token limit would be passed.
pub async fn log_llm_call(
    db: &impl TransactionTrait,
    caller: &TenantCaller,
    input: LlmCallInput,
) -> AppResult<llm_call_logs::Model> {
    let provider = validate::name("provider", &input.provider, 100)?;
    let model_name = validate::name("model", &input.model, 200)?;
    let error = validate::optional_text("error", input.error, MAX_ERROR)?;
    if input.prompt_tokens < 0 {
        return Err(AppError::bad_input(
            "promptTokens",
            "`promptTokens` must not be negative",
        ));
    }
    if input.completion_tokens < 0 {
        return Err(AppError::bad_input(
            "completionTokens",
            "`completionTokens` must not be negative",
        ));
    }
    let total_tokens = i64::from(input.prompt_tokens) + i64::from(input.completion_tokens);
    if total_tokens > i64::from(i32::MAX) {
        return Err(AppError::bad_input("completionTokens", "too many tokens for one call"));
    }
    if input.cost_usd.is_sign_negative() || input.cost_usd > Decimal::from(100_000_000) {
        return Err(AppError::bad_input(
            "costUsd",
            "`costUsd` must be between 0 and 100000000",
        ));
    }
    let cost = input.cost_usd.round_dp(6);
    if input.latency_ms.is_some_and(|l| l < 0) {
        return Err(AppError::bad_input("latencyMs", "`latencyMs` must not be negative"));
    }
    let tx = db.begin().await?;
    let session = sessions::get(&tx, caller, input.session_id).await?;
    let mut step_id = input.step_id;
    if let Some(step) = step_id {
        outline::get_in_session(&tx, caller, session.id, step, "stepId").await?;
    }
    if let Some(fragment_id) = input.fragment_id {
        let fragment = fragments::get(&tx, caller, fragment_id).await?;
        if fragment.session_id != session.id {
            return Err(AppError::bad_input(
                "fragmentId",
                "`fragmentId` is a fragment of another session",
            ));
        }
        match step_id {
            Some(step) if step != fragment.step_id => {
                return Err(AppError::bad_input(
                    "fragmentId",
                    "`fragmentId` is a fragment of another step",
                ));
            }
            Some(_) => {}
            None => step_id = Some(fragment.step_id),
        }
    }
    usage::ensure_within(&tx, caller.tenant_id, QuotaMetric::LlmTokens, total_tokens).await?;
    let call = llm_call_logs::ActiveModel {
        id: Set(Uuid::now_v7()),
        created_at: Set(Utc::now().fixed_offset()),
        tenant_id: Set(caller.tenant_id.into()),
        session_id: Set(Some(session.id)),
        step_id: Set(step_id),
        fragment_id: Set(input.fragment_id),
        provider: Set(provider),
        model: Set(model_name),
        prompt_tokens: Set(input.prompt_tokens),
        completion_tokens: Set(input.completion_tokens),
        total_tokens: sea_orm::ActiveValue::NotSet,
        cost_usd: Set(cost),
        latency_ms: Set(input.latency_ms),
        status: Set(input.status),
        error: Set(error),
    }
    .insert(&tx)
    .await?;
    usage::add(
        &tx,
        caller.tenant_id,
        QuotaMetric::LlmTokens,
        Decimal::from(total_tokens),
    )
    .await?;
    usage::add(&tx, caller.tenant_id, QuotaMetric::LlmCost, cost).await?;
    tx.commit().await?;
    Ok(call)
}

/// Retrievals of the given steps (what fed an LLM call), best rank first.
pub async fn retrievals_for_steps(
    db: &impl ConnectionTrait,
    caller: &TenantCaller,
    step_ids: &[Uuid],
) -> AppResult<Vec<retrieved_documents::Model>> {
    Ok(retrieved_documents::Entity::find_in(caller.tenant_id)
        .filter(retrieved_documents::Column::StepId.eq_any(step_ids.iter().copied()))
        .order_by_asc(retrieved_documents::Column::StepId)
        .order_by_asc(retrieved_documents::Column::CreatedAt)
        .order_by_asc(retrieved_documents::Column::Rank)
        .all(db)
        .await?)
}

pub async fn retrievals_page_per_session(
    db: &impl ConnectionTrait,
    caller: &TenantCaller,
    session_ids: &[Uuid],
    page: &Page,
) -> AppResult<HashMap<Uuid, PageResult<retrieved_documents::Model>>> {
    page::fetch_per_parent(
        db,
        RETRIEVALS_BY_SESSION,
        caller.tenant_id,
        session_ids,
        page,
        |r: &retrieved_documents::Model| Some(r.session_id),
    )
    .await
}

pub async fn executions_page_per_session(
    db: &impl ConnectionTrait,
    caller: &TenantCaller,
    session_ids: &[Uuid],
    page: &Page,
) -> AppResult<HashMap<Uuid, PageResult<execution_logs::Model>>> {
    page::fetch_per_parent(
        db,
        EXECUTIONS_BY_SESSION,
        caller.tenant_id,
        session_ids,
        page,
        |r: &execution_logs::Model| r.session_id,
    )
    .await
}

pub async fn llm_calls_page_per_session(
    db: &impl ConnectionTrait,
    caller: &TenantCaller,
    session_ids: &[Uuid],
    page: &Page,
) -> AppResult<HashMap<Uuid, PageResult<llm_call_logs::Model>>> {
    page::fetch_per_parent(
        db,
        LLM_CALLS_BY_SESSION,
        caller.tenant_id,
        session_ids,
        page,
        |r: &llm_call_logs::Model| r.session_id,
    )
    .await
}

/// LLM usage totals of the given sessions, in one statement.
pub async fn usage_for_sessions(
    db: &impl ConnectionTrait,
    caller: &TenantCaller,
    session_ids: &[Uuid],
) -> AppResult<HashMap<Uuid, Usage>> {
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT session_id, count(*) AS calls, coalesce(sum(prompt_tokens), 0)::bigint AS prompt, \
                    coalesce(sum(completion_tokens), 0)::bigint AS completion, \
                    coalesce(sum(total_tokens), 0)::bigint AS total, coalesce(sum(cost_usd), 0) AS cost, \
                    coalesce(sum(latency_ms), 0)::bigint AS latency \
             FROM screenplay.llm_call_logs WHERE tenant_id = $1 AND session_id = ANY($2) GROUP BY session_id",
            [caller.tenant_id.into(), session_ids.to_vec().into()],
        ))
        .await?;
    let mut out: HashMap<Uuid, Usage> = session_ids.iter().map(|id| (*id, Usage::default())).collect();
    for row in rows {
        let id: Uuid = row.try_get("", "session_id")?;
        out.insert(
            id,
            Usage {
                call_count: row.try_get("", "calls")?,
                prompt_tokens: row.try_get("", "prompt")?,
                completion_tokens: row.try_get("", "completion")?,
                total_tokens: row.try_get("", "total")?,
                cost_usd: row.try_get("", "cost")?,
                total_latency_ms: row.try_get("", "latency")?,
            },
        );
    }
    Ok(out)
}
