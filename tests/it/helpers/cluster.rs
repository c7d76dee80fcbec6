//! The test cluster (installed and started on first use, shared by every
//! test process) and one database per test, cloned from a template that was
//! migrated once per migration fingerprint.

use std::{
    path::PathBuf,
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

use screenplay_api::db::local::{LocalDb, LocalUrls, create_database};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};
use tokio::sync::OnceCell;

/// Port of the test cluster (the development database uses 54329).
const TEST_PORT: u16 = 54339;

#[derive(Clone)]
struct Cluster {
    urls: LocalUrls,
    template: String,
}

static CLUSTER: OnceCell<Cluster> = OnceCell::const_new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Where the test cluster (and the files of test PgBouncers) live:
/// `$SCREENPLAY_TEST_HOME` or `.screenplay/test`, moved where the PostgreSQL
/// user can reach it when running as root (see `db::local::reachable`).
pub fn test_home() -> PathBuf {
    static HOME: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    HOME.get_or_init(|| {
        let preferred = std::env::var_os("SCREENPLAY_TEST_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| super::checkout().join(".screenplay/test"));
        screenplay_api::db::local::reachable(preferred)
    })
    .clone()
}

async fn cluster() -> Cluster {
    // Tests build HTTP clients of their own; they need the TLS provider too.
    screenplay_api::runtime::init_tls();
    CLUSTER
        .get_or_init(|| async {
            let port = std::env::var("SCREENPLAY_TEST_DB_PORT")
                .ok()
                .and_then(|p| p.parse().ok())
                .unwrap_or(TEST_PORT);
            let local = LocalDb::ephemeral(test_home(), port).expect("test home");
            let urls = local.start().await.expect("starting the test cluster");
            let template = ensure_template(&urls).await;
            drop_stale_databases(&urls).await;
            Cluster { urls, template }
        })
        .await
        .clone()
}

/// The test cluster's PostgreSQL binaries (installed on first use), for
/// clusters of other tests to share.
pub async fn bin_dir() -> PathBuf {
    let port = cluster().await.urls.port;
    LocalDb::ephemeral(test_home(), port).expect("test home").bin_dir()
}

/// A small pool on `url`.
pub async fn connect(url: &str) -> DatabaseConnection {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(2)
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10));
    Database::connect(opts).await.expect("connect")
}

/// Creates the migrated template once per fingerprint, under an advisory lock.
async fn ensure_template(urls: &LocalUrls) -> String {
    let name = format!("screenplay_tmpl_{}", migration::fingerprint());
    let admin = connect(&urls.superuser).await;
    admin
        .execute_unprepared("SELECT pg_advisory_lock(4242)")
        .await
        .expect("lock");
    let exists = admin
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT 1 FROM pg_database WHERE datname = $1",
            [name.clone().into()],
        ))
        .await
        .expect("query")
        .is_some();
    if !exists {
        let building = format!("{name}_building");
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"))
            .await
            .expect("drop partial template");
        create_database(&urls.superuser, &building, None)
            .await
            .expect("create template");
        let owner_url = LocalUrls::with_database(&urls.owner, &building);
        screenplay_api::db::migrate_up(&owner_url)
            .await
            .expect("migrate template");
        add_platform_admin(&owner_url, TEST_PLATFORM_ADMIN).await;
        admin
            .execute_unprepared(&format!("ALTER DATABASE \"{building}\" RENAME TO \"{name}\""))
            .await
            .expect("rename template");
    }
    admin
        .execute_unprepared("SELECT pg_advisory_unlock(4242)")
        .await
        .expect("unlock");
    admin.close().await.expect("close");
    name
}

/// Subject of the platform admin every migrated test database has.
pub const TEST_PLATFORM_ADMIN: &str = "platform-test";

/// Makes `subject` a platform admin (issuer: this server) in a migrated database.
pub async fn add_platform_admin(owner_url: &str, subject: &str) {
    add_platform_admin_of(owner_url, "", subject).await;
}

/// Makes `subject` of `issuer` (an identity provider's `iss`) a platform admin.
pub async fn add_platform_admin_of(owner_url: &str, issuer: &str, subject: &str) {
    let db = connect(owner_url).await;
    db.execute_raw(sea_orm::Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        "INSERT INTO screenplay.platform_admins (issuer, subject) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        [issuer.into(), subject.into()],
    ))
    .await
    .expect("add platform admin");
    db.close().await.expect("close");
}

/// Drops test databases whose process is gone.
async fn drop_stale_databases(urls: &LocalUrls) {
    let admin = connect(&urls.superuser).await;
    let rows = admin
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT datname FROM pg_database WHERE datname LIKE 't\\_%'",
        ))
        .await
        .expect("list");
    for row in rows {
        let name: String = row.try_get_by_index(0).expect("name");
        let pid = name.split('_').nth(1).and_then(|p| p.parse::<i32>().ok());
        let alive = pid.is_some_and(|p| nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), None).is_ok());
        if !alive {
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await;
        }
    }
    admin.close().await.expect("close");
}

/// One test's database and its URLs.
#[derive(Clone)]
pub struct TestDb {
    pub name: String,
    /// The app role (row-level security applies).
    pub app_url: String,
    /// The schema owner.
    pub owner_url: String,
    /// The cluster's superuser, database `postgres`.
    pub superuser_url: String,
}

impl TestDb {
    /// A migrated database of its own.
    pub async fn create() -> Self {
        let cluster = cluster().await;
        Self::create_from(&cluster, Some(&cluster.template)).await
    }

    /// An empty database (extensions only, no migrations).
    pub async fn create_empty() -> Self {
        let cluster = cluster().await;
        Self::create_from(&cluster, None).await
    }

    /// A migrated database whose LC_COLLATE and LC_CTYPE are `C` (the
    /// cluster's are C.UTF-8): where pg_trgm sees no Chinese characters.
    pub async fn create_with_c_ctype() -> Self {
        let cluster = cluster().await;
        let name = format!("t_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        let admin = connect(&cluster.urls.superuser).await;
        admin
            .execute_unprepared(&format!(
                "CREATE DATABASE \"{name}\" OWNER screenplay_user TEMPLATE template0 ENCODING 'UTF8' \
                 LOCALE_PROVIDER libc LC_COLLATE 'C' LC_CTYPE 'C'"
            ))
            .await
            .expect("create C database");
        admin.close().await.expect("close");
        // Adds the extensions (the database exists already).
        create_database(&cluster.urls.superuser, &name, None)
            .await
            .expect("extensions");
        let db = Self {
            app_url: LocalUrls::with_database(&cluster.urls.app, &name),
            owner_url: LocalUrls::with_database(&cluster.urls.owner, &name),
            superuser_url: cluster.urls.superuser.clone(),
            name,
        };
        screenplay_api::db::migrate_up(&db.owner_url)
            .await
            .expect("migrate C database");
        add_platform_admin(&db.owner_url, TEST_PLATFORM_ADMIN).await;
        db
    }

    async fn create_from(cluster: &Cluster, template: Option<&str>) -> Self {
        let name = format!("t_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        create_database(&cluster.urls.superuser, &name, template)
            .await
            .expect("create test database");
        Self {
            app_url: LocalUrls::with_database(&cluster.urls.app, &name),
            owner_url: LocalUrls::with_database(&cluster.urls.owner, &name),
            superuser_url: cluster.urls.superuser.clone(),
            name,
        }
    }

    pub async fn owner(&self) -> DatabaseConnection {
        connect(&self.owner_url).await
    }

    pub async fn app(&self) -> DatabaseConnection {
        connect(&self.app_url).await
    }
}
