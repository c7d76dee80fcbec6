//! Persisted queries: Automatic Persisted Queries (the Apollo protocol: the
//! client sends `extensions.persistedQuery.sha256Hash`, and the query text only
//! when the server answers `PersistedQueryNotFound`) and an optional
//! allow-list mode that accepts nothing but the operations of a manifest.
//!
//! Only signed-in callers register queries, and only queries up to the
//! configured size: an anonymous caller (or a larger query) still runs, it
//! is just not remembered, so the cache cannot be filled by strangers.

use async_graphql::{Request, ServerError, Value};

use crate::{
    auth::Principal,
    error::ErrorCode,
    request::persisted::{PersistedQueryStore, sha256_hex},
};

/// The hash of a request's `extensions.persistedQuery`, if it has one.
pub fn hash_of(request: &Request) -> Result<Option<String>, ServerError> {
    match request.extensions.get("persistedQuery") {
        Some(Value::Object(pq)) => match pq.get("sha256Hash") {
            Some(Value::String(h)) => Ok(Some(h.to_lowercase())),
            _ => Err(ErrorCode::BadRequest.error("persistedQuery needs a sha256Hash")),
        },
        Some(_) => Err(ErrorCode::BadRequest.error("persistedQuery must be an object")),
        None => Ok(None),
    }
}

/// Fills in the query a hash names, or refuses. Returns the hash of a
/// query sent with its text, for [`remember`] once the query is admitted.
pub fn resolve(store: &PersistedQueryStore, request: &mut Request) -> Result<Option<String>, ServerError> {
    match hash_of(request)? {
        Some(hash) if request.query.is_empty() => {
            request.query = lookup(store, &hash)?;
            Ok(None)
        }
        Some(hash) => {
            if sha256_hex(&request.query) != hash {
                return Err(ErrorCode::BadRequest.error("provided sha256Hash does not match the query"));
            }
            if store.only() && store.manifest_query(&hash).is_none() {
                return Err(not_allowed("this operation is not in the manifest"));
            }
            Ok(Some(hash))
        }
        None if store.only() && store.manifest_query(&sha256_hex(&request.query)).is_none() => {
            Err(not_allowed("this server only accepts persisted operations"))
        }
        None => Ok(None),
    }
}

/// Registers an admitted query (APQ) when a signed-in caller sent it.
pub fn remember(store: &PersistedQueryStore, principal: &Principal, hash: String, query: &str) {
    if store.apq() && !matches!(principal, Principal::Anonymous { .. }) {
        store.register(hash, query);
    }
}

fn lookup(store: &PersistedQueryStore, hash: &str) -> Result<String, ServerError> {
    if let Some(query) = store.manifest_query(hash) {
        return Ok(query.clone());
    }
    if store.apq() {
        // Apollo clients look for this message, then send the query.
        return store
            .cached(hash)
            .ok_or_else(|| ErrorCode::PersistedQueryNotFound.error("PersistedQueryNotFound"));
    }
    if store.only() {
        return Err(not_allowed("this operation is not in the manifest"));
    }
    Err(ErrorCode::PersistedQueryNotFound.error("PersistedQueryNotFound"))
}

fn not_allowed(message: &str) -> ServerError {
    ErrorCode::PersistedQueryNotAllowed.error(message)
}
