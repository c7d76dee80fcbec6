//! Counts and times GraphQL operations, as an async-graphql extension of
//! its own so that it sees every operation (HTTP and websocket) without
//! touching the request lifecycle.

use std::{
    sync::{Arc, Mutex},
    time::Instant,
};

use async_graphql::{
    Response, ServerResult, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest, NextRequest},
    parser::types::{ExecutableDocument, OperationType},
};

use super::lifecycle::operation_info;
use crate::{error::code_of, metrics::observe_operation};

/// More root fields than this are labelled `(multiple)`.
const MAX_FIELDS_IN_LABEL: usize = 3;

/// Installs [`Recorder`] on a schema.
pub struct RequestMetrics;

impl ExtensionFactory for RequestMetrics {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Recorder::default())
    }
}

#[derive(Default)]
struct Recorder {
    /// The operation the client named, if any.
    requested: Mutex<Option<String>>,
    /// (operation type, operation label) once the query parsed.
    operation: Mutex<Option<(&'static str, String)>>,
}

fn type_label(ty: Option<OperationType>) -> &'static str {
    match ty {
        Some(OperationType::Query) => "query",
        Some(OperationType::Mutation) => "mutation",
        Some(OperationType::Subscription) => "subscription",
        None => "unknown",
    }
}

/// The root fields, sorted: bounded by the schema, unlike operation names.
fn operation_label(fields: &[String]) -> String {
    let mut fields: Vec<&str> = fields.iter().map(String::as_str).collect();
    fields.sort_unstable();
    fields.dedup();
    match fields.len() {
        0 => "(none)".into(),
        n if n > MAX_FIELDS_IN_LABEL => "(multiple)".into(),
        _ => fields.join(","),
    }
}

fn outcome(response: &Response) -> String {
    match response.errors.first() {
        None => "ok".into(),
        Some(err) => code_of(err).as_str().into(),
    }
}

#[async_trait::async_trait]
impl Extension for Recorder {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let started = Instant::now();
        let response = next.run(ctx).await;
        let (ty, operation) = self
            .operation
            .lock()
            .ok()
            .and_then(|o| o.clone())
            .unwrap_or(("unknown", "(invalid)".into()));
        if ty != "subscription" {
            observe_operation(ty, &operation, &outcome(&response), started.elapsed());
        }
        response
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: async_graphql::Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<async_graphql::Request> {
        if let Ok(mut slot) = self.requested.lock() {
            slot.clone_from(&request.operation_name);
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
        let document = next.run(ctx, query, variables).await?;
        let requested = self.requested.lock().ok().and_then(|r| r.clone());
        let info = operation_info(&document, requested.as_deref());
        if let Ok(mut slot) = self.operation.lock() {
            *slot = Some((type_label(info.operation_type), operation_label(&info.fields)));
        }
        Ok(document)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_bounded() {
        let f = |v: &[&str]| operation_label(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(f(&["workspaces", "me"]), "me,workspaces");
        assert_eq!(f(&["me", "me"]), "me");
        assert_eq!(f(&["a", "b", "c", "d"]), "(multiple)");
        assert_eq!(f(&[]), "(none)");
    }
}
