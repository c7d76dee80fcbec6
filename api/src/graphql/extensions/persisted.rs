//! Persisted queries: Automatic Persisted Queries (the Apollo protocol: the
//! client sends `extensions.persistedQuery.sha256Hash`, and the query text only
//! when the server answers `PersistedQueryNotFound`) and an optional
//! allow-list mode that accepts nothing but the operations of a manifest.

use std::sync::Arc;

use async_graphql::{
    ServerResult,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest},
};

use crate::{
    error::ErrorCode,
    request::persisted::{PersistedQueryStore, sha256_hex},
};

/// Installs [`PersistedQueryStore`] on a schema.
pub struct PersistedQueries(pub Arc<PersistedQueryStore>);

impl ExtensionFactory for PersistedQueries {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(PersistedQueries(self.0.clone()))
    }
}

#[async_trait::async_trait]
impl Extension for PersistedQueries {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: async_graphql::Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<async_graphql::Request> {
        let store = &self.0;
        let hash = match request.extensions.get("persistedQuery") {
            Some(async_graphql::Value::Object(pq)) => match pq.get("sha256Hash") {
                Some(async_graphql::Value::String(h)) => Some(h.to_lowercase()),
                _ => return Err(ErrorCode::BadRequest.error("persistedQuery needs a sha256Hash")),
            },
            Some(_) => return Err(ErrorCode::BadRequest.error("persistedQuery must be an object")),
            None => None,
        };
        match hash {
            Some(hash) if request.query.is_empty() => {
                if let Some(query) = store.manifest_query(&hash) {
                    request.query = query.clone();
                } else if store.apq()
                    && let Some(query) = store.cached(&hash)
                {
                    request.query = query;
                } else if store.apq() || !store.only() {
                    // Apollo clients look for this message, then send the query.
                    return Err(ErrorCode::PersistedQueryNotFound.error("PersistedQueryNotFound"));
                } else {
                    return Err(ErrorCode::PersistedQueryNotAllowed.error("this operation is not in the manifest"));
                }
            }
            Some(hash) => {
                if sha256_hex(&request.query) != hash {
                    return Err(ErrorCode::BadRequest.error("provided sha256Hash does not match the query"));
                }
                if store.only() && store.manifest_query(&hash).is_none() {
                    return Err(ErrorCode::PersistedQueryNotAllowed.error("this operation is not in the manifest"));
                }
                if store.apq() {
                    store.register(hash, request.query.clone());
                }
            }
            None if store.only() && store.manifest_query(&sha256_hex(&request.query)).is_none() => {
                return Err(ErrorCode::PersistedQueryNotAllowed.error("this server only accepts persisted operations"));
            }
            None => {}
        }
        next.run(ctx, request).await
    }
}
