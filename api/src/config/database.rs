//! Where the database is and how to reach it.

use std::{path::PathBuf, time::Duration};

use super::{duration::parse_duration, secret::Secret};

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

    /// Streaming replicas (hot standbys of DATABASE_URL's primary) for
    /// read-only operations, comma-separated; same role and password rules.
    #[arg(
        long,
        global = true,
        env = "SCREENPLAY_DATABASE_REPLICA_URLS",
        hide_env_values = true,
        value_delimiter = ','
    )]
    pub replica_urls: Vec<Secret<String>>,

    /// A replica further behind the primary than this is skipped until it
    /// catches up (reads go to another replica or the primary).
    #[arg(long, global = true, env = "SCREENPLAY_REPLICA_MAX_LAG", default_value = "5s", value_parser = parse_duration)]
    pub replica_max_lag: Duration,
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
            replica_urls: Vec::new(),
            replica_max_lag: Duration::from_secs(5),
        }
    }

    /// The replica URLs given (blank entries of the list dropped), checked:
    /// each must be a PostgreSQL URL, and the lag bound between 100 ms and an hour.
    pub fn replicas(&self) -> anyhow::Result<Vec<Secret<String>>> {
        let lag = self.replica_max_lag;
        if lag < Duration::from_millis(100) || lag > Duration::from_secs(3600) {
            anyhow::bail!("SCREENPLAY_REPLICA_MAX_LAG must be between 100ms and 1h (got {lag:?})");
        }
        let urls: Vec<Secret<String>> = self
            .replica_urls
            .iter()
            .filter(|u| !u.expose().trim().is_empty())
            .map(|u| Secret::new(u.expose().trim().to_owned()))
            .collect();
        for (i, url) in urls.iter().enumerate() {
            let url = url.expose();
            let scheme = url.starts_with("postgres://") || url.starts_with("postgresql://");
            if !scheme || url.parse::<sea_orm::sqlx::postgres::PgConnectOptions>().is_err() {
                anyhow::bail!(
                    "SCREENPLAY_DATABASE_REPLICA_URLS: entry {} is not a PostgreSQL URL \
                     (postgres://user:password@host:port/database)",
                    i + 1
                );
            }
        }
        Ok(urls)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(urls: &[&str], lag: Duration) -> DatabaseArgs {
        let mut args = DatabaseArgs::at("postgres://app:pw@primary:5432/db", None);
        args.replica_urls = urls.iter().map(|u| Secret::new((*u).to_owned())).collect();
        args.replica_max_lag = lag;
        args
    }

    #[test]
    fn replica_urls_are_checked_and_blank_entries_dropped() {
        let ok = with(
            &["postgres://app:pw@r1:5432/db", " ", " postgres://app:pw@r2/db "],
            Duration::from_secs(5),
        );
        let urls = ok.replicas().expect("valid");
        assert_eq!(
            urls.iter().map(|u| u.expose().as_str()).collect::<Vec<_>>(),
            ["postgres://app:pw@r1:5432/db", "postgres://app:pw@r2/db"]
        );
        let bad = with(&["postgres://app:pw@r1/db", "mysql://nope"], Duration::from_secs(5));
        let err = bad.replicas().expect_err("not a PostgreSQL URL").to_string();
        assert!(err.contains("entry 2") && !err.contains("nope"), "{err}");
        for lag in [Duration::from_millis(50), Duration::from_secs(7200)] {
            let err = with(&[], lag).replicas().expect_err("lag out of range").to_string();
            assert!(err.contains("SCREENPLAY_REPLICA_MAX_LAG"), "{err}");
        }
    }
}
