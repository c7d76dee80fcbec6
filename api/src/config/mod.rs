//! Configuration: one typed struct per concern, read from flags and the
//! environment by clap (`args`), validated once at start into [`Config`]
//! (`settings`). Secrets are wrapped in [`Secret`] so they never reach a
//! log line.

mod args;
pub mod cron;
mod database;
mod duration;
mod idp;
mod limits;
mod schedule;
mod secret;
mod settings;
mod vectors;

pub use args::{EmbeddingArgs, Environment, IngestArgs, JwtArgs, LogFormat, RerankArgs, ServeArgs, without_empty_env};
pub use database::DatabaseArgs;
pub use duration::parse_duration;
pub use idp::IdpArgs;
pub use limits::{OperationLimits, RoleLimits, Shorthands};
pub use schedule::ScheduleConfig;
pub use secret::Secret;
pub use settings::{
    AuthConfig, ChunkingConfig, ClaimMapping, Config, CorsPolicy, EMBEDDING_DIMENSIONS, EmbeddingConfig,
    FairnessConfig, HttpConfig, HttpEmbeddingConfig, IdpConfig, IngestConfig, LimitsConfig, LoginConfig, LoginLimits,
    PersistedConfig, ProviderFlavor, RerankConfig, TokenizerSetting,
};
pub use vectors::{MilvusConfig, MilvusIndex, StoreKind, VectorStoreArgs, VectorStoreConfig};
