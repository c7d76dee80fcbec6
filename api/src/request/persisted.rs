//! The queries the server knows by hash: the persisted-query manifest and
//! the Automatic Persisted Queries registered by clients (see
//! `graphql::persisted` for the protocol). The registered queries are
//! bounded in bytes, not in number: each at most `max_query_bytes`, all
//! together at most `cache_bytes`, least recently used evicted first.

use std::{collections::HashMap, path::Path, sync::Mutex};

use anyhow::Context;
use sha2::{Digest, Sha256};

use crate::config::PersistedConfig;

/// Queries the server knows, by SHA-256 of their text.
pub struct PersistedQueryStore {
    apq: bool,
    only: bool,
    manifest: HashMap<String, String>,
    max_query_bytes: usize,
    cache_bytes: usize,
    /// Queries registered through APQ, least recently used evicted first.
    cache: Mutex<Registered>,
}

struct Registered {
    queries: lru::LruCache<String, String>,
    /// Bytes the entries hold, as [`entry_bytes`] counts them.
    bytes: usize,
}

/// What an entry costs: its hash, its query, and the map's bookkeeping.
fn entry_bytes(hash: &str, query: &str) -> usize {
    hash.len() + query.len() + 2 * std::mem::size_of::<String>() + 64
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
            max_query_bytes: config.max_query_bytes,
            cache_bytes: config.cache_bytes,
            cache: Mutex::new(Registered {
                queries: lru::LruCache::unbounded(),
                bytes: 0,
            }),
        })
    }
}

impl PersistedQueryStore {
    /// Automatic Persisted Queries are accepted.
    pub fn apq(&self) -> bool {
        self.apq
    }

    /// Only operations of the manifest are accepted.
    pub fn only(&self) -> bool {
        self.only
    }

    /// The manifest's query of `hash`.
    pub fn manifest_query(&self, hash: &str) -> Option<&String> {
        self.manifest.get(hash)
    }

    /// A query registered through APQ.
    pub fn cached(&self, hash: &str) -> Option<String> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.queries.get(hash).cloned()
    }

    /// The query a hash names: the manifest's, or one registered through APQ.
    pub fn lookup(&self, hash: &str) -> Option<String> {
        match self.manifest_query(hash) {
            Some(query) => Some(query.clone()),
            None if self.apq => self.cached(hash),
            None => None,
        }
    }

    /// Registers a query under its hash (APQ), unless it is larger than
    /// allowed; evicts the least recently used queries beyond the budget.
    pub fn register(&self, hash: String, query: &str) {
        let size = entry_bytes(&hash, query);
        if query.len() > self.max_query_bytes || size > self.cache_bytes {
            return;
        }
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.queries.contains(&hash) {
            cache.queries.promote(&hash);
            return;
        }
        cache.queries.put(hash, query.to_owned());
        cache.bytes += size;
        while cache.bytes > self.cache_bytes {
            let Some((hash, query)) = cache.queries.pop_lru() else {
                break;
            };
            cache.bytes -= entry_bytes(&hash, &query);
        }
    }

    /// Bytes the registered queries hold now.
    pub fn cached_bytes(&self) -> usize {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).bytes
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
