//! What every request can reach: configuration, database, token keys.

use std::sync::Arc;

use crate::{
    auth::jwt::{JwtIssuer, JwtVerifier},
    config::Config,
    db::Db,
    events::EventHub,
    middleware::{audit::AuditSink, persisted::PersistedQueryStore, rate_limit::RateLimiter},
};

/// Shared server state, held in the GraphQL schema data and the router.
pub struct AppState {
    pub config: Config,
    pub db: Db,
    pub verifier: JwtVerifier,
    pub issuer: JwtIssuer,
    /// Audit rows and request counters on their way to the database.
    pub audit: AuditSink,
    pub rate_limiter: RateLimiter,
    pub persisted: Arc<PersistedQueryStore>,
    /// Live session events (LISTEN/NOTIFY) for subscriptions.
    pub events: EventHub,
}

/// Cloned into every handler.
pub type SharedState = Arc<AppState>;
