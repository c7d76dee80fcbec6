//! The life of one GraphQL operation, as an async-graphql extension so that
//! HTTP requests and websocket operations go through the same steps:
//!
//! 1. `prepare_request`: a [`RequestScope`] for the caller (from the HTTP
//!    handler's or the websocket connection's data) joins the request data.
//! 2. `parse_query` / `validation`: what the operation is; request errors get
//!    a stable `extensions.code`.
//! 3. `execute`: for a signed-in query or mutation, the transaction is opened
//!    before any resolver runs, which is where a suspended tenant or a
//!    disabled user is refused.
//! 4. `request` (after everything): the transaction commits when the
//!    operation succeeded, and rolls back otherwise. A mutation operation is
//!    atomic: when any of its fields failed, nothing it did is kept and its
//!    `data` is null.

use std::sync::{Arc, Mutex};

use async_graphql::{
    ErrorExtensions, Response, ServerError, ServerResult, ValidationResult, Value, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest, NextRequest,
        NextValidation,
    },
    parser::types::{ExecutableDocument, OperationType, Selection},
};

use crate::{
    auth::Principal,
    error::AppError,
    graphql::context::{RequestMeta, RequestScope},
    state::SharedState,
};

/// Code of a syntax error in the query document.
pub const PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
/// Code of a document that does not fit the schema or the limits.
pub const VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";

/// Installs [`Lifecycle`] on a schema.
pub struct RequestLifecycle;

impl ExtensionFactory for RequestLifecycle {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Lifecycle::default())
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

#[derive(Default)]
struct Lifecycle {
    scope: Mutex<Option<Arc<RequestScope>>>,
    /// The operation the client asked for, from the request.
    requested_operation: Mutex<Option<String>>,
    operation: Mutex<OperationInfo>,
}

impl Lifecycle {
    fn scope(&self) -> Option<Arc<RequestScope>> {
        self.scope.lock().ok().and_then(|s| s.clone())
    }

    fn operation(&self) -> OperationInfo {
        self.operation.lock().map(|o| o.clone()).unwrap_or_default()
    }
}

#[async_trait::async_trait]
impl Extension for Lifecycle {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        let Some(scope) = self.scope() else { return response };
        let operation = self.operation();
        if operation.operation_type == Some(OperationType::Subscription) {
            return response;
        }
        let ok = response.errors.is_empty();
        if let Err(err) = scope.finish(ok).await {
            response.errors.push(server_error(err));
        }
        if !ok && operation.operation_type == Some(OperationType::Mutation) {
            // Nothing of a failed mutation operation was kept.
            response.data = Value::Null;
        }
        response
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: async_graphql::Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<async_graphql::Request> {
        let state = ctx
            .data::<SharedState>()
            .map_err(|e| e.into_server_error(async_graphql::Pos::default()))?;
        let principal = request_data::<Principal>(&request)
            .or_else(|| ctx.data_opt::<Principal>())
            .cloned()
            .unwrap_or_else(Principal::anonymous);
        let meta = request_data::<RequestMeta>(&request)
            .or_else(|| ctx.data_opt::<RequestMeta>())
            .cloned()
            .unwrap_or_default();
        if let Ok(mut name) = self.requested_operation.lock() {
            name.clone_from(&request.operation_name);
        }
        let scope = Arc::new(RequestScope::new(state.db.clone(), principal, meta));
        request.data.insert(scope.clone());
        if let Ok(mut slot) = self.scope.lock() {
            *slot = Some(scope);
        }
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next
            .run(ctx, query, variables)
            .await
            .map_err(|e| with_code(e, PARSE_FAILED))?;
        let requested = self.requested_operation.lock().ok().and_then(|n| n.clone());
        if let Ok(mut slot) = self.operation.lock() {
            *slot = operation_info(&document, requested.as_deref());
        }
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx)
            .await
            .map_err(|errors| errors.into_iter().map(|e| with_code(e, VALIDATION_FAILED)).collect())
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let info = self.operation();
        if let Some(scope) = self.scope()
            && info.operation_type != Some(OperationType::Subscription)
            && !matches!(scope.principal(), Principal::Anonymous { .. })
            && let Err(err) = scope.open().await
        {
            return Response::from_errors(vec![server_error(err)]);
        }
        next.run(ctx, operation_name).await
    }
}

fn request_data<T: 'static>(request: &async_graphql::Request) -> Option<&T> {
    request
        .data
        .get(&std::any::TypeId::of::<T>())
        .and_then(|d| d.downcast_ref::<T>())
}

fn with_code(mut err: ServerError, code: &str) -> ServerError {
    let extensions = err.extensions.get_or_insert_with(Default::default);
    if extensions.get("code").is_none() {
        extensions.set("code", code);
    }
    err
}

/// An [`AppError`] as a request-level error (no path).
pub fn server_error(err: AppError) -> ServerError {
    err.extend().into_server_error(async_graphql::Pos::default())
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
    let fields = op
        .node
        .selection_set
        .node
        .items
        .iter()
        .filter_map(|sel| match &sel.node {
            Selection::Field(f) => Some(f.node.name.node.to_string()),
            _ => None,
        })
        .collect();
    OperationInfo {
        operation_type: Some(op.node.ty),
        operation_name: name.map(|n| n.to_string()),
        fields,
    }
}
