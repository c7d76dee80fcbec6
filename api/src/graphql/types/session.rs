use std::sync::Arc;

use async_graphql::{ComplexObject, Context, Json, Object, SimpleObject};
use chrono::{DateTime, FixedOffset};
use entity::screenplay_sessions;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::{
    ExecutionLog, Fragment, LlmCall, OutlineStep, RetrievedDocument, ScreenplayFormat, SessionStatus, Workspace, cursor,
};
use crate::{
    graphql::{
        connection::{self, Page, TotalCount},
        context::ContextExt,
        loaders::{
            ChildCount, ExecutionPage, FragmentPage, FragmentsOfSession, LlmCallPage, RetrievalPage, StepsOfSession,
            UsageOfSession, WorkspaceById,
        },
    },
    service::{agent_records, export, fragments, page},
};

/// A screenplay being generated: its outline, fragments and agent records.
#[derive(Clone)]
pub struct Session(pub screenplay_sessions::Model);

impl From<screenplay_sessions::Model> for Session {
    fn from(m: screenplay_sessions::Model) -> Self {
        Self(m)
    }
}

fn page_args(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> async_graphql::Result<page::Page> {
    Ok(page::Page::new(
        first,
        after,
        last,
        before,
        ctx.app().config.limits.max_page_size,
    )?)
}

/// A total counted through the operation's loader (one statement for all parents).
fn child_total(ctx: &Context<'_>, parent: Uuid, table: page::ChildTable) -> TotalCount {
    let loaders = ctx.loaders();
    TotalCount::new(move || {
        let loaders = loaders.clone();
        Box::pin(async move {
            Ok(loaders
                .one(ChildCount(parent, table))
                .await
                .map_err(|e| e.to_app())?
                .unwrap_or(0))
        })
    })
}

/// A child list of the session as a connection, from the page its loader
/// fetched (with every other session's, in one statement).
fn child_page<M: Clone, T: async_graphql::OutputType>(
    ctx: &Context<'_>,
    session: Uuid,
    table: page::ChildTable,
    result: Option<Arc<page::PageResult<M>>>,
    cursor_of: impl Fn(&M) -> page::Cursor,
    node: impl Fn(M) -> T,
) -> Page<T> {
    connection::page(
        Arc::unwrap_or_clone(result.unwrap_or_default()),
        cursor_of,
        node,
        child_total(ctx, session, table),
    )
}

#[Object]
impl Session {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn workspace_id(&self) -> Uuid {
        self.0.workspace_id
    }
    /// The workspace the session belongs to.
    async fn workspace(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Workspace>> {
        Ok(ctx
            .loaders()
            .one(WorkspaceById(self.0.workspace_id))
            .await?
            .map(Into::into))
    }
    /// The user who created it (null once that user is deleted).
    async fn created_by(&self) -> Option<Uuid> {
        self.0.created_by
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn logline(&self) -> Option<&str> {
        self.0.logline.as_deref()
    }
    async fn genre(&self) -> Option<&str> {
        self.0.genre.as_deref()
    }
    /// BCP 47 language tag.
    async fn language(&self) -> &str {
        &self.0.language
    }
    /// Derived from the steps (see the README, "Session status").
    async fn status(&self) -> SessionStatus {
        self.0.status.into()
    }
    async fn config(&self) -> Json<serde_json::Value> {
        Json(self.0.config.clone())
    }
    /// Why the session failed (the failed step and its error).
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    /// Optimistic lock of the session's own fields: pass it to `updateSession`.
    async fn version(&self) -> i32 {
        self.0.version
    }
    async fn created_at(&self) -> DateTime<FixedOffset> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<FixedOffset> {
        self.0.updated_at
    }

    /// The step tree in order (top-level steps; each has its `children`).
    async fn outline(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<OutlineStep>> {
        let steps = ctx.loaders().one(StepsOfSession(self.0.id)).await?.unwrap_or_default();
        Ok(OutlineStep::tree(&steps))
    }

    /// Fragments of the session, newest first (for the screenplay in outline
    /// order, use `outline { fragments }` or `screenplay`).
    async fn fragments(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Page<Fragment>> {
        let page = page_args(ctx, first, after, last, before)?;
        let result = ctx.loaders().one(FragmentPage(self.0.id, page)).await?;
        Ok(child_page(
            ctx,
            self.0.id,
            fragments::BY_SESSION,
            result,
            |f| cursor(&f.created_at, f.id),
            Fragment::from,
        ))
    }

    /// Documents agents retrieved for this session, newest first.
    async fn retrieved_documents(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Page<RetrievedDocument>> {
        let page = page_args(ctx, first, after, last, before)?;
        let result = ctx.loaders().one(RetrievalPage(self.0.id, page)).await?;
        Ok(child_page(
            ctx,
            self.0.id,
            agent_records::RETRIEVALS_BY_SESSION,
            result,
            |r| cursor(&r.created_at, r.id),
            RetrievedDocument::from,
        ))
    }

    /// Agent actions logged for this session, newest first.
    async fn executions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Page<ExecutionLog>> {
        let page = page_args(ctx, first, after, last, before)?;
        let result = ctx.loaders().one(ExecutionPage(self.0.id, page)).await?;
        Ok(child_page(
            ctx,
            self.0.id,
            agent_records::EXECUTIONS_BY_SESSION,
            result,
            |r| cursor(&r.created_at, r.id),
            ExecutionLog::from,
        ))
    }

    /// LLM calls made for this session, newest first.
    async fn llm_calls(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Page<LlmCall>> {
        let page = page_args(ctx, first, after, last, before)?;
        let result = ctx.loaders().one(LlmCallPage(self.0.id, page)).await?;
        Ok(child_page(
            ctx,
            self.0.id,
            agent_records::LLM_CALLS_BY_SESSION,
            result,
            |r| cursor(&r.created_at, r.id),
            LlmCall::from,
        ))
    }

    /// LLM usage totals of the session.
    async fn usage(&self, ctx: &Context<'_>) -> async_graphql::Result<SessionUsage> {
        let usage = ctx.loaders().one(UsageOfSession(self.0.id)).await?.unwrap_or_default();
        Ok(usage.into())
    }

    /// The screenplay: the current version of every fragment in outline order.
    async fn screenplay(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "ScreenplayFormat::Fountain")] format: ScreenplayFormat,
    ) -> async_graphql::Result<String> {
        let loaders = ctx.loaders();
        let (steps, fragments) = futures::try_join!(
            loaders.one(StepsOfSession(self.0.id)),
            loaders.one(FragmentsOfSession(self.0.id))
        )?;
        Ok(export::render(
            &self.0,
            &steps.unwrap_or_default(),
            &fragments.unwrap_or_default(),
            format.into(),
        ))
    }
}

/// LLM usage of a session.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct SessionUsage {
    pub call_count: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    /// US dollars.
    pub cost_usd: Decimal,
    /// Sum of the calls' latencies.
    pub total_latency_ms: i64,
}

#[ComplexObject]
impl SessionUsage {
    /// Mean latency per call (null without calls).
    async fn average_latency_ms(&self) -> Option<f64> {
        (self.call_count > 0).then(|| self.total_latency_ms as f64 / self.call_count as f64)
    }
}

impl From<agent_records::Usage> for SessionUsage {
    fn from(u: agent_records::Usage) -> Self {
        Self {
            call_count: u.call_count,
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            total_tokens: u.total_tokens,
            cost_usd: u.cost_usd,
            total_latency_ms: u.total_latency_ms,
        }
    }
}
