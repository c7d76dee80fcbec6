//! Where vectors are searched: pgvector (the default) or Milvus.

use anyhow::{Context, bail};

use super::secret::Secret;

/// The vector store flags, shared by `screenplay serve` and `screenplay vectors`.
#[derive(Debug, Clone, clap::Args)]
pub struct VectorStoreArgs {
    /// Where vector searches run: `pgvector` (in PostgreSQL) or `milvus`
    /// (after `screenplay vectors migrate --to milvus`).
    #[arg(long, env = "SCREENPLAY_VECTOR_STORE", default_value = "pgvector")]
    pub vector_store: String,

    /// Milvus gRPC endpoint, e.g. `http://127.0.0.1:19530`. With it set,
    /// this instance also drains the vector outbox into Milvus.
    #[arg(long, env = "SCREENPLAY_MILVUS_URL")]
    pub milvus_url: Option<String>,

    /// Milvus token (`user:password` or an API key).
    #[arg(long, env = "SCREENPLAY_MILVUS_TOKEN", hide_env_values = true)]
    pub milvus_token: Option<Secret<String>>,

    /// The Milvus collection holding the documents' vectors.
    #[arg(long, env = "SCREENPLAY_MILVUS_COLLECTION", default_value = "screenplay_documents")]
    pub milvus_collection: String,

    /// Index built when the collection is created: HNSW, IVF_FLAT, FLAT or AUTOINDEX.
    #[arg(long, env = "SCREENPLAY_MILVUS_INDEX", default_value = "HNSW")]
    pub milvus_index: String,

    /// Build parameters of that index, `key=value` comma-separated
    /// (default HNSW `M=16,efConstruction=200`, IVF_FLAT `nlist=1024`).
    #[arg(long, env = "SCREENPLAY_MILVUS_INDEX_PARAMS")]
    pub milvus_index_params: Option<String>,

    /// Memory for small workspaces' vectors kept quantised (about 3.1 KB a
    /// chunk) to pick the candidates of exact searches; 0 keeps none.
    #[arg(long, env = "SCREENPLAY_RESIDENT_VECTORS_MB", default_value_t = 256)]
    pub resident_vectors_mb: u32,
}

/// Which store searches vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    PgVector,
    Milvus,
}

/// A Milvus index type this server can build and search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MilvusIndex {
    Hnsw,
    IvfFlat,
    Flat,
    Auto,
}

/// A Milvus server and collection.
#[derive(Debug, Clone)]
pub struct MilvusConfig {
    pub url: String,
    pub token: Option<Secret<String>>,
    pub collection: String,
    pub index: MilvusIndex,
    pub index_params: Vec<(String, String)>,
}

/// The validated vector store settings.
#[derive(Debug, Clone)]
pub struct VectorStoreConfig {
    pub store: StoreKind,
    /// Set when `SCREENPLAY_MILVUS_URL` is: the store, or the mirror's target.
    pub milvus: Option<MilvusConfig>,
    /// Bytes of workspaces' vectors kept in memory (`SCREENPLAY_RESIDENT_VECTORS_MB`).
    pub resident_bytes: usize,
}

impl Default for VectorStoreConfig {
    fn default() -> Self {
        Self {
            store: StoreKind::PgVector,
            milvus: None,
            resident_bytes: 256 << 20,
        }
    }
}

impl VectorStoreArgs {
    /// Checks the flags; errors name the variable.
    pub fn config(&self) -> anyhow::Result<VectorStoreConfig> {
        let store = match self.vector_store.trim().to_ascii_lowercase().as_str() {
            "pgvector" => StoreKind::PgVector,
            "milvus" => StoreKind::Milvus,
            other => bail!("SCREENPLAY_VECTOR_STORE must be `pgvector` or `milvus`, not `{other}`"),
        };
        let milvus = match self.milvus_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            Some(url) => Some(self.milvus(url)?),
            None if store == StoreKind::Milvus => {
                bail!("SCREENPLAY_VECTOR_STORE=milvus needs SCREENPLAY_MILVUS_URL (e.g. http://127.0.0.1:19530)")
            }
            None => None,
        };
        if self.resident_vectors_mb > 65_536 {
            bail!("SCREENPLAY_RESIDENT_VECTORS_MB must be at most 65536");
        }
        Ok(VectorStoreConfig {
            store,
            milvus,
            resident_bytes: (self.resident_vectors_mb as usize) << 20,
        })
    }

    fn milvus(&self, url: &str) -> anyhow::Result<MilvusConfig> {
        let parsed = url::Url::parse(url).context("SCREENPLAY_MILVUS_URL is not a URL")?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            bail!("SCREENPLAY_MILVUS_URL must be http://host:port or https://host:port");
        }
        let collection = self.milvus_collection.trim();
        let valid_name = collection.len() <= 255
            && collection.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && collection.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_name {
            bail!("SCREENPLAY_MILVUS_COLLECTION must be letters, digits and underscores, starting with a letter");
        }
        let index = match self.milvus_index.trim().to_ascii_uppercase().as_str() {
            "HNSW" => MilvusIndex::Hnsw,
            "IVF_FLAT" => MilvusIndex::IvfFlat,
            "FLAT" => MilvusIndex::Flat,
            "AUTOINDEX" => MilvusIndex::Auto,
            other => bail!("SCREENPLAY_MILVUS_INDEX must be HNSW, IVF_FLAT, FLAT or AUTOINDEX, not `{other}`"),
        };
        Ok(MilvusConfig {
            url: url.trim_end_matches('/').to_owned(),
            token: self.milvus_token.clone(),
            collection: collection.to_owned(),
            index,
            index_params: index_params(index, self.milvus_index_params.as_deref())?,
        })
    }
}

/// `key=value,…`, or the index type's defaults.
fn index_params(index: MilvusIndex, text: Option<&str>) -> anyhow::Result<Vec<(String, String)>> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        let defaults: &[(&str, &str)] = match index {
            MilvusIndex::Hnsw => &[("M", "16"), ("efConstruction", "200")],
            MilvusIndex::IvfFlat => &[("nlist", "1024")],
            MilvusIndex::Flat | MilvusIndex::Auto => &[],
        };
        return Ok(defaults
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect());
    };
    text.split(',')
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() && v.trim().parse::<u32>().is_ok() => {
                Ok((k.trim().to_owned(), v.trim().to_owned()))
            }
            _ => bail!("SCREENPLAY_MILVUS_INDEX_PARAMS must be key=number pairs separated by commas, not `{pair}`"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(store: &str, url: Option<&str>) -> VectorStoreArgs {
        VectorStoreArgs {
            vector_store: store.into(),
            milvus_url: url.map(Into::into),
            milvus_token: None,
            milvus_collection: "screenplay_documents".into(),
            milvus_index: "HNSW".into(),
            milvus_index_params: None,
            resident_vectors_mb: 256,
        }
    }

    #[test]
    fn settings_are_checked_with_errors_naming_the_variable() {
        assert_eq!(args("pgvector", None).config().unwrap().store, StoreKind::PgVector);
        let milvus = args("Milvus", Some("http://127.0.0.1:19530/")).config().unwrap();
        assert_eq!(milvus.store, StoreKind::Milvus);
        let m = milvus.milvus.unwrap();
        assert_eq!(m.url, "http://127.0.0.1:19530");
        assert_eq!(
            m.index_params,
            vec![("M".into(), "16".into()), ("efConstruction".into(), "200".into())]
        );
        let err = |a: VectorStoreArgs| a.config().unwrap_err().to_string();
        assert!(err(args("faiss", None)).contains("SCREENPLAY_VECTOR_STORE"));
        assert!(err(args("milvus", None)).contains("SCREENPLAY_MILVUS_URL"));
        assert!(err(args("milvus", Some("grpc://x:1"))).contains("SCREENPLAY_MILVUS_URL"));
        let mut bad = args("milvus", Some("http://x:1"));
        bad.milvus_collection = "1-bad".into();
        assert!(err(bad).contains("SCREENPLAY_MILVUS_COLLECTION"));
        let mut bad = args("milvus", Some("http://x:1"));
        bad.milvus_index = "DISKANN".into();
        assert!(err(bad).contains("SCREENPLAY_MILVUS_INDEX"));
        let mut bad = args("milvus", Some("http://x:1"));
        bad.milvus_index_params = Some("M=16,ef".into());
        assert!(err(bad).contains("SCREENPLAY_MILVUS_INDEX_PARAMS"));
        let mut bad = args("pgvector", None);
        bad.resident_vectors_mb = 100_000;
        assert!(err(bad).contains("SCREENPLAY_RESIDENT_VECTORS_MB"));
        assert_eq!(args("pgvector", None).config().unwrap().resident_bytes, 256 << 20);
    }
}
