//! Persisted queries: Automatic Persisted Queries (the Apollo protocol: the
//! client sends `extensions.persistedQuery.sha256Hash`, and the query text only
//! when the server answers `PersistedQueryNotFound`) and an optional
//! allow-list mode that accepts nothing but the operations of a manifest.

use std::{collections::HashMap, path::Path, sync::Arc};

use anyhow::Context;
use std::{num::NonZeroUsize, sync::Mutex};

use async_graphql::{
    ServerError, ServerResult,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest},
};
use sha2::{Digest, Sha256};

use crate::config::PersistedConfig;

/// Queries the server knows, by SHA-256 of their text.
pub struct PersistedQueryStore {
    apq: bool,
    only: bool,
    manifest: HashMap<String, String>,
    /// Queries registered through APQ, least recently used evicted first.
    cache: Mutex<lru::LruCache<String, String>>,
}

impl PersistedQueryStore {
    /// Loads the manifest (if any) and checks its hashes.
    pub fn load(config: &PersistedConfig) -> anyhow::Result<Self> {
        let manifest = match &config.manifest {
            Some(path) => read_manifest(path)?,
            None => HashMap::new(),
        };
        Ok(Self {
            apq: config.apq && !config.only,
            only: config.only,
            manifest,
            cache: Mutex::new(lru::LruCache::new(NonZeroUsize::new(4096).expect("non-zero"))),
        })
    }
}

impl PersistedQueryStore {
    fn cached(&self, hash: &str) -> Option<String> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).get(hash).cloned()
    }
}

fn read_manifest(path: &Path) -> anyhow::Result<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let mut out = HashMap::new();
    if let Some(operations) = json.get("operations").and_then(|o| o.as_array()) {
        // Apollo's persisted query manifest.
        for op in operations {
            let body = op["body"].as_str().context("manifest operation without `body`")?;
            out.insert(sha256_hex(body), body.to_owned());
        }
    } else if let Some(map) = json.as_object() {
        for (hash, body) in map {
            let body = body
                .as_str()
                .with_context(|| format!("manifest entry {hash} is not a string"))?;
            anyhow::ensure!(
                sha256_hex(body) == hash.to_lowercase(),
                "manifest entry {hash} is not the SHA-256 of its query"
            );
            out.insert(hash.to_lowercase(), body.to_owned());
        }
    } else {
        anyhow::bail!(
            "{}: expected {{\"<sha256>\": \"<query>\"}} or Apollo's {{\"operations\": [...]}}",
            path.display()
        );
    }
    Ok(out)
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Installs [`PersistedQueryStore`] on a schema.
pub struct PersistedQueries(pub Arc<PersistedQueryStore>);

impl ExtensionFactory for PersistedQueries {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(PersistedQueries(self.0.clone()))
    }
}

fn error(code: &str, message: &str) -> ServerError {
    let mut err = ServerError::new(message, None);
    let mut extensions = async_graphql::ErrorExtensionValues::default();
    extensions.set("code", code);
    err.extensions = Some(extensions);
    err
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
                _ => return Err(error("BAD_REQUEST", "persistedQuery needs a sha256Hash")),
            },
            Some(_) => return Err(error("BAD_REQUEST", "persistedQuery must be an object")),
            None => None,
        };
        match hash {
            Some(hash) if request.query.is_empty() => {
                if let Some(query) = store.manifest.get(&hash) {
                    request.query = query.clone();
                } else if store.apq
                    && let Some(query) = store.cached(&hash)
                {
                    request.query = query;
                } else if store.apq || !store.only {
                    // Apollo clients look for this message, then send the query.
                    return Err(error("PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound"));
                } else {
                    return Err(error(
                        "PERSISTED_QUERY_NOT_ALLOWED",
                        "this operation is not in the manifest",
                    ));
                }
            }
            Some(hash) => {
                if sha256_hex(&request.query) != hash {
                    return Err(error("BAD_REQUEST", "provided sha256Hash does not match the query"));
                }
                if store.only && !store.manifest.contains_key(&hash) {
                    return Err(error(
                        "PERSISTED_QUERY_NOT_ALLOWED",
                        "this operation is not in the manifest",
                    ));
                }
                if store.apq {
                    store
                        .cache
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .put(hash, request.query.clone());
                }
            }
            None if store.only && !store.manifest.contains_key(&sha256_hex(&request.query)) => {
                return Err(error(
                    "PERSISTED_QUERY_NOT_ALLOWED",
                    "this server only accepts persisted operations",
                ));
            }
            None => {}
        }
        next.run(ctx, request).await
    }
}
