//! The life of one GraphQL operation, as an async-graphql extension so that
//! HTTP requests and each websocket operation go through the same steps:
//!
//! 1. `prepare_request`: a [`RequestScope`] for the caller (from the HTTP
//!    handler's request data or the websocket connection's data) joins the
//!    request data; the variables are kept for the audit row, every value
//!    redacted until the document is known.
//! 2. `parse_query` / `validation`: what the operation is (or the refusal
//!    the gate attached, see `graphql::gate`); the variables that reach a
//!    secret input are redacted by where the document puts them (see
//!    [`secrets`]); request errors get a stable `extensions.code`.
//! 3. `execute`: for a signed-in query or mutation the transaction opens
//!    before any resolver runs (within the tenant's share of the pool; where
//!    a suspended tenant or disabled user is refused), then the tenant's rate
//!    limit is checked, so a refused request writes nothing. The work races
//!    the request's deadline and the end of the shutdown grace period: a
//!    stopped operation's statement is cancelled, its transaction rolled
//!    back, and it is answered `TIMEOUT` and audited like any other. After
//!    the resolvers: a mutation's audit row is inserted
//!    into its transaction and both commit together; a failed mutation rolls
//!    back entirely (its `data` becomes null) and gets a failure row; queries
//!    commit and queue their row; the tenant's `requests` and `mutations`
//!    counters are queued.
//! 4. Operations that never reach `execute` (syntax or validation errors,
//!    unknown persisted queries) are audited by `request` (HTTP) or
//!    `subscribe` (websocket); subscriptions are audited when they start.

use std::{
    sync::{Arc, Mutex},
    time::Instant,
};

use async_graphql::{
    Response, ServerError, ServerResult, ValidationResult, Value, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest, NextRequest,
        NextSubscribe, NextValidation,
    },
    futures_util::{StreamExt, stream::BoxStream},
    parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet},
};
use chrono::Utc;
use entity::enums::{AuditOutcome, QuotaMetric};
use opentelemetry::KeyValue;
use tracing::{Instrument, Span, field::Empty};

use super::{metrics, secrets, uncoded};
use crate::{
    audit::{AuditRecord, diff},
    auth::Principal,
    error::{AppError, ErrorCode, TimeoutReason, code_of, with_code},
    graphql::{admission::Refused, loaders::Loaders},
    request::{Caller, RequestMeta, RequestScope},
    state::SharedState,
    telemetry,
};

/// Installs the lifecycle on a schema.
pub struct RequestLifecycle;

impl ExtensionFactory for RequestLifecycle {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Lifecycle {
            inner: Arc::new(Inner {
                started: Instant::now(),
                state: Mutex::new(State::default()),
                span: tracing::info_span!(
                    "operation",
                    request_id = Empty,
                    tenant_id = Empty,
                    user_id = Empty,
                    operation = Empty
                ),
            }),
        })
    }
}

/// What the operation turned out to be.
#[derive(Debug, Clone, Default)]
pub struct OperationInfo {
    pub operation_type: Option<OperationType>,
    pub operation_name: Option<String>,
    /// Top-level fields, in document order.
    pub fields: Vec<String>,
}

struct Lifecycle {
    inner: Arc<Inner>,
}

struct Inner {
    started: Instant,
    state: Mutex<State>,
    /// The operation's span: every log line of the operation carries its
    /// request id, tenant, user and operation (recorded as they are known).
    span: Span,
}

#[derive(Default)]
struct State {
    app: Option<SharedState>,
    scope: Option<Arc<RequestScope>>,
    /// The operation the client asked for, from the request.
    requested_operation: Option<String>,
    operation: OperationInfo,
    /// The document's text, to explain errors that come without a code
    /// (never stored: it may hold secrets written as literals).
    query: String,
    /// The variables as the audit row keeps them (secrets redacted).
    variables: serde_json::Value,
    /// Set once the audit row is written or queued: one per operation.
    audited: bool,
}

impl Inner {
    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut state)
    }

    /// Claims the right to audit this operation (false when already done).
    fn claim_audit(&self) -> bool {
        self.with(|s| !std::mem::replace(&mut s.audited, true))
    }

    /// The audit row of this operation, given its outcome.
    fn record(&self, errors: &[ServerError]) -> Option<AuditRecord> {
        let (scope, operation, variables) = self.with(|s| (s.scope.clone(), s.operation.clone(), s.variables.clone()));
        let scope = scope?;
        let principal = scope.principal();
        let caller = scope.caller_if_open_now();
        let (tenant_id, user_id) = match (&caller, principal) {
            (Some(Caller::Tenant(c)), _) => (Some(c.tenant_id.uuid()), c.user_id),
            (_, Principal::Tenant { tenant_id, subject, .. }) => (Some(tenant_id.uuid()), subject.parse().ok()),
            _ => (None, None),
        };
        let notes = scope.audit_notes();
        let mut codes: Vec<String> = errors.iter().map(|e| code_of(e).as_str().to_owned()).collect();
        codes.sort();
        codes.dedup();
        let mut details = serde_json::json!({ "variables": variables });
        if !notes.changes.is_empty() {
            details["changes"] = serde_json::Value::Array(notes.changes);
        }
        if let Principal::Anonymous {
            token_error: Some(reason),
        } = principal
        {
            details["tokenError"] = serde_json::Value::String(reason.clone());
        }
        Some(AuditRecord {
            id: uuid::Uuid::now_v7(),
            created_at: Utc::now().fixed_offset(),
            tenant_id,
            user_id,
            subject: principal.subject().map(diff::storable),
            role: principal.role().map(|r| r.as_str().to_owned()),
            request_id: scope.meta.request_id.clone(),
            operation_type: operation.operation_type.map(|t| t.to_string()),
            operation_name: operation.operation_name,
            fields: operation.fields,
            resource_type: notes.resource_type,
            resource_ids: notes.resource_ids,
            outcome: if errors.is_empty() {
                AuditOutcome::Ok
            } else {
                AuditOutcome::Error
            },
            error_codes: codes,
            ip: scope.meta.client_ip.map(|ip| ip.to_string()),
            user_agent: scope.meta.user_agent.as_deref().map(diff::storable),
            details,
            duration_ms: i32::try_from(self.started.elapsed().as_millis()).unwrap_or(i32::MAX),
        })
    }

    /// Queues this operation's row unless it was written already.
    async fn queue_audit(&self, errors: &[ServerError]) {
        if !self.claim_audit() {
            return;
        }
        let app = self.with(|s| s.app.clone());
        if let (Some(app), Some(record)) = (app, self.record(errors)) {
            app.audit.record(record).await;
        }
    }
}

#[async_trait::async_trait]
impl Extension for Lifecycle {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let inner = &self.inner;
        async {
            let mut response = next.run(ctx).await;
            inner.with(|s| {
                uncoded::code_errors(&mut response.errors, &s.query);
                let info = &s.operation;
                metrics::observe(info.operation_type, &info.fields, &response, inner.started.elapsed());
            });
            // Only requests that never executed are left: parse, validation and
            // persisted-query errors.
            inner.queue_audit(&response.errors).await;
            if !response.errors.is_empty() {
                let codes: Vec<&str> = response.errors.iter().map(|e| code_of(e).as_str()).collect();
                telemetry::set_error(&inner.span, codes.join(", "));
            }
            tracing::debug!(
                errors = response.errors.len(),
                duration_ms = inner.started.elapsed().as_millis() as u64,
                "operation finished"
            );
            response
        }
        .instrument(inner.span.clone())
        .await
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let inner = self.inner.clone();
        let mut first = true;
        // A subscription that ends before its first event is audited then.
        let on_drop = AuditOnDrop(inner.clone());
        let span = inner.span.clone();
        let stream = next.run(ctx, stream);
        let stream = match ctx.data_opt::<Arc<Loaders>>() {
            Some(loaders) => loaders.waves.run_stream(stream).boxed(),
            None => stream,
        };
        in_span(span, stream)
            .then(move |response| {
                let _ = &on_drop;
                let inner = inner.clone();
                let audit = std::mem::replace(&mut first, false);
                async move {
                    if audit {
                        let subscription =
                            inner.with(|s| s.operation.operation_type == Some(OperationType::Subscription));
                        if subscription && response.errors.is_empty() {
                            count_request(&inner, false).await;
                        }
                        inner.queue_audit(&response.errors).await;
                    }
                    response
                }
            })
            .boxed()
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: async_graphql::Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<async_graphql::Request> {
        let state = ctx
            .data::<SharedState>()
            .map_err(|e| e.into_server_error(async_graphql::Pos::default()))?
            .clone();
        let principal = request_data::<Principal>(&request)
            .or_else(|| ctx.data_opt::<Principal>())
            .cloned()
            .unwrap_or_else(Principal::anonymous);
        // HTTP puts the request's facts in the request data; a websocket puts
        // the connection's in its session data, and each operation gets an id.
        let meta = match request_data::<RequestMeta>(&request) {
            Some(meta) => meta.clone(),
            None => ctx
                .data_opt::<RequestMeta>()
                .map(RequestMeta::for_operation)
                .unwrap_or_default(),
        };
        let variables = secrets::redact_variables(&request.variables, None);
        record_caller(&self.inner.span, &principal, &meta);
        let scope =
            Arc::new(RequestScope::new(state.db.clone(), principal, meta).with_bulkhead(state.bulkhead.clone()));
        request.data.insert(Arc::new(Loaders::new(&scope)));
        request.data.insert(scope.clone());
        self.inner.with(|s| {
            s.app = Some(state);
            s.scope = Some(scope);
            s.requested_operation.clone_from(&request.operation_name);
            s.variables = variables;
        });
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        // The gate refused the request before parsing or before validation.
        if let Some(Refused(err)) = ctx.data_opt::<Refused>() {
            return Err(err.clone());
        }
        let document = next
            .run(ctx, query, variables)
            .await
            .map_err(|e| with_code(e, ErrorCode::GraphqlParseFailed))?;
        let requested = self.inner.with(|s| s.requested_operation.clone());
        let info = operation_info(&document, requested.as_deref());
        self.inner.span.record("operation", info.label());
        record_for_traces(&self.inner.span, &info);
        let redacted = secrets::redact_variables(variables, Some(&document));
        self.inner.with(|s| {
            s.operation = info;
            s.query = query.to_owned();
            s.variables = redacted;
        });
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|mut errors| {
            for err in errors.iter_mut() {
                // A literal that does not fit its scalar (met while computing
                // a list's cost) is the caller's input, coded below.
                if !err.message.starts_with("Failed to parse") {
                    *err = with_code(err.clone(), ErrorCode::GraphqlValidationFailed);
                }
            }
            self.inner.with(|s| uncoded::code_errors(&mut errors, &s.query));
            errors
        })
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let inner = &self.inner;
        let (app, scope, operation) = inner.with(|s| (s.app.clone(), s.scope.clone(), s.operation.clone()));
        let (Some(app), Some(scope)) = (app, scope) else {
            return next.run(ctx, operation_name).await;
        };
        let kind = operation.operation_type;
        if kind == Some(OperationType::Subscription) {
            return next.run(ctx, operation_name).await;
        }
        let mutation = kind == Some(OperationType::Mutation);
        // The work races the request's deadline and the end of the shutdown
        // grace period; whichever comes first stops it.
        let work = run_operation(inner, &app, &scope, &operation, ctx, operation_name, next);
        let ran = tokio::select! {
            ran = work => ran,
            reason = stopped(&app, scope.meta.deadline) => {
                return answer_stopped(inner, &scope, reason, mutation).await;
            }
        };
        let mut response = match ran {
            Ran::Refused(response) => return response,
            Ran::Executed(response) => response,
        };
        inner.with(|s| uncoded::code_errors(&mut response.errors, &s.query));
        let ok = response.errors.is_empty();

        if mutation && ok && app.audit.enabled() && scope.is_open().await && inner.claim_audit() {
            // The audit row commits with the change, or neither does.
            let record = inner.record(&response.errors);
            match scope.finish(true, record).await {
                Ok(_) => {}
                Err(err) => {
                    response.errors.push(err.to_server_error());
                    response.data = Value::Null;
                    inner.with(|s| s.audited = false);
                    inner.queue_audit(&response.errors).await;
                }
            }
        } else {
            // Queries commit whatever they read; failed mutations keep nothing.
            if let Err(err) = scope.finish(!mutation || ok, None).await {
                response.errors.push(err.to_server_error());
            }
            if mutation && !response.errors.is_empty() {
                response.data = Value::Null;
            }
            inner.queue_audit(&response.errors).await;
        }
        count_request(inner, mutation).await;
        response
    }
}

/// How the work of an operation ended.
enum Ran {
    /// Refused before any resolver ran (caller, rate limit); audited.
    Refused(Response),
    /// The resolvers ran; the transaction is still to be finished.
    Executed(Response),
}

/// Opens the transaction of a signed-in caller (a suspended tenant or
/// disabled user is refused there), checks the tenant's rate limit, then
/// runs the resolvers.
async fn run_operation(
    inner: &Inner,
    app: &SharedState,
    scope: &RequestScope,
    operation: &OperationInfo,
    ctx: &ExtensionContext<'_>,
    operation_name: Option<&str>,
    next: NextExecute<'_>,
) -> Ran {
    if !matches!(scope.principal(), Principal::Anonymous { .. }) {
        if let Err(err) = scope.open().await {
            let response = Response::from_errors(vec![err.to_server_error()]);
            inner.queue_audit(&response.errors).await;
            return Ran::Refused(response);
        }
        if let Err(err) = check_rate_limit(app, scope, operation.rate_cost()).await {
            let _ = scope.finish(false, None).await;
            let response = Response::from_errors(vec![err.to_server_error()]);
            inner.queue_audit(&response.errors).await;
            return Ran::Refused(response);
        }
    }
    let resolve = next.run(ctx, operation_name);
    match ctx.data_opt::<Arc<Loaders>>() {
        Some(loaders) => Ran::Executed(loaders.waves.run(resolve).await),
        None => Ran::Executed(resolve.await),
    }
}

/// Resolves when the operation must stop: its deadline passed, or the
/// shutdown grace period is over.
async fn stopped(app: &SharedState, deadline: Option<tokio::time::Instant>) -> TimeoutReason {
    let mut grace_over = app.grace_over.subscribe();
    let request = async {
        match deadline {
            Some(deadline) => tokio::time::sleep_until(deadline).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = request => TimeoutReason::Request,
        Ok(_) = grace_over.wait_for(|over| *over) => TimeoutReason::Shutdown,
    }
}

/// The answer of an operation stopped for `reason`: its statement
/// cancelled, its transaction rolled back, its audit row queued.
async fn answer_stopped(inner: &Inner, scope: &RequestScope, reason: TimeoutReason, mutation: bool) -> Response {
    scope.abort().await;
    tracing::warn!(reason = reason.as_str(), "operation stopped before it finished");
    let response = Response::from_errors(vec![AppError::Timeout(reason).to_server_error()]);
    inner.queue_audit(&response.errors).await;
    count_request(inner, mutation).await;
    response
}

/// Queues the operation's audit row when dropped, unless it was written.
struct AuditOnDrop(Arc<Inner>);

impl Drop for AuditOnDrop {
    fn drop(&mut self) {
        // Synchronously: a connection dropped at shutdown must still get its
        // row into the queue before the queue is drained.
        let inner = &self.0;
        if !inner.claim_audit() {
            return;
        }
        let (app, scope, subscription) = inner.with(|s| {
            (
                s.app.clone(),
                s.scope.clone(),
                s.operation.operation_type == Some(OperationType::Subscription),
            )
        });
        let (Some(app), Some(record)) = (app, inner.record(&[])) else {
            return;
        };
        app.audit.record_now(record);
        if let (true, Some(tenant)) = (subscription, scope.and_then(|s| s.principal().tenant_id())) {
            app.audit.count_now(tenant, QuotaMetric::Requests, 1);
        }
    }
}

/// Counts an executed operation against its tenant (requests, mutations).
async fn count_request(inner: &Inner, mutation: bool) {
    let (app, scope) = inner.with(|s| (s.app.clone(), s.scope.clone()));
    let (Some(app), Some(scope)) = (app, scope) else { return };
    let tenant = match scope.caller_if_open().await {
        Some(Caller::Tenant(c)) => Some(c.tenant_id),
        _ => scope.principal().tenant_id(),
    };
    if let Some(tenant) = tenant {
        app.audit.count(tenant, QuotaMetric::Requests, 1).await;
        if mutation {
            app.audit.count(tenant, QuotaMetric::Mutations, 1).await;
        }
    }
}

async fn check_rate_limit(app: &SharedState, scope: &RequestScope, cost: u32) -> Result<(), AppError> {
    if !app.audit.enabled() {
        return Ok(());
    }
    let (Some(Caller::Tenant(caller)), Some(limit)) = (scope.caller_if_open().await, scope.requests_per_minute().await)
    else {
        return Ok(());
    };
    app.rate_limiter
        .check(caller.tenant_id, u32::try_from(limit).unwrap_or(1), cost)
        .map_err(AppError::rate_limited)
}

/// The caller's facts on the operation's span.
fn record_caller(span: &Span, principal: &Principal, meta: &RequestMeta) {
    span.record("request_id", meta.request_id.as_str());
    if let Some(tenant) = principal.tenant_id() {
        span.record("tenant_id", tracing::field::display(tenant));
    }
    if let Some(subject) = principal.subject() {
        span.record("user_id", subject);
    }
}

/// The operation on its exported span, as OpenTelemetry's GraphQL
/// conventions name it (logs keep their `operation` field).
fn record_for_traces(span: &Span, info: &OperationInfo) {
    if !telemetry::enabled() {
        return;
    }
    telemetry::set_name(span, info.label());
    let mut attributes = Vec::new();
    if let Some(kind) = info.operation_type {
        attributes.push(KeyValue::new("graphql.operation.type", kind.to_string()));
    }
    if let Some(name) = &info.operation_name {
        attributes.push(KeyValue::new("graphql.operation.name", name.clone()));
    }
    telemetry::set_attributes(span, attributes);
}

/// `stream`, polled inside `span` (so events of the stream's work carry it).
fn in_span<'s, T: Send + 's>(span: Span, stream: BoxStream<'s, T>) -> BoxStream<'s, T> {
    let mut stream = stream;
    async_graphql::futures_util::stream::poll_fn(move |cx| {
        let _entered = span.enter();
        stream.poll_next_unpin(cx)
    })
    .boxed()
}

fn request_data<T: 'static>(request: &async_graphql::Request) -> Option<&T> {
    request
        .data
        .get(&std::any::TypeId::of::<T>())
        .and_then(|d| d.downcast_ref::<T>())
}

/// Root fields each counted as a request by the rate limit: every search
/// and every ingest is its own piece of work, however they are aliased.
const COUNTED_FIELDS: [&str; 2] = ["searchDocuments", "ingestDocuments"];

impl OperationInfo {
    /// What the operation costs against its tenant's rate limit.
    pub fn rate_cost(&self) -> u32 {
        let counted = self
            .fields
            .iter()
            .filter(|f| COUNTED_FIELDS.contains(&f.as_str()))
            .count();
        u32::try_from(counted).unwrap_or(u32::MAX).max(1)
    }

    /// How the operation appears in logs: its name, else its root fields.
    pub fn label(&self) -> String {
        let kind = self.operation_type.map(|t| t.to_string()).unwrap_or_default();
        match &self.operation_name {
            Some(name) => format!("{kind} {name}"),
            None => format!("{kind} {{ {} }}", self.fields.join(" ")),
        }
    }
}

/// Reads the operation's type, name and top-level fields from the document.
pub fn operation_info(doc: &ExecutableDocument, operation_name: Option<&str>) -> OperationInfo {
    let op = match operation_name {
        Some(name) => doc.operations.iter().find(|(n, _)| n.map(|n| n.as_str()) == Some(name)),
        None => doc.operations.iter().next(),
    };
    let Some((name, op)) = op else {
        return OperationInfo::default();
    };
    let mut fields = Vec::new();
    root_fields(doc, &op.node.selection_set.node, &mut Vec::new(), &mut fields);
    OperationInfo {
        operation_type: Some(op.node.ty),
        operation_name: name.map(|n| n.to_string()),
        fields: fields.into_iter().map(|(_, name)| name.to_owned()).collect(),
    }
}

/// Root fields as (response key, name), fragments at the root included, each
/// response key once (fields under one key are one field); each fragment is
/// read once, so a document that spreads fragments in a cycle or a bomb
/// cannot make this walk long.
fn root_fields<'a>(
    doc: &'a ExecutableDocument,
    set: &'a SelectionSet,
    seen_fragments: &mut Vec<&'a str>,
    out: &mut Vec<(&'a str, &'a str)>,
) {
    for item in &set.items {
        match &item.node {
            Selection::Field(f) => {
                let name = f.node.name.node.as_str();
                let key = f.node.alias.as_ref().map_or(name, |a| a.node.as_str());
                if !out.iter().any(|(k, _)| *k == key) {
                    out.push((key, name));
                }
            }
            Selection::InlineFragment(inline) => root_fields(doc, &inline.node.selection_set.node, seen_fragments, out),
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.as_str();
                if seen_fragments.contains(&name) {
                    continue;
                }
                seen_fragments.push(name);
                if let Some(fragment) = doc.fragments.get(&spread.node.fragment_name.node) {
                    root_fields(doc, &fragment.node.selection_set.node, seen_fragments, out);
                }
            }
        }
    }
}
