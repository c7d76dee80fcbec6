//! The session graph: a session, its outline steps, fragments and agent
//! records. These types refer to each other both ways (a step lists its
//! fragments, a fragment names its step), so they live in one file rather
//! than in files that import each other in a circle.

use std::{collections::HashMap, sync::Arc};

use async_graphql::{ComplexObject, Context, Json, Object, SimpleObject, Value};
use chrono::{DateTime, FixedOffset};
use entity::{
    execution_logs, fragment_versions, llm_call_logs, outline_steps, retrieved_documents, screenplay_fragments,
    screenplay_sessions,
};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::{
    enums::{
        ExecutionStatus, FragmentKind, FragmentOrigin, LlmCallStatus, RetrievalMethod, ScreenplayFormat, SessionStatus,
        StepStatus,
    },
    workspace::Workspace,
};
use crate::{
    graphql::{
        connection::{self, Page, TotalCount, cursor},
        context::ContextExt,
        loaders::{
            ChildCount, ExecutionPage, FragmentById, FragmentPage, FragmentsOfSession, FragmentsOfStep, LlmCallPage,
            RetrievalPage, RetrievalsOfStep, SessionById, StepById, StepsOfSession, UsageOfSession, VersionsOfFragment,
            WorkspaceById,
        },
        ready::{Ready, ReadyFields, optional, optional_text, scalar, text},
    },
    service::{agent_records, export, fragments, page},
};

// ---- Sessions ----

/// A screenplay being generated: its outline, fragments and agent records.
#[derive(Clone)]
pub struct Session(pub screenplay_sessions::Model, Option<Arc<Vec<outline_steps::Model>>>);

impl From<screenplay_sessions::Model> for Session {
    fn from(m: screenplay_sessions::Model) -> Self {
        Self(m, None)
    }
}

impl Session {
    /// A session read with every step of its outline (`outline` then needs no load).
    pub fn with_outline(m: screenplay_sessions::Model, steps: Vec<outline_steps::Model>) -> Self {
        Self(m, Some(Arc::new(steps)))
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
    /// Derived from the steps (see docs/api.md, "Session status").
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
    #[graphql(complexity = "crate::graphql::cost::list(child_complexity)")]
    async fn outline(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Ready<OutlineStep>>> {
        let steps = match &self.1 {
            Some(steps) => steps.clone(),
            None => ctx.loaders().one(StepsOfSession(self.0.id)).await?.unwrap_or_default(),
        };
        Ok(Ready::all(OutlineStep::tree(&steps)))
    }

    /// Fragments of the session, newest first (for the screenplay in outline
    /// order, use `outline { fragments }` or `screenplay`).
    #[graphql(complexity = "crate::graphql::cost::page(first, last, child_complexity)")]
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
    #[graphql(complexity = "crate::graphql::cost::page(first, last, child_complexity)")]
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
    #[graphql(complexity = "crate::graphql::cost::page(first, last, child_complexity)")]
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
    #[graphql(complexity = "crate::graphql::cost::page(first, last, child_complexity)")]
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

// ---- Outline steps ----

/// One step of a session's outline (an act, a sequence, a scene).
#[derive(Clone)]
pub struct OutlineStep {
    pub model: outline_steps::Model,
    /// Known when the step came from a whole outline; loaded otherwise.
    children: Option<Vec<OutlineStep>>,
}

impl From<outline_steps::Model> for OutlineStep {
    fn from(model: outline_steps::Model) -> Self {
        Self { model, children: None }
    }
}

impl OutlineStep {
    /// The tree of a session's steps: top-level steps with their children.
    pub fn tree(all: &[outline_steps::Model]) -> Vec<OutlineStep> {
        Self::subtree(all, None)
    }

    fn subtree(all: &[outline_steps::Model], root: Option<Uuid>) -> Vec<OutlineStep> {
        let mut children: HashMap<Option<Uuid>, Vec<&outline_steps::Model>> = HashMap::new();
        for step in all {
            children.entry(step.parent_step_id).or_default().push(step);
        }
        for list in children.values_mut() {
            list.sort_by_key(|s| (s.position, s.id));
        }
        fn build(
            parent: Option<Uuid>,
            children: &HashMap<Option<Uuid>, Vec<&outline_steps::Model>>,
        ) -> Vec<OutlineStep> {
            children
                .get(&parent)
                .into_iter()
                .flatten()
                .map(|s| OutlineStep {
                    model: (*s).clone(),
                    children: Some(build(Some(s.id), children)),
                })
                .collect()
        }
        build(root, &children)
    }
}

#[Object(serial)]
impl OutlineStep {
    async fn id(&self) -> Uuid {
        self.model.id
    }
    async fn session_id(&self) -> Uuid {
        self.model.session_id
    }
    async fn parent_step_id(&self) -> Option<Uuid> {
        self.model.parent_step_id
    }
    /// 0-based order among its siblings (dense).
    async fn position(&self) -> i32 {
        self.model.position
    }
    async fn title(&self) -> &str {
        &self.model.title
    }
    async fn description(&self) -> Option<&str> {
        self.model.description.as_deref()
    }
    async fn status(&self) -> StepStatus {
        self.model.status.into()
    }
    async fn agent_name(&self) -> Option<&str> {
        self.model.agent_name.as_deref()
    }
    /// Why the step failed.
    async fn error(&self) -> Option<&str> {
        self.model.error.as_deref()
    }
    async fn started_at(&self) -> Option<DateTime<FixedOffset>> {
        self.model.started_at
    }
    async fn finished_at(&self) -> Option<DateTime<FixedOffset>> {
        self.model.finished_at
    }
    async fn created_at(&self) -> DateTime<FixedOffset> {
        self.model.created_at
    }
    async fn updated_at(&self) -> DateTime<FixedOffset> {
        self.model.updated_at
    }

    /// Child steps in order.
    #[graphql(complexity = "crate::graphql::cost::list(child_complexity)")]
    async fn children(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Ready<OutlineStep>>> {
        if let Some(children) = &self.children {
            return Ok(Ready::all(children.iter().cloned()));
        }
        let all = ctx
            .loaders()
            .one(StepsOfSession(self.model.session_id))
            .await?
            .unwrap_or_default();
        Ok(Ready::all(Self::subtree(&all, Some(self.model.id))))
    }

    /// The step's fragments in order (current versions).
    #[graphql(complexity = "crate::graphql::cost::list(child_complexity)")]
    async fn fragments(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Ready<Fragment>>> {
        let list = ctx
            .loaders()
            .one(FragmentsOfStep(self.model.id))
            .await?
            .unwrap_or_default();
        Ok(Ready::all(Fragment::all(&list)))
    }

    /// Documents retrieved for this step.
    #[graphql(complexity = "crate::graphql::cost::list(child_complexity)")]
    async fn retrievals(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<RetrievedDocument>> {
        let list = ctx
            .loaders()
            .one(RetrievalsOfStep(self.model.id))
            .await?
            .unwrap_or_default();
        Ok(list.iter().cloned().map(RetrievedDocument::from).collect())
    }
}

impl ReadyFields for OutlineStep {
    fn ready(&self, name: &str) -> Option<Value> {
        let m = &self.model;
        Some(match name {
            "id" => scalar(&m.id),
            "sessionId" => scalar(&m.session_id),
            "parentStepId" => optional(m.parent_step_id.as_ref()),
            "position" => scalar(&m.position),
            "title" => text(&m.title),
            "description" => optional_text(m.description.as_deref()),
            "status" => StepStatus::from(m.status).into(),
            "agentName" => optional_text(m.agent_name.as_deref()),
            "error" => optional_text(m.error.as_deref()),
            "startedAt" => optional(m.started_at.as_ref()),
            "finishedAt" => optional(m.finished_at.as_ref()),
            "createdAt" => scalar(&m.created_at),
            "updatedAt" => scalar(&m.updated_at),
            _ => return None,
        })
    }
}

// ---- Fragments and their versions ----

/// One screenplay element under an outline step (its current version).
///
/// Points into the loaded list rather than holding a copy: a nested page
/// reads a thousand fragments, and copying each one's strings showed.
#[derive(Clone)]
pub struct Fragment {
    rows: Arc<Vec<screenplay_fragments::Model>>,
    at: usize,
}

impl Fragment {
    /// Every row of a loaded list, in order.
    fn all(rows: &Arc<Vec<screenplay_fragments::Model>>) -> Vec<Fragment> {
        (0..rows.len())
            .map(|at| Fragment {
                rows: Arc::clone(rows),
                at,
            })
            .collect()
    }

    fn model(&self) -> &screenplay_fragments::Model {
        &self.rows[self.at]
    }
}

impl From<screenplay_fragments::Model> for Fragment {
    fn from(m: screenplay_fragments::Model) -> Self {
        Self {
            rows: Arc::new(vec![m]),
            at: 0,
        }
    }
}

#[Object(serial)]
impl Fragment {
    async fn id(&self) -> Uuid {
        self.model().id
    }
    async fn session_id(&self) -> Uuid {
        self.model().session_id
    }
    async fn step_id(&self) -> Uuid {
        self.model().step_id
    }
    /// 0-based order within the step (dense).
    async fn position(&self) -> i32 {
        self.model().position
    }
    async fn kind(&self) -> FragmentKind {
        self.model().kind.into()
    }
    /// Who speaks (DIALOGUE and PARENTHETICAL).
    async fn character(&self) -> Option<&str> {
        self.model().character.as_deref()
    }
    async fn content(&self) -> &str {
        &self.model().content
    }
    /// Current version; pass it to `reviseFragment`.
    async fn version(&self) -> i32 {
        self.model().version
    }
    /// How the current version came to be.
    async fn origin(&self) -> FragmentOrigin {
        self.model().origin.into()
    }
    async fn agent_name(&self) -> Option<&str> {
        self.model().agent_name.as_deref()
    }
    async fn token_count(&self) -> Option<i32> {
        self.model().token_count
    }
    /// Author of the current version.
    async fn created_by(&self) -> Option<Uuid> {
        self.model().created_by
    }
    async fn created_at(&self) -> DateTime<FixedOffset> {
        self.model().created_at
    }
    async fn updated_at(&self) -> DateTime<FixedOffset> {
        self.model().updated_at
    }

    /// The step it belongs to.
    async fn step(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<OutlineStep>> {
        Ok(ctx
            .loaders()
            .one(StepById(self.model().step_id))
            .await?
            .map(OutlineStep::from))
    }

    /// Every version, oldest first; the last one is the current version.
    #[graphql(complexity = "crate::graphql::cost::list(child_complexity)")]
    async fn versions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<FragmentVersion>> {
        let earlier = ctx
            .loaders()
            .one(VersionsOfFragment(self.model().id))
            .await?
            .unwrap_or_default();
        let mut out: Vec<FragmentVersion> = earlier.iter().map(FragmentVersion::from).collect();
        let m = self.model();
        out.push(FragmentVersion {
            version: m.version,
            character: m.character.clone(),
            content: m.content.clone(),
            origin: m.origin.into(),
            agent_name: m.agent_name.clone(),
            created_by: m.created_by,
            created_at: m.updated_at,
            current: true,
        });
        Ok(out)
    }
}

impl ReadyFields for Fragment {
    fn ready(&self, name: &str) -> Option<Value> {
        let m = self.model();
        Some(match name {
            "id" => scalar(&m.id),
            "sessionId" => scalar(&m.session_id),
            "stepId" => scalar(&m.step_id),
            "position" => scalar(&m.position),
            "kind" => FragmentKind::from(m.kind).into(),
            "character" => optional_text(m.character.as_deref()),
            "content" => text(&m.content),
            "version" => scalar(&m.version),
            "origin" => FragmentOrigin::from(m.origin).into(),
            "agentName" => optional_text(m.agent_name.as_deref()),
            "tokenCount" => optional(m.token_count.as_ref()),
            "createdBy" => optional(m.created_by.as_ref()),
            "createdAt" => scalar(&m.created_at),
            "updatedAt" => scalar(&m.updated_at),
            _ => return None,
        })
    }
}

/// One version of a fragment.
#[derive(SimpleObject, Clone)]
pub struct FragmentVersion {
    pub version: i32,
    pub character: Option<String>,
    pub content: String,
    pub origin: FragmentOrigin,
    pub agent_name: Option<String>,
    /// Who wrote this version.
    pub created_by: Option<Uuid>,
    /// When this version was written.
    pub created_at: DateTime<FixedOffset>,
    /// Whether this is the fragment's current version.
    pub current: bool,
}

impl From<&fragment_versions::Model> for FragmentVersion {
    fn from(m: &fragment_versions::Model) -> Self {
        Self {
            version: m.version,
            character: m.character.clone(),
            content: m.content.clone(),
            origin: m.origin.into(),
            agent_name: m.agent_name.clone(),
            created_by: m.created_by,
            created_at: m.created_at,
            current: false,
        }
    }
}

// ---- What agents recorded: retrievals, executions, LLM calls ----

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
    #[graphql(complexity = "crate::graphql::cost::list(child_complexity)")]
    async fn retrievals(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<RetrievedDocument>> {
        let Some(id) = self.0.step_id else {
            return Ok(Vec::new());
        };
        let list = ctx.loaders().one(RetrievalsOfStep(id)).await?.unwrap_or_default();
        Ok(list.iter().cloned().map(RetrievedDocument::from).collect())
    }
}
