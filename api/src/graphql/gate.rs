//! The one way into the schema, for HTTP requests and websocket operations
//! alike. Before any validation visitor or resolver runs, the persisted
//! query is resolved, the document's size is checked before it is parsed and
//! its expansion after (see [`admission`]), and the build for the caller's
//! role is chosen. A refused request still goes through that build, carrying
//! its refusal ([`Refused`]), so the lifecycle audits, counts and codes it
//! like any other request that never executed.

use std::sync::Arc;

use async_graphql::{
    Data, Executor, Request, Response, ServerError,
    futures_util::{StreamExt, stream::BoxStream},
};
use tokio::sync::Semaphore;

use super::{
    admission::{self, Refused},
    lifecycle::operation::{self as lifecycle, data_of},
    persisted,
    schema::{AppSchema, INTROSPECTION_LIMITS, Schemas, introspection_only},
};
use crate::{
    auth::Principal,
    error::{ErrorCode, with_code},
};

/// The operations one websocket may have in flight; put in the connection's
/// data when it is accepted.
#[derive(Clone)]
pub struct SocketSlots(Arc<Semaphore>);

impl SocketSlots {
    pub fn new(schemas: &Schemas) -> Self {
        Self(Arc::new(Semaphore::new(schemas.socket_operations)))
    }
}

impl Schemas {
    /// The build to run `request` on, with the request (carrying its refusal
    /// when it was refused).
    fn admit(&self, principal: &Principal, mut request: Request) -> (&AppSchema, Request) {
        match self.check(principal, &mut request) {
            Ok(schema) => (schema, request),
            Err(err) => (self.for_caller(principal).0, request.data(Refused(err))),
        }
    }

    fn check(&self, principal: &Principal, request: &mut Request) -> Result<&AppSchema, ServerError> {
        let (schema, limits) = self.for_caller(principal);
        let new_hash = persisted::resolve(&self.persisted, request)?;
        admission::check_size(&request.query, limits)?;
        admission::check_nesting(&request.query)?;
        let (document, cached) = self
            .parsed
            .get_or_parse(&request.query)
            .map_err(|e| with_code(e, ErrorCode::GraphqlParseFailed))?;
        let schema = if introspection_only(&document, request.operation_name.as_deref()) {
            admission::check(&document, &INTROSPECTION_LIMITS)?;
            &self.introspection
        } else {
            admission::check(&document, limits)?;
            schema
        };
        if !cached {
            self.parsed.keep(&request.query, &document);
        }
        request.set_parsed_query(document);
        if let Some(hash) = new_hash {
            persisted::remember(&self.persisted, principal, hash, &request.query);
        }
        Ok(schema)
    }
}

impl Executor for Schemas {
    /// HTTP: the caller is in the request's data.
    async fn execute(&self, request: Request) -> Response {
        let principal = request_principal(&request);
        let (schema, request) = self.admit(&principal, request);
        lifecycle::execute(schema, request).await
    }

    /// Websocket operations: the caller is in the connection's data.
    fn execute_stream(&self, request: Request, session_data: Option<Arc<Data>>) -> BoxStream<'static, Response> {
        let data = session_data.as_deref();
        let principal = data
            .and_then(data_of::<Principal>)
            .cloned()
            .unwrap_or_else(Principal::anonymous);
        let (schema, mut request) = self.admit(&principal, request);
        let permit = match data.and_then(data_of::<SocketSlots>) {
            Some(slots) => match slots.0.clone().try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) => {
                    request = request.data(Refused(too_many_operations(self.socket_operations)));
                    None
                }
            },
            None => None,
        };
        lifecycle::execute_stream(schema.clone(), request, session_data)
            .map(move |response| {
                // The slot is free again when the operation's stream ends.
                let _ = &permit;
                response
            })
            .boxed()
    }
}

fn too_many_operations(max: usize) -> ServerError {
    let mut err = ServerError::new(
        format!("this connection already has {max} operations in flight; complete one first"),
        None,
    );
    let extensions = err.extensions.get_or_insert_with(Default::default);
    extensions.set("limit", "ws_max_operations");
    extensions.set("max", max as u64);
    with_code(err, ErrorCode::RateLimited)
}

fn request_principal(request: &Request) -> Principal {
    data_of::<Principal>(&request.data)
        .cloned()
        .unwrap_or_else(Principal::anonymous)
}
