use async_graphql::{Context, Json, Object};
use chrono::{DateTime, FixedOffset};
use entity::{execution_logs, llm_call_logs, retrieved_documents};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::{ExecutionStatus, Fragment, LlmCallStatus, OutlineStep, RetrievalMethod, Session};
use crate::graphql::{
    context::ContextExt,
    loaders::{FragmentById, RetrievalsOfStep, SessionById, StepById},
};

/// A document an agent retrieved for a session (and step).
#[derive(Clone)]
pub struct RetrievedDocument(pub retrieved_documents::Model);

impl From<retrieved_documents::Model> for RetrievedDocument {
    fn from(m: retrieved_documents::Model) -> Self {
        Self(m)
    }
}

#[Object]
impl RetrievedDocument {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn session_id(&self) -> Uuid {
        self.0.session_id
    }
    async fn step_id(&self) -> Option<Uuid> {
        self.0.step_id
    }
    /// The document (null once it was deleted).
    async fn document_id(&self) -> Option<Uuid> {
        self.0.document_id
    }
    async fn query_text(&self) -> Option<&str> {
        self.0.query_text.as_deref()
    }
    async fn method(&self) -> RetrievalMethod {
        self.0.method.into()
    }
    async fn score(&self) -> f64 {
        self.0.score
    }
    /// 1 is the best match.
    async fn rank(&self) -> i32 {
        self.0.rank
    }
    async fn created_at(&self) -> DateTime<FixedOffset> {
        self.0.created_at
    }
}

/// One logged agent action.
#[derive(Clone)]
pub struct ExecutionLog(pub execution_logs::Model);

impl From<execution_logs::Model> for ExecutionLog {
    fn from(m: execution_logs::Model) -> Self {
        Self(m)
    }
}

#[Object]
impl ExecutionLog {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn session_id(&self) -> Option<Uuid> {
        self.0.session_id
    }
    async fn step_id(&self) -> Option<Uuid> {
        self.0.step_id
    }
    async fn agent_name(&self) -> &str {
        &self.0.agent_name
    }
    async fn action(&self) -> &str {
        &self.0.action
    }
    async fn status(&self) -> ExecutionStatus {
        self.0.status.into()
    }
    async fn input(&self) -> Option<Json<serde_json::Value>> {
        self.0.input.clone().map(Json)
    }
    async fn output(&self) -> Option<Json<serde_json::Value>> {
        self.0.output.clone().map(Json)
    }
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    /// From `startedAt` to `finishedAt`.
    async fn duration_ms(&self) -> Option<i64> {
        self.0.duration_ms
    }
    async fn started_at(&self) -> DateTime<FixedOffset> {
        self.0.started_at
    }
    async fn finished_at(&self) -> Option<DateTime<FixedOffset>> {
        self.0.finished_at
    }
    async fn created_at(&self) -> DateTime<FixedOffset> {
        self.0.created_at
    }
}

/// One LLM call an agent made, linked to its session, step, fragment and
/// (through the step) the retrievals that fed it.
#[derive(Clone)]
pub struct LlmCall(pub llm_call_logs::Model);

impl From<llm_call_logs::Model> for LlmCall {
    fn from(m: llm_call_logs::Model) -> Self {
        Self(m)
    }
}

#[Object]
impl LlmCall {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn session_id(&self) -> Option<Uuid> {
        self.0.session_id
    }
    async fn step_id(&self) -> Option<Uuid> {
        self.0.step_id
    }
    async fn fragment_id(&self) -> Option<Uuid> {
        self.0.fragment_id
    }
    async fn provider(&self) -> &str {
        &self.0.provider
    }
    async fn model(&self) -> &str {
        &self.0.model
    }
    async fn prompt_tokens(&self) -> i32 {
        self.0.prompt_tokens
    }
    async fn completion_tokens(&self) -> i32 {
        self.0.completion_tokens
    }
    async fn total_tokens(&self) -> i32 {
        self.0.total_tokens
    }
    /// US dollars.
    async fn cost_usd(&self) -> Decimal {
        self.0.cost_usd
    }
    async fn latency_ms(&self) -> Option<i32> {
        self.0.latency_ms
    }
    async fn status(&self) -> LlmCallStatus {
        self.0.status.into()
    }
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    async fn created_at(&self) -> DateTime<FixedOffset> {
        self.0.created_at
    }

    async fn session(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Session>> {
        let Some(id) = self.0.session_id else { return Ok(None) };
        Ok(ctx.loaders().one(SessionById(id)).await?.map(Session::from))
    }

    async fn step(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<OutlineStep>> {
        let Some(id) = self.0.step_id else { return Ok(None) };
        Ok(ctx.loaders().one(StepById(id)).await?.map(OutlineStep::from))
    }

    async fn fragment(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Fragment>> {
        let Some(id) = self.0.fragment_id else { return Ok(None) };
        Ok(ctx.loaders().one(FragmentById(id)).await?.map(Fragment::from))
    }

    /// The retrievals recorded for the call's step (what fed the call).
    async fn retrievals(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<RetrievedDocument>> {
        let Some(id) = self.0.step_id else {
            return Ok(Vec::new());
        };
        let list = ctx.loaders().one(RetrievalsOfStep(id)).await?.unwrap_or_default();
        Ok(list.iter().cloned().map(RetrievedDocument::from).collect())
    }
}
