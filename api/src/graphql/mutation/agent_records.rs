use async_graphql::{Context, InputObject, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::{
    auth::Action,
    graphql::{
        context::ContextExt,
        guards::Allow,
        types::{ExecutionLog, ExecutionStatus, LlmCall, LlmCallStatus, RetrievalMethod, RetrievedDocument},
    },
    service::agent_records::{self, ExecutionInput, LlmCallInput, RetrievalInput},
};

#[derive(InputObject)]
pub struct RetrievalRecordInput {
    /// A document of the session's workspace.
    pub document_id: Uuid,
    pub method: RetrievalMethod,
    pub score: f64,
    /// 1 is the best match.
    pub rank: i32,
    pub query_text: Option<String>,
}

#[derive(InputObject)]
pub struct RecordRetrievalsInput {
    pub session_id: Uuid,
    /// The step the documents were retrieved for.
    pub step_id: Option<Uuid>,
    pub retrievals: Vec<RetrievalRecordInput>,
}

#[derive(InputObject)]
pub struct LogExecutionInput {
    pub session_id: Uuid,
    pub step_id: Option<Uuid>,
    pub agent_name: String,
    pub action: String,
    pub status: ExecutionStatus,
    pub input: Option<Json<serde_json::Value>>,
    pub output: Option<Json<serde_json::Value>>,
    pub error: Option<String>,
    /// Now when omitted.
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct LogLlmCallInput {
    pub session_id: Uuid,
    /// Taken from the fragment when omitted.
    pub step_id: Option<Uuid>,
    /// The fragment the call wrote.
    pub fragment_id: Option<Uuid>,
    pub provider: String,
    pub model: String,
    pub prompt_tokens: i32,
    pub completion_tokens: i32,
    /// US dollars (up to 6 decimals).
    pub cost_usd: Decimal,
    pub latency_ms: Option<i32>,
    pub status: LlmCallStatus,
    pub error: Option<String>,
}

#[derive(SimpleObject)]
pub struct RecordRetrievalsPayload {
    pub retrievals: Vec<RetrievedDocument>,
}

#[derive(SimpleObject)]
pub struct LogExecutionPayload {
    pub execution: ExecutionLog,
}

#[derive(SimpleObject)]
pub struct LogLlmCallPayload {
    pub llm_call: LlmCall,
}

#[derive(Default)]
pub struct AgentRecordMutation;

#[Object]
impl AgentRecordMutation {
    /// Records the documents an agent retrieved for a session's step.
    #[graphql(guard = "Allow(Action::WriteAgentRecords)")]
    async fn record_retrievals(
        &self,
        ctx: &Context<'_>,
        input: RecordRetrievalsInput,
    ) -> async_graphql::Result<RecordRetrievalsPayload> {
        let (tx, caller) = ctx.scope().tenant().await?;
        let rows = input
            .retrievals
            .into_iter()
            .map(|r| RetrievalInput {
                document_id: r.document_id,
                method: r.method.into(),
                score: r.score,
                rank: r.rank,
                query_text: r.query_text,
            })
            .collect();
        let inserted = agent_records::record_retrievals(&*tx, &caller, input.session_id, input.step_id, rows).await?;
        ctx.scope()
            .note_resources("retrieved_document", inserted.iter().map(|r| r.id));
        Ok(RecordRetrievalsPayload {
            retrievals: inserted.into_iter().map(Into::into).collect(),
        })
    }

    /// Logs one agent action.
    #[graphql(guard = "Allow(Action::WriteAgentRecords)")]
    async fn log_execution(
        &self,
        ctx: &Context<'_>,
        input: LogExecutionInput,
    ) -> async_graphql::Result<LogExecutionPayload> {
        let (tx, caller) = ctx.scope().tenant().await?;
        let log = agent_records::log_execution(
            &*tx,
            &caller,
            ExecutionInput {
                session_id: input.session_id,
                step_id: input.step_id,
                agent_name: input.agent_name,
                action: input.action,
                status: input.status.into(),
                input: input.input.map(|j| j.0),
                output: input.output.map(|j| j.0),
                error: input.error,
                started_at: input.started_at,
                finished_at: input.finished_at,
            },
        )
        .await?;
        ctx.scope().note_resources("execution_log", [log.id]);
        Ok(LogExecutionPayload { execution: log.into() })
    }

    /// Logs one LLM call and counts its tokens and cost; `QUOTA_EXCEEDED`
    /// when the tenant's daily LLM token limit would be passed.
    #[graphql(guard = "Allow(Action::WriteAgentRecords)")]
    async fn log_llm_call(
        &self,
        ctx: &Context<'_>,
        input: LogLlmCallInput,
    ) -> async_graphql::Result<LogLlmCallPayload> {
        let (tx, caller) = ctx.scope().tenant().await?;
        let call = agent_records::log_llm_call(
            &*tx,
            &caller,
            LlmCallInput {
                session_id: input.session_id,
                step_id: input.step_id,
                fragment_id: input.fragment_id,
                provider: input.provider,
                model: input.model,
                prompt_tokens: input.prompt_tokens,
                completion_tokens: input.completion_tokens,
                cost_usd: input.cost_usd,
                latency_ms: input.latency_ms,
                status: input.status.into(),
                error: input.error,
            },
        )
        .await?;
        ctx.scope().note_resources("llm_call", [call.id]);
        Ok(LogLlmCallPayload { llm_call: call.into() })
    }
}
