//! From configuration to a running state: which database, migrations, the
//! pool, the token keys.

use std::{path::PathBuf, sync::Arc};

use anyhow::Context;

use crate::{
    auth::jwt::{JwtIssuer, JwtVerifier},
    config::{Config, DatabaseArgs, JwtArgs, Secret},
    db::{Db, PoolOptions, migrate_up},
    events::EventHub,
    localdb::LocalDb,
    middleware::{audit::AuditSink, persisted::PersistedQueryStore, rate_limit::RateLimiter},
    state::{AppState, SharedState},
};

/// Installs the process-wide TLS provider (ring) used by every client we
/// open: database, JWKS, embedding providers. Idempotent.
pub fn init_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The database a command works on.
pub struct ResolvedDatabase {
    /// The server's connection (app role).
    pub app_url: Secret<String>,
    /// The schema owner's connection.
    pub migration_url: Secret<String>,
    /// Set when the local development database is in use.
    pub local_home: Option<PathBuf>,
}

impl ResolvedDatabase {
    pub fn is_local(&self) -> bool {
        self.local_home.is_some()
    }
}

/// `DATABASE_URL` when set; otherwise the local development database,
/// started (and installed) as needed.
pub async fn resolve_database(args: &DatabaseArgs) -> anyhow::Result<ResolvedDatabase> {
    if let Some(url) = &args.database_url {
        let migration_url = args.migration_database_url.clone().unwrap_or_else(|| url.clone());
        return Ok(ResolvedDatabase {
            app_url: url.clone(),
            migration_url,
            local_home: None,
        });
    }
    let local = LocalDb::new(args.home.clone(), args.db_port)?;
    let urls = local.start().await?;
    Ok(ResolvedDatabase {
        app_url: Secret::new(urls.app),
        migration_url: Secret::new(urls.owner),
        local_home: Some(local.home().to_path_buf()),
    })
}

/// Applies pending migrations.
pub async fn migrate(database: &ResolvedDatabase) -> anyhow::Result<()> {
    migrate_up(database.migration_url.expose()).await
}

/// Opens the pool and checks the login role against row-level security.
pub async fn connect(database: &ResolvedDatabase, args: &DatabaseArgs) -> anyhow::Result<Db> {
    let mut db = Db::connect(
        database.app_url.expose(),
        &PoolOptions {
            max_connections: args.pool_size,
            pgbouncer: args.pgbouncer,
            application_name: "screenplay".into(),
        },
    )
    .await?;
    let role = db.check_login_role().await?;
    if role.bypasses_rls() {
        tracing::warn!(
            role = %role.name,
            "DATABASE_URL connects as a role that bypasses row-level security; every tenant transaction \
             switches to screenplay_app. Prefer a dedicated role (see README, \"Database roles\")"
        );
    }
    Ok(db)
}

/// The database for a one-off command: resolved, migrated when it is the
/// local development database, connected.
pub async fn open_for_command(args: &DatabaseArgs) -> anyhow::Result<(ResolvedDatabase, Db)> {
    let database = resolve_database(args).await?;
    if database.is_local() {
        migrate(&database).await?;
    }
    let db = connect(&database, args).await?;
    Ok((database, db))
}

/// The signing secret: configured, or the local database's own.
pub fn signing_secret(jwt: &JwtArgs, database: &ResolvedDatabase) -> anyhow::Result<Secret<String>> {
    jwt.check()?;
    if let Some(secret) = &jwt.jwt_secret {
        return Ok(secret.clone());
    }
    match &database.local_home {
        Some(home) => Ok(Secret::new(local_jwt_secret(home)?)),
        None => anyhow::bail!("set SCREENPLAY_JWT_SECRET (the server's signing secret)"),
    }
}

/// Builds the shared state. In local development without a configured
/// secret, a signing secret is created once in the database home.
pub async fn build_state(mut config: Config, db: Db, database: &ResolvedDatabase) -> anyhow::Result<SharedState> {
    if config.auth.jwt_secret.is_none()
        && let Some(home) = &database.local_home
    {
        config.auth.jwt_secret = Some(Secret::new(local_jwt_secret(home)?));
    }
    if config.auth.jwt_secret.is_none() && config.auth.jwt_public_key.is_none() && config.auth.jwt_jwks.is_none() {
        anyhow::bail!(
            "no token keys: set SCREENPLAY_JWT_SECRET (and/or SCREENPLAY_JWT_PUBLIC_KEY or SCREENPLAY_JWT_JWKS)"
        );
    }
    let verifier = JwtVerifier::from_config(&config.auth).await?;
    let issuer = JwtIssuer::from_config(&config.auth);
    let persisted = Arc::new(PersistedQueryStore::load(&config.persisted)?);
    let audit = AuditSink::start(db.clone(), config.audit_enabled);
    let events = EventHub::new(
        config
            .listen_database_url
            .clone()
            .unwrap_or_else(|| database.app_url.clone()),
    );
    let embedder = crate::embedding::from_config(&config.embedding)?;
    tracing::info!(model = embedder.model(), "embedding provider");
    Ok(Arc::new(AppState {
        config,
        db,
        verifier,
        issuer,
        audit,
        rate_limiter: RateLimiter::default(),
        persisted,
        events,
        embedder,
        vectors: Arc::new(crate::search::PgVectorStore),
    }))
}

/// The local database's signing secret, created on first use (mode 0600).
pub fn local_jwt_secret(home: &std::path::Path) -> anyhow::Result<String> {
    use std::os::unix::fs::PermissionsExt;
    let path = home.join("jwt-secret");
    if let Ok(secret) = std::fs::read_to_string(&path)
        && secret.trim().len() >= 32
    {
        return Ok(secret.trim().to_owned());
    }
    let bytes: [u8; 48] = rand::random();
    let secret = hex::encode(bytes);
    std::fs::write(&path, &secret).with_context(|| format!("writing {}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(secret)
}
