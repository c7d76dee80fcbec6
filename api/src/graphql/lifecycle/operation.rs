//! The life of one GraphQL operation, HTTP request or websocket operation
//! alike, around async-graphql's execution (called by the gate's
//! executor). Not an async-graphql extension: with any extension
//! registered, async-graphql sends every field and list item through the
//! extension chain (a registry lookup and a boxed future each), which was
//! the largest cost of a nested page after allocation.
//!
//! 1. [`Operation::start`]: a [`RequestScope`] for the caller (from the HTTP
//!    handler's request data or the websocket connection's data) joins the
//!    request data; the variables are kept for the audit row, every value
//!    redacted until the document is known.
//! 2. [`Operation::read`]: what the operation is (or the refusal the gate
//!    attached, see `graphql::gate`); the variables that reach a secret
//!    input are redacted by where the document puts them (see [`secrets`]).
//! 3. [`Operation::run`]: for a signed-in query or mutation the transaction
//!    opens before async-graphql validates and executes (within the tenant's
//!    share of the pool; where a suspended tenant or disabled user is
//!    refused), then the tenant's rate limit is checked. A document that
//!    fails validation rolls that transaction back: it wrote nothing. The
//!    work races the request's deadline and the end of the shutdown grace
//!    period: a stopped operation's statement is cancelled, its transaction
//!    rolled back, and it is answered `TIMEOUT` and audited like any other.
//!    After the resolvers: a mutation's audit row is inserted into its
//!    transaction and both commit together; a failed mutation rolls back
//!    entirely (its `data` becomes null) and gets a failure row; queries
//!    commit and queue their row; the tenant's `requests` and `mutations`
//!    counters are queued.
//! 4. [`Operation::answer`]: errors without a code get one, metrics, and
//!    the audit row of an operation that never executed. Subscriptions are
//!    audited when they start.

use std::{
    sync::{Arc, Mutex},
    time::Instant,
};

use async_graphql::{
    Data, Request, Response, ServerError, Value,
    futures_util::{
        StreamExt,
        stream::{self, BoxStream},
    },
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
    graphql::{admission::Refused, loaders::Loaders, schema::AppSchema},
    request::{Caller, RequestMeta, RequestScope},
    state::SharedState,
    telemetry,
};

/// One operation on its way through the lifecycle.
pub struct Operation {
    inner: Arc<Inner>,
}

/// What the operation turned out to be.
#[derive(Debug, Clone, Default)]
pub struct OperationInfo {
    pub operation_type: Option<OperationType>,
    pub operation_name: Option<String>,
    /// Top-level fields, in document order.
    pub fields: Vec<String>,
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
    loaders: Option<Arc<Loaders>>,
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

impl Operation {
    /// Starts the operation of `request` on `schema`: its scope and loaders
    /// join the request data. `session` is a websocket connection's data.
    pub fn start(schema: &AppSchema, request: &mut Request, session: Option<&Data>) -> Self {
        let inner = Arc::new(Inner {
            started: Instant::now(),
            state: Mutex::new(State::default()),
            span: tracing::info_span!(
                "operation",
                request_id = Empty,
                tenant_id = Empty,
                user_id = Empty,
                operation = Empty
            ),
        });
        let state = schema.data::<SharedState>().cloned();
        let principal = data_of::<Principal>(&request.data)
            .or_else(|| session.and_then(data_of::<Principal>))
            .cloned()
            .unwrap_or_else(Principal::anonymous);
        // HTTP puts the request's facts in the request data; a websocket puts
        // the connection's in its session data, and each operation gets an id.
        let meta = match data_of::<RequestMeta>(&request.data) {
            Some(meta) => meta.clone(),
            None => session
                .and_then(data_of::<RequestMeta>)
                .map(RequestMeta::for_operation)
                .unwrap_or_default(),
        };
        let variables = secrets::redact_variables(&request.variables, None);
        record_caller(&inner.span, &principal, &meta);
        if let Some(state) = state {
            let scope = Arc::new(
                RequestScope::new(state.db.clone(), principal, meta)
                    .with_bulkhead(state.bulkhead.clone())
                    .with_replicas(state.replicas.clone()),
            );
            let loaders = Arc::new(Loaders::new(&scope));
            request.data.insert(loaders.clone());
            request.data.insert(scope.clone());
            inner.with(|s| {
                s.app = Some(state);
                s.scope = Some(scope);
                s.loaders = Some(loaders);
            });
        }
        inner.with(|s| s.variables = variables);
        Self { inner }
    }

    /// The operation's span (every log line of the operation carries it).
    pub fn span(&self) -> Span {
        self.inner.span.clone()
    }

    /// Reads the operation's type from its document (parsed by the gate),
    /// or the error it is answered with (the gate's refusal, a parse error).
    pub fn read(&self, request: &mut Request) -> Result<Option<OperationType>, ServerError> {
        if let Some(Refused(err)) = data_of::<Refused>(&request.data) {
            return Err(err.clone());
        }
        let requested = request.operation_name.clone();
        let query = request.query.clone();
        // Taken out while the parsed document borrows the request, then put back.
        let variables = std::mem::take(&mut request.variables);
        let (info, redacted) = match request.parsed_query() {
            Ok(document) => (
                operation_info(document, requested.as_deref()),
                secrets::redact_variables(&variables, Some(document)),
            ),
            Err(err) => {
                request.variables = variables;
                return Err(with_code(err, ErrorCode::GraphqlParseFailed));
            }
        };
        request.variables = variables;
        self.inner.span.record("operation", info.label());
        record_for_traces(&self.inner.span, &info);
        let kind = info.operation_type;
        self.inner.with(|s| {
            s.operation = info;
            s.query = query;
            s.variables = redacted;
        });
        Ok(kind)
    }

    /// Runs `execution` (async-graphql's validation and execution of the
    /// operation) inside the caller's transaction, and finishes it.
    pub async fn run(&self, kind: Option<OperationType>, execution: impl Future<Output = Response>) -> Response {
        let inner = &self.inner;
        let (app, scope, operation) = inner.with(|s| (s.app.clone(), s.scope.clone(), s.operation.clone()));
        let (Some(app), Some(scope)) = (app, scope) else {
            return execution.await;
        };
        if kind == Some(OperationType::Subscription) {
            return execution.await;
        }
        let mutation = kind == Some(OperationType::Mutation);
        if kind == Some(OperationType::Query) {
            scope.reads_only();
        }
        // The work races the request's deadline and the end of the shutdown
        // grace period; whichever comes first stops it.
        let work = run_operation(inner, &app, &scope, &operation, execution);
        let ran = tokio::select! {
            ran = work => ran,
            reason = stopped(&app, scope.meta.deadline) => {
                return answer_stopped(inner, &scope, reason, mutation).await;
            }
        };
        let mut response = match ran {
            Ran::Refused(response) => return response,
            Ran::Invalid(response) => {
                let _ = scope.finish(false, None).await;
                return response;
            }
            Ran::Executed(response) => response,
        };
        inner.with(|s| uncoded::code_errors(&mut response.errors, &s.query, ErrorCode::Internal));
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

    /// The end of an operation that answers once: codes, metrics, and the
    /// audit row of one that never executed (refused, not parsed, invalid).
    pub async fn answer(&self, mut response: Response) -> Response {
        let inner = &self.inner;
        inner.with(|s| {
            uncoded::code_errors(&mut response.errors, &s.query, ErrorCode::Internal);
            let info = &s.operation;
            metrics::observe(info.operation_type, &info.fields, &response, inner.started.elapsed());
        });
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

    /// The responses of a subscription: audited (and counted) when the first
    /// arrives, or when the stream ends before any did.
    pub fn stream(self, stream: BoxStream<'static, Response>) -> BoxStream<'static, Response> {
        let inner = self.inner;
        let mut first = true;
        let on_drop = AuditOnDrop(inner.clone());
        let span = inner.span.clone();
        let stream = match inner.with(|s| s.loaders.clone()) {
            Some(loaders) => loaders.waves.run_stream(stream).boxed(),
            None => stream,
        };
        in_span(span, stream)
            .then(move |mut response| {
                let _ = &on_drop;
                let inner = inner.clone();
                let audit = std::mem::replace(&mut first, false);
                async move {
                    if audit {
                        if invalid(&response) {
                            inner.with(|s| code_invalid(&mut response.errors, &s.query));
                        } else if response.errors.is_empty() {
                            count_request(&inner, false).await;
                        }
                        inner.queue_audit(&response.errors).await;
                    }
                    response
                }
            })
            .boxed()
    }
}

/// Whether async-graphql refused the operation before executing it: no
/// data, and errors that point at no field (validation, variables, an
/// unknown operation name; a resolver's error always has a path).
fn invalid(response: &Response) -> bool {
    matches!(response.data, Value::Null)
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

/// Codes the errors of an operation refused before execution.
fn code_invalid(errors: &mut [ServerError], query: &str) {
    uncoded::code_errors(errors, query, ErrorCode::GraphqlValidationFailed);
}

/// How the work of an operation ended.
enum Ran {
    /// Refused before any resolver ran (caller, rate limit); audited.
    Refused(Response),
    /// Refused by async-graphql before execution (validation); its errors
    /// coded, its transaction still to be rolled back.
    Invalid(Response),
    /// The resolvers ran; the transaction is still to be finished.
    Executed(Response),
}

/// Opens the transaction of a signed-in caller (a suspended tenant or
/// disabled user is refused there), checks the tenant's rate limit, then
/// validates and executes.
async fn run_operation(
    inner: &Inner,
    app: &SharedState,
    scope: &RequestScope,
    operation: &OperationInfo,
    execution: impl Future<Output = Response>,
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
    let loaders = inner.with(|s| s.loaders.clone());
    let mut response = match loaders {
        Some(loaders) => loaders.waves.run(execution).await,
        None => execution.await,
    };
    if invalid(&response) {
        inner.with(|s| code_invalid(&mut response.errors, &s.query));
        return Ran::Invalid(response);
    }
    Ran::Executed(response)
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

/// A value of type `T` in request or connection data.
pub fn data_of<T: 'static>(data: &Data) -> Option<&T> {
    data.get(&std::any::TypeId::of::<T>())
        .and_then(|d| d.downcast_ref::<T>())
}

/// Runs one HTTP request on `schema`, through the whole lifecycle.
pub async fn execute(schema: &AppSchema, mut request: Request) -> Response {
    let operation = Operation::start(schema, &mut request, None);
    let span = operation.span();
    async {
        let response = match operation.read(&mut request) {
            Err(err) => Response::from_errors(vec![err]),
            Ok(kind) => operation.run(kind, schema.execute(request)).await,
        };
        operation.answer(response).await
    }
    .instrument(span)
    .await
}

/// Runs one websocket operation on `schema`: a subscription streams its
/// events; a query or mutation answers once, as over HTTP.
pub fn execute_stream(
    schema: AppSchema,
    mut request: Request,
    session: Option<Arc<Data>>,
) -> BoxStream<'static, Response> {
    let operation = Operation::start(&schema, &mut request, session.as_deref());
    let read = operation.read(&mut request);
    // The connection's data reaches the resolvers as the request's does over HTTP.
    let events = move |request| schema.execute_stream_with_session_data(request, session.unwrap_or_default());
    if let Ok(Some(OperationType::Subscription)) = read {
        return operation.stream(events(request));
    }
    let span = operation.span();
    let answer = async move {
        let response = match read {
            Err(err) => Response::from_errors(vec![err]),
            Ok(kind) => {
                let execution = async move { events(request).next().await.unwrap_or_default() };
                operation.run(kind, execution).await
            }
        };
        operation.answer(response).await
    };
    stream::once(answer.instrument(span)).boxed()
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
