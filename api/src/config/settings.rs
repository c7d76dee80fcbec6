//! The validated configuration the server runs with.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use ipnet::IpNet;

use super::{database::DatabaseArgs, limits::RoleLimits, schedule::ScheduleConfig, secret::Secret};

/// Validated server configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    /// Where the database is; unset URL: the local development database.
    pub database: DatabaseArgs,
    /// Statement and lock timeouts, and each tenant's share of the pool.
    pub fairness: FairnessConfig,
    /// Apply pending migrations at start.
    pub migrate: bool,
    /// Audit rows, usage counters and rate limits on.
    pub audit_enabled: bool,
    pub persisted: PersistedConfig,
    pub auth: AuthConfig,
    pub login: LoginConfig,
    pub limits: LimitsConfig,
    pub http: HttpConfig,
    /// LISTEN connection for live subscriptions; `None`: the server's DATABASE_URL.
    pub listen_database_url: Option<Secret<String>>,
    pub metrics_token: Option<Secret<String>>,
    /// The maintenance scheduler's plan, when it is on.
    pub maintenance_schedule: Option<ScheduleConfig>,
    pub embedding: EmbeddingConfig,
    pub ingest: IngestConfig,
    pub chunking: ChunkingConfig,
    /// The reranker `searchDocuments(input: {rerank: true})` uses, if any.
    pub rerank: Option<RerankConfig>,
    /// Where vectors are searched, and the Milvus mirror when there is one.
    pub vectors: super::vectors::VectorStoreConfig,
}

/// How long one request's statements may take and how much of the pool
/// one tenant may hold, so that one slow or blocked tenant cannot take the
/// server from the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FairnessConfig {
    /// PostgreSQL `statement_timeout` of request transactions (below the request timeout).
    pub statement_timeout: Duration,
    /// PostgreSQL `lock_timeout` of request transactions (at most the statement timeout).
    pub lock_timeout: Duration,
    /// Pool connections one tenant's requests may hold at once.
    pub tenant_max_connections: u32,
    /// How long a request beyond its tenant's share waits for a connection.
    pub tenant_wait: Duration,
}

/// Persisted queries.
#[derive(Debug, Clone)]
pub struct PersistedConfig {
    /// Automatic Persisted Queries (register on first use).
    pub apq: bool,
    pub manifest: Option<PathBuf>,
    /// Only manifest operations are accepted.
    pub only: bool,
    /// Largest query APQ registers.
    pub max_query_bytes: usize,
    /// What all registered queries may hold together.
    pub cache_bytes: usize,
}

impl Default for PersistedConfig {
    fn default() -> Self {
        Self {
            apq: true,
            manifest: None,
            only: false,
            max_query_bytes: 8 * 1024,
            cache_bytes: 8 * 1024 * 1024,
        }
    }
}

/// The embedding provider, validated.
#[derive(Debug, Clone, PartialEq)]
pub enum EmbeddingConfig {
    /// The built-in, offline, lexical embedder (hashed character n-grams).
    Lexical,
    /// An OpenAI-compatible `/v1/embeddings` endpoint.
    Http(HttpEmbeddingConfig),
}

#[derive(Debug, Clone, PartialEq)]
pub struct HttpEmbeddingConfig {
    /// The full endpoint, `<base>/embeddings` (with `?api-version=` for Azure).
    pub endpoint: url::Url,
    /// OpenAI's protocol, or Azure OpenAI's (`api-key` header, no `model` in the body).
    pub flavor: ProviderFlavor,
    pub model: String,
    pub api_key: Option<Secret<String>>,
    pub dimensions: Option<usize>,
    pub batch_size: usize,
    pub timeout: Duration,
    pub max_retries: u32,
}

/// How documents are cut into chunks when a call does not say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkingConfig {
    pub tokenizer: TokenizerSetting,
    /// The embedding model's input limit in tokens; `None`: what the
    /// tokenizer file declares, else 8191 (tiktoken) or 512 (tokenizer.json).
    pub model_max_tokens: Option<usize>,
    /// Chunk size in tokens (capped at the model's limit).
    pub max_tokens: usize,
    pub overlap_tokens: usize,
}

impl Default for ChunkingConfig {
    fn default() -> Self {
        Self {
            tokenizer: TokenizerSetting::Auto,
            model_max_tokens: None,
            max_tokens: 512,
            overlap_tokens: 64,
        }
    }
}

/// Which tokenizer sizes chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenizerSetting {
    /// The tiktoken encoding of an OpenAI model, else characters.
    Auto,
    /// Characters (the fallback for models without a known tokenizer).
    Chars,
    /// A tiktoken encoding: `cl100k_base`, `o200k_base`…
    Tiktoken(String),
    /// A HuggingFace `tokenizer.json`.
    File(PathBuf),
}

/// A reranker speaking the `/rerank` API (Jina, Cohere, vLLM).
#[derive(Debug, Clone, PartialEq)]
pub struct RerankConfig {
    /// The full endpoint, `<base>/rerank`.
    pub endpoint: url::Url,
    pub model: String,
    pub api_key: Option<Secret<String>>,
    pub timeout: Duration,
    pub max_retries: u32,
    /// Fused candidates sent to the reranker per search.
    pub candidates: u32,
}

/// Which dialect of the embeddings API a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ProviderFlavor {
    /// OpenAI and compatible servers (vLLM, Ollama, TEI, gateways): a
    /// bearer key, the model named in the body.
    #[default]
    Openai,
    /// Azure OpenAI: the deployment in the URL, `api-version` in the query,
    /// the key in an `api-key` header.
    Azure,
}

/// Limits of one ingest call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestConfig {
    pub max_documents: usize,
    pub max_chunks: usize,
    /// How long an indexing worker's claim on a job lasts unrenewed.
    pub indexing_lease: Duration,
    /// Claims of a job before an unavailable provider fails it.
    pub indexing_max_attempts: u32,
    /// Jobs this instance works at once (0: none).
    pub indexing_workers: u32,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            max_documents: 100,
            max_chunks: 2000,
            indexing_lease: Duration::from_secs(30),
            indexing_max_attempts: 5,
            indexing_workers: 1,
        }
    }
}

/// The dimension of `code_documents.embedding`.
pub const EMBEDDING_DIMENSIONS: usize = 1536;

/// How tokens are verified and issued.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub jwt_secret: Option<Secret<String>>,
    /// An external identity provider's keys and claims.
    pub idp: IdpConfig,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// The longest a platform admin's token may be valid for.
    pub platform_token_max_ttl: Duration,
}

/// Sign-in: password hashing capacity and attempt limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoginConfig {
    /// Password-hashing threads (0: one per core).
    pub hashing_threads: usize,
    /// Password hashes that may wait for a thread (0: 16 per thread).
    pub hashing_queue: usize,
    pub limits: LoginLimits,
}

/// Sign-in attempts a minute (successful or not), counted before any
/// password is hashed; unknown tenants and accounts count the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    pub per_client: u32,
    pub per_tenant: u32,
    pub per_account: u32,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            per_client: 30,
            per_tenant: 600,
            per_account: 10,
        }
    }
}

/// An external identity provider: where its keys are and where its tokens
/// keep tenant, role and subject. Our own HS256 tokens are not affected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpConfig {
    /// A PEM public key file.
    pub public_key: Option<PathBuf>,
    /// A JWKS file path or URL.
    pub jwks: Option<String>,
    /// How often the JWKS is refetched in the background.
    pub jwks_refresh: Duration,
    pub claims: ClaimMapping,
}

impl Default for IdpConfig {
    fn default() -> Self {
        Self {
            public_key: None,
            jwks: None,
            jwks_refresh: Duration::from_secs(600),
            claims: ClaimMapping::default(),
        }
    }
}

/// Where an identity provider's token keeps what we need, as RFC 6901 JSON
/// pointers into its claims (checked for syntax), and how its role values
/// become ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimMapping {
    pub tenant: String,
    pub role: String,
    pub subject: String,
    /// `(provider value, our role name)` pairs; `None`: our role names are
    /// taken as they are. Role names are checked where roles live (`auth`).
    pub role_map: Option<Vec<(String, String)>>,
}

impl Default for ClaimMapping {
    fn default() -> Self {
        Self {
            tenant: "/tid".into(),
            role: "/role".into(),
            subject: "/sub".into(),
            role_map: None,
        }
    }
}

/// Query limits.
#[derive(Debug, Clone)]
pub struct LimitsConfig {
    /// What one operation may cost, per kind of caller.
    pub roles: RoleLimits,
    pub max_page_size: usize,
    pub introspection: bool,
    /// "Did you mean …?" in validation errors.
    pub suggestions: bool,
}

/// Which browser origins may call the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsPolicy {
    /// Exactly these (`*`: any); none when empty.
    Origins(Vec<String>),
    /// `http://localhost:<any port>` and `http://127.0.0.1:<any port>`.
    Localhost,
}

/// HTTP surface settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub body_limit: usize,
    /// Body limit of requests without a valid token.
    pub anon_body_limit: usize,
    pub request_timeout: Duration,
    pub graphiql: bool,
    pub cors: CorsPolicy,
    pub trusted_proxies: Vec<IpNet>,
    pub shutdown_grace: Duration,
    /// How often a subscription re-checks its caller.
    pub subscription_recheck: Duration,
    /// Operations (subscriptions included) one websocket may have in flight.
    pub ws_max_operations: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            roles: RoleLimits::default(),
            max_page_size: 100,
            introspection: true,
            suggestions: true,
        }
    }
}
