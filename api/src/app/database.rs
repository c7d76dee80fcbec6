//! Which database a command works on: `DATABASE_URL`, or the local
//! development database (installed and started as needed); migrations,
//! the pool, and the local signing secret.

use std::{path::PathBuf, sync::Arc};

use anyhow::Context;

use crate::{
    config::{DatabaseArgs, JwtArgs, Secret},
    db::{Db, PoolOptions, Replicas, local::LocalDb, migrate_up},
};

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

/// May resolving make a new local database, or only find one?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Local {
    /// `serve`, `db start`, `migrate`: install and initialise as needed.
    Create,
    /// Every other command: use the project's database, found from the
    /// current folder upwards, or say where to look.
    Existing,
}

/// `DATABASE_URL` when set; otherwise the local development database,
/// started (and, with [`Local::Create`], installed) as needed.
pub async fn resolve_database(args: &DatabaseArgs, local: Local) -> anyhow::Result<ResolvedDatabase> {
    if let Some(url) = &args.database_url {
        let migration_url = args.migration_database_url.clone().unwrap_or_else(|| url.clone());
        return Ok(ResolvedDatabase {
            app_url: url.clone(),
            migration_url,
            local_home: None,
        });
    }
    let db = LocalDb::new(args.home.clone(), args.db_port)?;
    if local == Local::Existing && !db.exists() {
        let here = std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_default();
        anyhow::bail!(
            "no local development database in {here} or any folder above it: run this command inside the \
             project where `screenplay serve` made one, pass `--home <folder>` (the folder `serve` printed), \
             or set DATABASE_URL"
        );
    }
    let urls = db.start().await?;
    let local = db;
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
            read_only: false,
        },
    )
    .await?;
    let role = db.check_login_role().await?;
    if role.bypasses_rls() {
        tracing::warn!(
            role = %role.name,
            "DATABASE_URL connects as a role that bypasses row-level security; every tenant transaction \
             switches to screenplay_app. Prefer a dedicated role (see docs/configuration.md, \"Database roles\")"
        );
    }
    Ok(db)
}

/// The streaming replicas of `primary` (`SCREENPLAY_DATABASE_REPLICA_URLS`),
/// connected and watched; `None` when none are configured.
pub async fn replicas(primary: &Db, args: &DatabaseArgs) -> anyhow::Result<Option<Arc<Replicas>>> {
    let urls: Vec<String> = args.replicas()?.iter().map(|u| u.expose().clone()).collect();
    if urls.is_empty() {
        return Ok(None);
    }
    Ok(Some(Replicas::connect(primary, &urls, args.replica_max_lag).await?))
}

/// The database for a one-off command: resolved, migrated when it is the
/// local development database, connected.
pub async fn open_for_command(args: &DatabaseArgs) -> anyhow::Result<(ResolvedDatabase, Db)> {
    let database = resolve_database(args, Local::Existing).await?;
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
