//! The command line and environment: clap's view of the settings, checked
//! and turned into a [`Config`] by [`Config::from_args`].

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::{Context, bail};
use ipnet::IpNet;

use super::{
    cron::Schedule,
    database::DatabaseArgs,
    duration::parse_duration,
    idp::IdpArgs,
    limits::{RoleLimits, Shorthands},
    schedule::ScheduleConfig,
    secret::{Secret, check_signing_secret},
    settings::{
        AuthConfig, ChunkingConfig, Config, CorsPolicy, EMBEDDING_DIMENSIONS, EmbeddingConfig, FairnessConfig,
        HttpConfig, HttpEmbeddingConfig, IngestConfig, LimitsConfig, LoginConfig, LoginLimits, PersistedConfig,
        ProviderFlavor, RerankConfig, TokenizerSetting,
    },
};

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Our own token signing: what the server and `screenplay token issue` share.
#[derive(Debug, Clone, clap::Args)]
pub struct JwtArgs {
    /// HS256 signing secret for access tokens (at least 32 bytes).
    #[arg(long, env = "SCREENPLAY_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<Secret<String>>,

    /// `iss` claim: required on every token when set, and put on tokens we issue.
    #[arg(long, env = "SCREENPLAY_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,

    /// `aud` claim: required on every token when set, and put on tokens we issue.
    #[arg(long, env = "SCREENPLAY_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,

    /// The longest a platform admin's token may be valid for (ours and an
    /// identity provider's alike).
    #[arg(long, env = "SCREENPLAY_PLATFORM_TOKEN_MAX_TTL", default_value = "12h", value_parser = parse_duration)]
    pub platform_token_max_ttl: Duration,
}

/// Everything `screenplay serve` needs beyond the database.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SCREENPLAY_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Do not apply pending migrations at start.
    #[arg(long, env = "SCREENPLAY_NO_MIGRATE")]
    pub no_migrate: bool,

    #[command(flatten)]
    pub jwt: JwtArgs,

    #[command(flatten)]
    pub idp: IdpArgs,

    /// Lifetime of access tokens issued by `login` and `refreshToken`.
    #[arg(long, env = "SCREENPLAY_ACCESS_TOKEN_TTL", default_value = "15m", value_parser = parse_duration)]
    pub access_token_ttl: Duration,

    /// Lifetime of refresh tokens.
    #[arg(long, env = "SCREENPLAY_REFRESH_TOKEN_TTL", default_value = "30d", value_parser = parse_duration)]
    pub refresh_token_ttl: Duration,

    /// Password-hashing threads (default: one per core).
    #[arg(long, env = "SCREENPLAY_PASSWORD_HASHING_THREADS", default_value_t = 0)]
    pub password_hashing_threads: usize,

    /// Password hashes that may wait for a thread; beyond, sign-in answers
    /// RATE_LIMITED at once (default: 16 per thread).
    #[arg(long, env = "SCREENPLAY_PASSWORD_HASHING_QUEUE", default_value_t = 0)]
    pub password_hashing_queue: usize,

    /// Sign-in attempts a minute from one client address.
    #[arg(long, env = "SCREENPLAY_LOGIN_PER_CLIENT_PER_MINUTE", default_value_t = 30)]
    pub login_per_client_per_minute: u32,

    /// Sign-in attempts a minute for one tenant slug (existing or not).
    #[arg(long, env = "SCREENPLAY_LOGIN_PER_TENANT_PER_MINUTE", default_value_t = 600)]
    pub login_per_tenant_per_minute: u32,

    /// Sign-in attempts a minute for one tenant slug and email (existing or not).
    #[arg(long, env = "SCREENPLAY_LOGIN_PER_ACCOUNT_PER_MINUTE", default_value_t = 10)]
    pub login_per_account_per_minute: u32,

    /// Maximum query depth for signed-in callers.
    #[arg(long, env = "SCREENPLAY_MAX_DEPTH", default_value_t = 12)]
    pub max_depth: usize,

    /// Maximum query complexity for signed-in callers.
    #[arg(long, env = "SCREENPLAY_MAX_COMPLEXITY", default_value_t = 50_000)]
    pub max_complexity: usize,

    /// Maximum query depth without a token.
    #[arg(long, env = "SCREENPLAY_ANON_MAX_DEPTH", default_value_t = 6)]
    pub anon_max_depth: usize,

    /// Maximum query complexity without a token.
    #[arg(long, env = "SCREENPLAY_ANON_MAX_COMPLEXITY", default_value_t = 200)]
    pub anon_max_complexity: usize,

    /// Per-role operation limits, JSON (see docs/security.md), e.g.
    /// `{"anonymous": {"max_bytes": 4096}, "agent": {"max_complexity": 20000}}`.
    #[arg(long, env = "SCREENPLAY_LIMITS")]
    pub limits: Option<String>,

    /// Largest page a connection returns (`first` / `last`).
    #[arg(long, env = "SCREENPLAY_MAX_PAGE_SIZE", default_value_t = 100)]
    pub max_page_size: usize,

    /// Request body limit in bytes.
    #[arg(long, env = "SCREENPLAY_BODY_LIMIT", default_value_t = 8 * 1024 * 1024)]
    pub body_limit: usize,

    /// Request body limit in bytes for callers without a valid token.
    #[arg(long, env = "SCREENPLAY_ANON_BODY_LIMIT", default_value_t = 64 * 1024)]
    pub anon_body_limit: usize,

    /// Per-request timeout.
    #[arg(long, env = "SCREENPLAY_REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// Longest one statement may run (PostgreSQL `statement_timeout`, set in
    /// every request's transaction); below the request timeout. Default:
    /// 5/6 of the request timeout (25s of 30s).
    #[arg(long, env = "SCREENPLAY_STATEMENT_TIMEOUT", value_parser = parse_duration)]
    pub statement_timeout: Option<Duration>,

    /// Longest a statement waits for a row or table lock (PostgreSQL
    /// `lock_timeout`); at most the statement timeout. Default: 1/3 of the
    /// request timeout (10s of 30s).
    #[arg(long, env = "SCREENPLAY_LOCK_TIMEOUT", value_parser = parse_duration)]
    pub lock_timeout: Option<Duration>,

    /// Pool connections one tenant's requests may hold at once; a request
    /// beyond waits a moment, then answers RATE_LIMITED. Default (0): half
    /// the pool, at least 1.
    #[arg(long, env = "SCREENPLAY_TENANT_MAX_CONNECTIONS", default_value_t = 0)]
    pub tenant_max_connections: u32,

    /// How long a request beyond its tenant's share waits for one of the
    /// tenant's connections before RATE_LIMITED; below the request timeout.
    /// Default: 1s, or a third of a shorter request timeout.
    #[arg(long, env = "SCREENPLAY_TENANT_WAIT", value_parser = parse_duration)]
    pub tenant_wait: Option<Duration>,

    /// `development` or `production`: production turns GraphiQL,
    /// introspection, field suggestions and the localhost CORS default off
    /// (each can still be turned on by its own setting).
    #[arg(long, env = "SCREENPLAY_ENV", value_enum, default_value_t = Environment::Development)]
    pub env: Environment,

    /// Serve GraphiQL on GET /graphql (default: on in development).
    #[arg(long, env = "SCREENPLAY_GRAPHIQL", action = clap::ArgAction::Set)]
    pub graphiql: Option<bool>,

    /// Answer introspection queries (default: on in development).
    #[arg(long, env = "SCREENPLAY_INTROSPECTION", action = clap::ArgAction::Set)]
    pub introspection: Option<bool>,

    /// Suggest field names in validation errors ("did you mean …?";
    /// default: on in development).
    #[arg(long, env = "SCREENPLAY_SUGGESTIONS", action = clap::ArgAction::Set)]
    pub suggestions: Option<bool>,

    /// Origins allowed by CORS, comma separated (`*` allows any). Unset: in
    /// development `http://localhost:*` and `http://127.0.0.1:*`, in
    /// production none.
    #[arg(long, env = "SCREENPLAY_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// Proxies whose X-Forwarded-For is believed, comma separated IPs or CIDRs.
    #[arg(long, env = "SCREENPLAY_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<IpNet>,

    /// Write audit rows and usage counters and enforce rate limits. Turn off
    /// only to measure what the middleware costs.
    #[arg(long, env = "SCREENPLAY_AUDIT", default_value_t = true, action = clap::ArgAction::Set)]
    pub audit: bool,

    /// Accept Automatic Persisted Queries (Apollo APQ): clients send a hash, and the query once.
    #[arg(long, env = "SCREENPLAY_APQ", default_value_t = true, action = clap::ArgAction::Set)]
    pub apq: bool,

    /// Largest query (bytes) that APQ registers; larger ones still run.
    #[arg(long, env = "SCREENPLAY_APQ_MAX_QUERY_BYTES", default_value_t = 8 * 1024)]
    pub apq_max_query_bytes: usize,

    /// Bytes all APQ-registered queries may hold together (least recently used evicted).
    #[arg(long, env = "SCREENPLAY_APQ_CACHE_BYTES", default_value_t = 8 * 1024 * 1024)]
    pub apq_cache_bytes: usize,

    /// A persisted-query manifest (JSON: {"<sha256>": "<query>", ...} or Apollo's
    /// {"operations": [{"id", "body"}]}) of operations the server knows in advance.
    #[arg(long, env = "SCREENPLAY_PERSISTED_QUERIES")]
    pub persisted_queries: Option<PathBuf>,

    /// Accept only operations of the manifest (by hash or identical text).
    #[arg(long, env = "SCREENPLAY_PERSISTED_ONLY", default_value_t = false, action = clap::ArgAction::Set)]
    pub persisted_only: bool,

    /// Operations (subscriptions included) one websocket may have in flight.
    #[arg(long, env = "SCREENPLAY_WS_MAX_OPERATIONS", default_value_t = 64)]
    pub ws_max_operations: usize,

    /// Seconds to wait for in-flight requests on shutdown.
    #[arg(long, env = "SCREENPLAY_SHUTDOWN_GRACE", default_value = "30s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,

    /// How often a live subscription re-checks its caller in the database
    /// (tenant active, user enabled, role unchanged); a refused caller's
    /// subscription ends with the error.
    #[arg(long, env = "SCREENPLAY_SUBSCRIPTION_RECHECK", default_value = "60s", value_parser = parse_duration)]
    pub subscription_recheck: Duration,

    /// Connection for LISTEN (live subscriptions): a direct PostgreSQL
    /// connection, since PgBouncer in transaction mode cannot LISTEN.
    /// Defaults to DATABASE_URL.
    #[arg(long, env = "SCREENPLAY_LISTEN_DATABASE_URL", hide_env_values = true)]
    pub listen_database_url: Option<Secret<String>>,
    /// Bearer token required on GET /metrics (unset: open).
    #[arg(long, env = "SCREENPLAY_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<Secret<String>>,

    /// Run the built-in maintenance scheduler (vacuum, log cleanup, reindex).
    #[arg(long, env = "SCREENPLAY_MAINTENANCE_SCHEDULE", default_value_t = false, action = clap::ArgAction::Set)]
    pub maintenance_schedule: bool,

    /// When the scheduler runs VACUUM (ANALYZE): cron, UTC.
    #[arg(long, env = "SCREENPLAY_VACUUM_SCHEDULE", default_value = "0 2 * * *")]
    pub vacuum_schedule: Schedule,

    /// When the scheduler removes old logs: cron, UTC.
    #[arg(long, env = "SCREENPLAY_CLEANUP_SCHEDULE", default_value = "0 3 * * 0")]
    pub cleanup_schedule: Schedule,

    /// When the scheduler rebuilds indexes (REINDEX CONCURRENTLY): cron, UTC.
    #[arg(long, env = "SCREENPLAY_REINDEX_SCHEDULE", default_value = "0 4 1 * *")]
    pub reindex_schedule: Schedule,

    /// Days of logs the scheduled cleanup keeps.
    #[arg(long, env = "SCREENPLAY_LOG_RETENTION_DAYS", default_value_t = 90)]
    pub log_retention_days: i32,

    #[command(flatten)]
    pub embedding: EmbeddingArgs,

    #[command(flatten)]
    pub ingest: IngestArgs,

    #[command(flatten)]
    pub rerank: RerankArgs,

    #[command(flatten)]
    pub vectors: super::vectors::VectorStoreArgs,
}

impl ServeArgs {
    /// Parses `screenplay serve` flags (the environment fills the rest), for
    /// servers started from code: tests and benchmarks.
    pub fn parse_flags(flags: &[&str]) -> anyhow::Result<Self> {
        #[derive(clap::Parser)]
        struct Flags {
            #[command(flatten)]
            serve: ServeArgs,
        }
        let args = std::iter::once("serve").chain(flags.iter().copied());
        let matches = without_empty_env(<Flags as clap::CommandFactory>::command()).try_get_matches_from(args)?;
        Ok(<Flags as clap::FromArgMatches>::from_arg_matches(&matches)?.serve)
    }
}

/// `cmd` reading no environment variable that is set but empty: an empty
/// value counts as unset (compose passes `${VAR:-}` through as ""), so the
/// default applies instead of a refusal.
pub fn without_empty_env(mut cmd: clap::Command) -> clap::Command {
    let empty: Vec<clap::Id> = cmd
        .get_arguments()
        .filter(|arg| {
            arg.get_env()
                .is_some_and(|name| std::env::var_os(name).is_some_and(|v| v.is_empty()))
        })
        .map(|arg| arg.get_id().clone())
        .collect();
    for id in empty {
        cmd = cmd.mut_arg(id, |arg| arg.env(None::<&'static str>));
    }
    let subcommands: Vec<String> = cmd.get_subcommands().map(|s| s.get_name().to_owned()).collect();
    for name in subcommands {
        cmd = cmd.mut_subcommand(name, without_empty_env);
    }
    cmd
}

/// The embedding provider: an OpenAI-compatible `/v1/embeddings` endpoint,
/// or, when no URL is set, the built-in offline lexical embedder.
#[derive(Debug, Clone, clap::Args)]
pub struct EmbeddingArgs {
    /// Base URL of an OpenAI-compatible API (e.g. https://api.openai.com/v1,
    /// http://127.0.0.1:11434/v1); requests go to `<url>/embeddings`.
    /// Unset: the built-in lexical embedder.
    #[arg(long, env = "SCREENPLAY_EMBEDDING_URL")]
    pub embedding_url: Option<String>,

    /// The provider's dialect: `openai` (and compatible servers) or `azure`
    /// (Azure OpenAI; the URL is the deployment's,
    /// `https://NAME.openai.azure.com/openai/deployments/DEPLOYMENT`).
    #[arg(long, env = "SCREENPLAY_EMBEDDING_PROVIDER", value_enum, default_value_t = ProviderFlavor::Openai)]
    pub embedding_provider: ProviderFlavor,

    /// Azure OpenAI's `api-version`.
    #[arg(long, env = "SCREENPLAY_EMBEDDING_API_VERSION", default_value = "2024-10-21")]
    pub embedding_api_version: String,

    /// Model name sent to the provider and recorded on every embedded row.
    #[arg(long, env = "SCREENPLAY_EMBEDDING_MODEL")]
    pub embedding_model: Option<String>,

    /// Bearer key for the provider.
    #[arg(long, env = "SCREENPLAY_EMBEDDING_API_KEY", hide_env_values = true)]
    pub embedding_api_key: Option<Secret<String>>,

    /// Output dimensions to request (`dimensions`); at most 1536, shorter
    /// vectors are zero-padded (cosine similarity is unchanged).
    #[arg(long, env = "SCREENPLAY_EMBEDDING_DIMENSIONS")]
    pub embedding_dimensions: Option<usize>,

    /// Texts per provider request.
    #[arg(long, env = "SCREENPLAY_EMBEDDING_BATCH_SIZE", default_value_t = 64)]
    pub embedding_batch_size: usize,

    /// Timeout of one provider request.
    #[arg(long, env = "SCREENPLAY_EMBEDDING_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub embedding_timeout: Duration,

    /// Retries of a request answered 429 or 5xx, or that timed out.
    #[arg(long, env = "SCREENPLAY_EMBEDDING_MAX_RETRIES", default_value_t = 4)]
    pub embedding_max_retries: u32,

    /// What chunk sizes are counted in: `auto` (the tiktoken encoding of an
    /// OpenAI model, else characters), `chars`, a tiktoken encoding
    /// (`cl100k_base`, `o200k_base`) or the path of a `tokenizer.json`.
    #[arg(long, env = "SCREENPLAY_EMBEDDING_TOKENIZER", default_value = "auto")]
    pub embedding_tokenizer: String,

    /// The model's input limit in tokens (default: the tokenizer file's
    /// truncation length, else 8191 for tiktoken, 512 for tokenizer.json).
    #[arg(long, env = "SCREENPLAY_EMBEDDING_MAX_TOKENS")]
    pub embedding_max_tokens: Option<usize>,

    /// Chunk size in tokens when chunks are counted in tokens.
    #[arg(long, env = "SCREENPLAY_CHUNK_TOKENS", default_value_t = 512)]
    pub chunk_tokens: usize,

    /// Tokens repeated from the end of the previous chunk.
    #[arg(long, env = "SCREENPLAY_CHUNK_OVERLAP_TOKENS", default_value_t = 64)]
    pub chunk_overlap_tokens: usize,
}

/// An optional reranker for `searchDocuments(input: {rerank: true})`.
#[derive(Debug, Clone, clap::Args)]
pub struct RerankArgs {
    /// Base URL of a `/rerank` API (Jina, Cohere, vLLM; e.g.
    /// https://api.jina.ai/v1); requests go to `<url>/rerank`. Unset: no reranking.
    #[arg(long, env = "SCREENPLAY_RERANK_URL")]
    pub rerank_url: Option<String>,

    /// Model name sent to the reranker.
    #[arg(long, env = "SCREENPLAY_RERANK_MODEL")]
    pub rerank_model: Option<String>,

    /// Bearer key for the reranker.
    #[arg(long, env = "SCREENPLAY_RERANK_API_KEY", hide_env_values = true)]
    pub rerank_api_key: Option<Secret<String>>,

    /// Timeout of one rerank request.
    #[arg(long, env = "SCREENPLAY_RERANK_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub rerank_timeout: Duration,

    /// Retries of a rerank request answered 429 or 5xx, or that timed out.
    #[arg(long, env = "SCREENPLAY_RERANK_MAX_RETRIES", default_value_t = 2)]
    pub rerank_max_retries: u32,

    /// Fused candidates sent to the reranker per search (at least the search's limit).
    #[arg(long, env = "SCREENPLAY_RERANK_CANDIDATES", default_value_t = 50)]
    pub rerank_candidates: u32,
}

impl RerankArgs {
    /// The reranker, if a URL is set; errors name the variable.
    pub fn config(&self) -> anyhow::Result<Option<RerankConfig>> {
        let Some(url) = self.rerank_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) else {
            if self.rerank_model.is_some() || self.rerank_api_key.is_some() {
                bail!("SCREENPLAY_RERANK_MODEL and SCREENPLAY_RERANK_API_KEY need SCREENPLAY_RERANK_URL");
            }
            return Ok(None);
        };
        let mut endpoint =
            url::Url::parse(url).with_context(|| format!("SCREENPLAY_RERANK_URL: `{url}` is not a URL"))?;
        if !matches!(endpoint.scheme(), "http" | "https") {
            bail!("SCREENPLAY_RERANK_URL must be an http or https URL");
        }
        if !endpoint.path().trim_end_matches('/').ends_with("/rerank") {
            let path = format!("{}/rerank", endpoint.path().trim_end_matches('/'));
            endpoint.set_path(&path);
        }
        let model = self
            .rerank_model
            .clone()
            .filter(|m| !m.trim().is_empty())
            .context("SCREENPLAY_RERANK_MODEL is required with SCREENPLAY_RERANK_URL")?;
        if self.rerank_timeout < Duration::from_millis(100) {
            bail!("SCREENPLAY_RERANK_TIMEOUT must be at least 100ms");
        }
        if self.rerank_max_retries > 10 {
            bail!("SCREENPLAY_RERANK_MAX_RETRIES must be at most 10");
        }
        if !(1..=200).contains(&self.rerank_candidates) {
            bail!("SCREENPLAY_RERANK_CANDIDATES must be between 1 and 200");
        }
        Ok(Some(RerankConfig {
            endpoint,
            model: model.trim().to_owned(),
            api_key: self.rerank_api_key.clone().filter(|k| !k.expose().is_empty()),
            timeout: self.rerank_timeout,
            max_retries: self.rerank_max_retries,
            candidates: self.rerank_candidates,
        }))
    }
}

/// Limits of one `ingestDocuments` call.
#[derive(Debug, Clone, clap::Args)]
pub struct IngestArgs {
    /// Documents accepted by one `ingestDocuments` call.
    #[arg(long, env = "SCREENPLAY_INGEST_BATCH_SIZE", default_value_t = 100)]
    pub ingest_batch_size: usize,

    /// Chunks one `ingestDocuments` call may write (after splitting).
    #[arg(long, env = "SCREENPLAY_INGEST_MAX_CHUNKS", default_value_t = 2000)]
    pub ingest_max_chunks: usize,

    /// How long an indexing worker holds a job without renewing its claim;
    /// a crashed instance's job is taken over after this.
    #[arg(long, env = "SCREENPLAY_INDEXING_LEASE", default_value = "30s", value_parser = parse_duration)]
    pub indexing_lease: Duration,

    /// Indexing jobs this instance works at once; 0 leaves indexing to
    /// other instances (an API-only instance).
    #[arg(long, env = "SCREENPLAY_INDEXING_WORKERS", default_value_t = 1)]
    pub indexing_workers: u32,

    /// Claims of an indexing job before a provider that stays unavailable fails it.
    #[arg(long, env = "SCREENPLAY_INDEXING_MAX_ATTEMPTS", default_value_t = 5)]
    pub indexing_max_attempts: u32,
}

/// Where the server runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Environment {
    Development,
    Production,
}

/// Which origins CORS lets in: the configured ones, else (in development)
/// any port of localhost.
fn cors_policy(origins: Vec<String>, development: bool) -> CorsPolicy {
    let origins: Vec<String> = origins.into_iter().filter(|o| !o.trim().is_empty()).collect();
    match (origins.is_empty(), development) {
        (false, _) => CorsPolicy::Origins(origins),
        (true, true) => CorsPolicy::Localhost,
        (true, false) => CorsPolicy::Origins(Vec::new()),
    }
}

impl EmbeddingArgs {
    /// The default chunking; errors name the variable.
    pub fn chunking(&self) -> anyhow::Result<ChunkingConfig> {
        let tokenizer = match self.embedding_tokenizer.trim() {
            "" | "auto" => TokenizerSetting::Auto,
            "chars" => TokenizerSetting::Chars,
            name if name.ends_with(".json") || name.contains(['/', '\\']) => TokenizerSetting::File(name.into()),
            name => TokenizerSetting::Tiktoken(name.to_owned()),
        };
        if self
            .embedding_max_tokens
            .is_some_and(|n| !(16..=1_000_000).contains(&n))
        {
            bail!("SCREENPLAY_EMBEDDING_MAX_TOKENS must be between 16 and 1000000");
        }
        if !(16..=1_000_000).contains(&self.chunk_tokens) {
            bail!("SCREENPLAY_CHUNK_TOKENS must be between 16 and 1000000");
        }
        if self.chunk_overlap_tokens * 2 > self.chunk_tokens {
            bail!("SCREENPLAY_CHUNK_OVERLAP_TOKENS must be at most half of SCREENPLAY_CHUNK_TOKENS");
        }
        Ok(ChunkingConfig {
            tokenizer,
            model_max_tokens: self.embedding_max_tokens,
            max_tokens: self.chunk_tokens,
            overlap_tokens: self.chunk_overlap_tokens,
        })
    }

    /// Checks the provider settings; errors name the variable.
    pub fn config(&self) -> anyhow::Result<EmbeddingConfig> {
        let Some(url) = self.embedding_url.as_deref().filter(|u| !u.trim().is_empty()) else {
            if self.embedding_model.is_some() || self.embedding_api_key.is_some() {
                bail!("SCREENPLAY_EMBEDDING_MODEL and SCREENPLAY_EMBEDDING_API_KEY need SCREENPLAY_EMBEDDING_URL");
            }
            return Ok(EmbeddingConfig::Lexical);
        };
        let mut endpoint =
            url::Url::parse(url.trim()).with_context(|| format!("SCREENPLAY_EMBEDDING_URL: `{url}` is not a URL"))?;
        if !matches!(endpoint.scheme(), "http" | "https") {
            bail!("SCREENPLAY_EMBEDDING_URL must be an http or https URL");
        }
        if !endpoint.path().trim_end_matches('/').ends_with("/embeddings") {
            let path = format!("{}/embeddings", endpoint.path().trim_end_matches('/'));
            endpoint.set_path(&path);
        }
        if self.embedding_provider == ProviderFlavor::Azure {
            let version = self.embedding_api_version.trim();
            if version.is_empty() || !version.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                bail!("SCREENPLAY_EMBEDDING_API_VERSION must be an Azure api-version such as 2024-10-21");
            }
            if !endpoint.path().contains("/deployments/") {
                bail!(
                    "SCREENPLAY_EMBEDDING_URL must be an Azure deployment URL \
                     (https://NAME.openai.azure.com/openai/deployments/DEPLOYMENT)"
                );
            }
            endpoint.query_pairs_mut().append_pair("api-version", version);
        }
        let model = self
            .embedding_model
            .clone()
            .filter(|m| !m.trim().is_empty())
            .context("SCREENPLAY_EMBEDDING_MODEL is required with SCREENPLAY_EMBEDDING_URL")?;
        if let Some(d) = self.embedding_dimensions
            && (d == 0 || d > EMBEDDING_DIMENSIONS)
        {
            bail!("SCREENPLAY_EMBEDDING_DIMENSIONS must be between 1 and {EMBEDDING_DIMENSIONS}");
        }
        if self.embedding_batch_size == 0 || self.embedding_batch_size > 2048 {
            bail!("SCREENPLAY_EMBEDDING_BATCH_SIZE must be between 1 and 2048");
        }
        if self.embedding_timeout < Duration::from_millis(100) {
            bail!("SCREENPLAY_EMBEDDING_TIMEOUT must be at least 100ms");
        }
        if self.embedding_max_retries > 20 {
            bail!("SCREENPLAY_EMBEDDING_MAX_RETRIES must be at most 20");
        }
        Ok(EmbeddingConfig::Http(HttpEmbeddingConfig {
            endpoint,
            flavor: self.embedding_provider,
            model: model.trim().to_owned(),
            api_key: self.embedding_api_key.clone().filter(|k| !k.expose().is_empty()),
            dimensions: self.embedding_dimensions,
            batch_size: self.embedding_batch_size,
            timeout: self.embedding_timeout,
            max_retries: self.embedding_max_retries,
        }))
    }
}

impl IngestArgs {
    pub fn config(&self) -> anyhow::Result<IngestConfig> {
        if self.ingest_batch_size == 0 || self.ingest_batch_size > 10_000 {
            bail!("SCREENPLAY_INGEST_BATCH_SIZE must be between 1 and 10000");
        }
        if self.ingest_max_chunks == 0 || self.ingest_max_chunks > 100_000 {
            bail!("SCREENPLAY_INGEST_MAX_CHUNKS must be between 1 and 100000");
        }
        if self.indexing_lease < Duration::from_secs(1) || self.indexing_lease > Duration::from_secs(3600) {
            bail!("SCREENPLAY_INDEXING_LEASE must be between 1s and 1h");
        }
        if self.indexing_workers > 64 {
            bail!("SCREENPLAY_INDEXING_WORKERS must be at most 64");
        }
        if !(1..=100).contains(&self.indexing_max_attempts) {
            bail!("SCREENPLAY_INDEXING_MAX_ATTEMPTS must be between 1 and 100");
        }
        Ok(IngestConfig {
            max_documents: self.ingest_batch_size,
            max_chunks: self.ingest_max_chunks,
            indexing_lease: self.indexing_lease,
            indexing_workers: self.indexing_workers,
            indexing_max_attempts: self.indexing_max_attempts,
        })
    }
}

impl JwtArgs {
    /// Rejects a secret someone could guess (see [`check_signing_secret`]).
    pub fn check(&self) -> anyhow::Result<()> {
        match &self.jwt_secret {
            Some(secret) => check_signing_secret("SCREENPLAY_JWT_SECRET", secret.expose()),
            None => Ok(()),
        }
    }
}

impl ServeArgs {
    /// The checks that need no other input; errors name the variable.
    fn check(&self) -> anyhow::Result<()> {
        self.jwt.check()?;
        if self.jwt.platform_token_max_ttl < Duration::from_secs(60) {
            bail!("SCREENPLAY_PLATFORM_TOKEN_MAX_TTL must be at least 1m");
        }
        if self.max_page_size == 0 || self.max_page_size > 10_000 {
            bail!("SCREENPLAY_MAX_PAGE_SIZE must be between 1 and 10000");
        }
        if self.access_token_ttl < Duration::from_secs(30) {
            bail!("SCREENPLAY_ACCESS_TOKEN_TTL must be at least 30s");
        }
        if self.subscription_recheck < Duration::from_secs(1) {
            bail!("SCREENPLAY_SUBSCRIPTION_RECHECK must be at least 1s");
        }
        if self.refresh_token_ttl <= self.access_token_ttl {
            bail!("SCREENPLAY_REFRESH_TOKEN_TTL must be longer than SCREENPLAY_ACCESS_TOKEN_TTL");
        }
        if self.log_retention_days < 1 {
            bail!("SCREENPLAY_LOG_RETENTION_DAYS must be at least 1");
        }
        if let Some(token) = &self.metrics_token
            && token.expose().len() < 16
        {
            bail!("SCREENPLAY_METRICS_TOKEN must be at least 16 characters");
        }
        for origin in &self.cors_origins {
            if origin != "*" && !origin.is_empty() {
                url::Url::parse(origin)
                    .with_context(|| format!("SCREENPLAY_CORS_ORIGINS: `{origin}` is not an origin"))?;
            }
        }
        if self.persisted_only && self.persisted_queries.is_none() {
            bail!("SCREENPLAY_PERSISTED_ONLY needs SCREENPLAY_PERSISTED_QUERIES (the manifest of allowed operations)");
        }
        Ok(())
    }
}

impl ServeArgs {
    /// Statement and lock timeouts inside the request timeout, and the
    /// per-tenant share of the pool; errors name the variables.
    fn fairness(&self, pool_size: u32) -> anyhow::Result<FairnessConfig> {
        let request = self.request_timeout;
        if request < Duration::from_millis(100) {
            bail!("SCREENPLAY_REQUEST_TIMEOUT must be at least 100ms");
        }
        let statement = self.statement_timeout.unwrap_or(request * 5 / 6);
        let lock = self.lock_timeout.unwrap_or(request / 3).min(statement);
        if statement.is_zero() || statement >= request {
            bail!(
                "SCREENPLAY_STATEMENT_TIMEOUT ({statement:?}) must be above 0 and below SCREENPLAY_REQUEST_TIMEOUT \
                 ({request:?}), so a slow statement is stopped before its request is answered"
            );
        }
        if let Some(explicit) = self.lock_timeout
            && (explicit.is_zero() || explicit > statement)
        {
            bail!(
                "SCREENPLAY_LOCK_TIMEOUT ({explicit:?}) must be above 0 and at most SCREENPLAY_STATEMENT_TIMEOUT \
                 ({statement:?})"
            );
        }
        if statement < Duration::from_millis(1) || lock < Duration::from_millis(1) {
            bail!("SCREENPLAY_STATEMENT_TIMEOUT and SCREENPLAY_LOCK_TIMEOUT must be at least 1ms");
        }
        if self.tenant_max_connections > pool_size {
            bail!(
                "SCREENPLAY_TENANT_MAX_CONNECTIONS ({}) must be at most SCREENPLAY_DB_POOL_SIZE ({pool_size})",
                self.tenant_max_connections
            );
        }
        let tenant_wait = self.tenant_wait.unwrap_or((request / 3).min(Duration::from_secs(1)));
        if tenant_wait >= request {
            bail!("SCREENPLAY_TENANT_WAIT ({tenant_wait:?}) must be below SCREENPLAY_REQUEST_TIMEOUT ({request:?})");
        }
        let tenant_max_connections = match self.tenant_max_connections {
            0 => (pool_size / 2).max(1),
            n => n,
        };
        Ok(FairnessConfig {
            statement_timeout: statement,
            lock_timeout: lock,
            tenant_max_connections,
            tenant_wait,
        })
    }
}

impl Config {
    /// Checks the arguments and builds the configuration; errors name the variable.
    pub fn from_args(args: ServeArgs, database: DatabaseArgs) -> anyhow::Result<Self> {
        let development = args.env == Environment::Development;
        args.check()?;
        let fairness = args.fairness(database.pool_size)?;
        let idp = args.idp.config()?;
        let embedding = args.embedding.config()?;
        let ingest = args.ingest.config()?;
        let chunking = args.embedding.chunking()?;
        let rerank = args.rerank.config()?;
        let vectors = args.vectors.config()?;
        let roles = RoleLimits::configure(
            Shorthands {
                max_depth: args.max_depth,
                max_complexity: args.max_complexity,
                anon_max_depth: args.anon_max_depth,
                anon_max_complexity: args.anon_max_complexity,
            },
            args.limits.as_deref(),
        )?;
        Ok(Self {
            bind: args.bind,
            database,
            fairness,
            migrate: !args.no_migrate,
            embedding,
            ingest,
            chunking,
            rerank,
            vectors,
            audit_enabled: args.audit,
            persisted: PersistedConfig {
                apq: args.apq,
                manifest: args.persisted_queries,
                only: args.persisted_only,
                max_query_bytes: args.apq_max_query_bytes,
                cache_bytes: args.apq_cache_bytes,
            },
            auth: AuthConfig {
                jwt_secret: args.jwt.jwt_secret,
                idp,
                issuer: args.jwt.jwt_issuer,
                audience: args.jwt.jwt_audience,
                access_token_ttl: args.access_token_ttl,
                refresh_token_ttl: args.refresh_token_ttl,
                platform_token_max_ttl: args.jwt.platform_token_max_ttl,
            },
            login: LoginConfig {
                hashing_threads: args.password_hashing_threads,
                hashing_queue: args.password_hashing_queue,
                limits: LoginLimits {
                    per_client: args.login_per_client_per_minute.max(1),
                    per_tenant: args.login_per_tenant_per_minute.max(1),
                    per_account: args.login_per_account_per_minute.max(1),
                },
            },
            limits: LimitsConfig {
                roles,
                max_page_size: args.max_page_size,
                introspection: args.introspection.unwrap_or(development),
                suggestions: args.suggestions.unwrap_or(development),
            },
            http: HttpConfig {
                body_limit: args.body_limit,
                anon_body_limit: args.anon_body_limit.min(args.body_limit),
                request_timeout: args.request_timeout,
                graphiql: args.graphiql.unwrap_or(development),
                cors: cors_policy(args.cors_origins, development),
                trusted_proxies: args.trusted_proxies,
                shutdown_grace: args.shutdown_grace,
                subscription_recheck: args.subscription_recheck,
                ws_max_operations: args.ws_max_operations.max(1),
            },
            listen_database_url: args.listen_database_url,
            metrics_token: args.metrics_token,
            maintenance_schedule: args.maintenance_schedule.then_some(ScheduleConfig {
                vacuum: args.vacuum_schedule,
                cleanup: args.cleanup_schedule,
                reindex: args.reindex_schedule,
                retention_days: args.log_retention_days,
            }),
        })
    }
}
