//! Where the database is and how to reach it.

use std::path::PathBuf;

use super::secret::Secret;

/// Where the database is and how to reach it.
#[derive(Debug, Clone, clap::Args)]
pub struct DatabaseArgs {
    /// The server's connection (the app role, under row-level security).
    /// Unset: a local development database is started and used.
    #[arg(long, global = true, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<Secret<String>>,

    /// Connection used for migrations (the schema owner). Defaults to DATABASE_URL.
    #[arg(
        long,
        global = true,
        env = "SCREENPLAY_MIGRATION_DATABASE_URL",
        hide_env_values = true
    )]
    pub migration_database_url: Option<Secret<String>>,

    /// Folder of the local development database (installation and data).
    #[arg(long, global = true, env = "SCREENPLAY_HOME")]
    pub home: Option<PathBuf>,

    /// TCP port of the local development database.
    #[arg(long, global = true, env = "SCREENPLAY_DB_PORT", default_value_t = 54329)]
    pub db_port: u16,

    /// Maximum connections in the server's pool.
    #[arg(long, global = true, env = "SCREENPLAY_DB_POOL_SIZE", default_value_t = 16)]
    pub pool_size: u32,

    /// Connect through PgBouncer in transaction mode: no named prepared statements.
    #[arg(long, global = true, env = "SCREENPLAY_DB_PGBOUNCER", default_value_t = false)]
    pub pgbouncer: bool,
}

impl DatabaseArgs {
    /// A database given by URL: the app role's and the schema owner's
    /// (tests and benchmarks).
    pub fn at(app_url: &str, migration_url: Option<&str>) -> Self {
        Self {
            database_url: Some(Secret::new(app_url.to_owned())),
            migration_database_url: migration_url.map(|u| Secret::new(u.to_owned())),
            home: None,
            db_port: 0,
            pool_size: 16,
            pgbouncer: false,
        }
    }
}
