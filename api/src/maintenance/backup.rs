//! `screenplay backup` and `screenplay restore`: pg_dump / pg_restore in
//! custom format (compressed), with retention of old files.
//!
//! The client programs must be of the server's major version: an older
//! pg_dump refuses a newer server, and a dump made by a newer pg_dump cannot
//! be read by an older pg_restore. They are looked up in `--pg-bin`
//! (`SCREENPLAY_PG_BIN`) when given, else in the local installation, in
//! Debian's `/usr/lib/postgresql/<major>/bin`, then on `PATH`, and the first
//! of the right version is used; a wrong version is refused, never used.
//!
//! Passwords go to the programs through `PGPASSWORD`, never on the command line.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, SystemTime},
};

use anyhow::{Context, bail};
use chrono::Utc;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};

/// Where to look for the PostgreSQL client programs.
#[derive(Debug, Clone, Default)]
pub struct ToolSearch {
    /// `--pg-bin` / `SCREENPLAY_PG_BIN`: only this folder is used.
    pub explicit: Option<PathBuf>,
    /// The local installation's `bin` folder, when there is one.
    pub local: Option<PathBuf>,
}

/// A client program and its major version.
#[derive(Debug, Clone)]
pub struct Tool {
    pub path: PathBuf,
    pub major: u32,
}

/// The major version a program reports (`pg_dump (PostgreSQL) 18.3` → 18).
pub fn tool_major(path: &Path) -> anyhow::Result<u32> {
    let out = Command::new(path)
        .arg("--version")
        .output()
        .with_context(|| format!("running {} --version", path.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_version_major(&text).with_context(|| format!("{} printed no version: {text:?}", path.display()))
}

fn parse_version_major(text: &str) -> Option<u32> {
    let version = text
        .split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))?;
    version
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|m| m.parse().ok())
}

impl ToolSearch {
    /// The first `program` of major version `major`, or a clear error naming
    /// what was found and what to install.
    pub fn find(&self, program: &str, major: u32) -> anyhow::Result<Tool> {
        let mut candidates: Vec<PathBuf> = Vec::new();
        if let Some(dir) = &self.explicit {
            candidates.push(dir.join(program));
        } else {
            if let Some(dir) = &self.local {
                candidates.push(dir.join(program));
            }
            candidates.push(PathBuf::from(format!("/usr/lib/postgresql/{major}/bin/{program}")));
            if let Some(path) = std::env::var_os("PATH") {
                candidates.extend(std::env::split_paths(&path).map(|dir| dir.join(program)));
            }
        }
        let mut wrong = Vec::new();
        for path in candidates {
            if !path.is_file() {
                continue;
            }
            match tool_major(&path) {
                Ok(found) if found == major => return Ok(Tool { path, major }),
                Ok(found) => wrong.push(format!("{} is PostgreSQL {found}", path.display())),
                Err(err) => wrong.push(format!("{}: {err:#}", path.display())),
            }
        }
        let hint = format!(
            "install the PostgreSQL {major} client programs (Debian: apt-get install postgresql-client-{major}) \
             or point --pg-bin / SCREENPLAY_PG_BIN at their folder"
        );
        if wrong.is_empty() {
            match &self.explicit {
                Some(dir) => bail!("{program} not found in {}: {hint}", dir.display()),
                None => bail!("{program} not found: {hint}"),
            }
        }
        bail!(
            "version mismatch: the server is PostgreSQL {major} and {program} must be too, but {}; {hint}",
            wrong.join(", ")
        )
    }
}

/// A connection URL split for libpq programs: the URL without its password,
/// and the password (for `PGPASSWORD`).
struct LibpqTarget {
    url: String,
    password: Option<String>,
    database: String,
}

fn libpq_target(url: &str) -> anyhow::Result<LibpqTarget> {
    let mut parsed = url::Url::parse(url).context("the database URL is not a URL")?;
    let password = parsed.password().map(percent_decode);
    let _ = parsed.set_password(None);
    let database = parsed.path().trim_start_matches('/').to_owned();
    if database.is_empty() {
        bail!("the database URL names no database");
    }
    Ok(LibpqTarget {
        url: parsed.to_string(),
        password,
        database: percent_decode(&database),
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl LibpqTarget {
    fn command(&self, tool: &Tool) -> Command {
        let mut cmd = Command::new(&tool.path);
        cmd.env_remove("PGPASSWORD")
            .env_remove("PGDATABASE")
            .env_remove("PGSERVICE");
        if let Some(password) = &self.password {
            cmd.env("PGPASSWORD", password);
        }
        cmd
    }
}

async fn connect(url: &str) -> anyhow::Result<DatabaseConnection> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(1)
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10));
    Database::connect(opts).await.context("connecting to the database")
}

/// The server's major version (`server_version_num` / 10000).
pub async fn server_major(conn: &DatabaseConnection) -> anyhow::Result<u32> {
    let row = conn
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_setting('server_version_num')::integer AS v",
        ))
        .await?
        .context("no server version")?;
    let v: i32 = row.try_get("", "v")?;
    Ok(u32::try_from(v / 10_000)?)
}

fn run(mut cmd: Command, what: &str) -> anyhow::Result<String> {
    let out = cmd.output().with_context(|| format!("running {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            String::from_utf8_lossy(&out.stdout).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// What `backup` made and removed.
#[derive(Debug)]
pub struct BackupReport {
    pub file: PathBuf,
    pub bytes: u64,
    pub removed: Vec<PathBuf>,
    pub pg_dump: Tool,
}

/// Dumps the database at `url` (the schema owner, who sees every row) into
/// `out_dir/<database>_<UTC time>.dump`, then deletes that database's dumps
/// older than `keep_days` days (0 keeps everything).
pub async fn backup(url: &str, out_dir: &Path, keep_days: u32, tools: &ToolSearch) -> anyhow::Result<BackupReport> {
    let target = libpq_target(url)?;
    let conn = connect(url).await?;
    let major = server_major(&conn).await?;
    conn.close().await?;
    let pg_dump = tools.find("pg_dump", major)?;
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let stamp = Utc::now().format("%Y%m%d_%H%M%S");
    let file = out_dir.join(format!("{}_{stamp}.dump", target.database));
    let partial = out_dir.join(format!(".{}_{stamp}.dump.partial", target.database));
    let mut cmd = target.command(&pg_dump);
    cmd.args(["--format=custom", "--compress=6", "--no-password"])
        // The owner bypasses row-level security (migration 0060); with row
        // security on, pg_dump would still see every row through the
        // owner's `owner_access` policy on a database migrated before it.
        .arg("--enable-row-security")
        // The local database's helper (see db::local) is not part of the data.
        .arg("--exclude-schema=screenplay_local")
        .arg("--file")
        .arg(&partial)
        .arg("--dbname")
        .arg(&target.url);
    let result = tokio::task::spawn_blocking(move || run(cmd, "pg_dump")).await?;
    if let Err(err) = result {
        let _ = std::fs::remove_file(&partial);
        return Err(err);
    }
    std::fs::rename(&partial, &file).with_context(|| format!("moving the dump to {}", file.display()))?;
    let bytes = std::fs::metadata(&file)?.len();
    let removed = if keep_days > 0 {
        prune(
            out_dir,
            &target.database,
            Duration::from_secs(u64::from(keep_days) * 86_400),
            &file,
        )?
    } else {
        Vec::new()
    };
    Ok(BackupReport {
        file,
        bytes,
        removed,
        pg_dump,
    })
}

/// Deletes `<database>_*.dump` files in `dir` older than `keep`.
fn prune(dir: &Path, database: &str, keep: Duration, current: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let prefix = format!("{database}_");
    let now = SystemTime::now();
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path == current || !name.starts_with(&prefix) || !name.ends_with(".dump") {
            continue;
        }
        let age = entry
            .metadata()?
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .unwrap_or_default();
        if age > keep {
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
            removed.push(path);
        }
    }
    removed.sort();
    Ok(removed)
}

/// What `restore` did.
#[derive(Debug)]
pub struct RestoreReport {
    pub database: String,
    pub pending_migrations: usize,
    pub pg_restore: Tool,
}

/// Restores `file` into the database at `url`, in one transaction. The
/// database must be empty (no schema `screenplay`) unless `clean`, which
/// drops the dump's objects first. Extensions are the administrator's
/// business (vector needs a superuser): they are created when the role may,
/// and otherwise the error says what to run.
pub async fn restore(file: &Path, url: &str, clean: bool, tools: &ToolSearch) -> anyhow::Result<RestoreReport> {
    if !file.is_file() {
        bail!("{} does not exist", file.display());
    }
    let target = libpq_target(url)?;
    let conn = connect(url).await?;
    let major = server_major(&conn).await?;
    let pg_restore = tools.find("pg_restore", major)?;

    let has_schema = conn
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT to_regnamespace('screenplay') IS NOT NULL AS present",
        ))
        .await?
        .context("no answer")?
        .try_get::<bool>("", "present")?;
    if has_schema && !clean {
        bail!(
            "database {} already has schema screenplay: restore into an empty database (create it with \
             `CREATE DATABASE ... OWNER <owner>` and pass --into), or pass --clean to replace its contents",
            target.database
        );
    }
    for extension in ["vector", "pg_trgm"] {
        let created = conn
            .execute_unprepared(&format!("CREATE EXTENSION IF NOT EXISTS {extension}"))
            .await;
        if let Err(err) = created {
            bail!(
                "extension {extension} is missing in database {} and this role cannot create it ({err}); \
                 as a superuser run in that database: CREATE EXTENSION {extension};",
                target.database
            );
        }
    }

    // The table of contents without what the target already has or what
    // only a superuser may create: extensions (created above) and their
    // comments, event triggers and the local database's helper schema.
    let mut list_cmd = target.command(&pg_restore);
    list_cmd.arg("--list").arg(file);
    let listing = tokio::task::spawn_blocking(move || run(list_cmd, "pg_restore --list")).await??;
    let kept: Vec<&str> = listing
        .lines()
        .filter(|line| {
            !(line.contains(" EXTENSION - ")
                || line.contains(" COMMENT - EXTENSION ")
                || line.contains(" EVENT TRIGGER ")
                || line.contains("screenplay_local"))
        })
        .collect();
    let list_file = std::env::temp_dir().join(format!("screenplay-restore-{}.list", uuid::Uuid::new_v4()));
    std::fs::write(&list_file, kept.join("\n")).context("writing the restore list")?;

    let mut cmd = target.command(&pg_restore);
    cmd.args(["--single-transaction", "--exit-on-error", "--no-password"])
        .arg("--use-list")
        .arg(&list_file);
    if clean {
        cmd.args(["--clean", "--if-exists"]);
    }
    cmd.arg("--dbname").arg(&target.url).arg(file);
    let result = tokio::task::spawn_blocking(move || run(cmd, "pg_restore")).await?;
    let _ = std::fs::remove_file(&list_file);
    result?;

    // Per-database role settings are not in a dump: the owner's search_path
    // (migration 0031) is set again.
    let has_functions = conn
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT to_regprocedure('screenplay.cleanup_old_logs(integer)') IS NOT NULL AS present",
        ))
        .await?
        .context("no answer")?
        .try_get::<bool>("", "present")?;
    if has_functions {
        conn.execute_unprepared(&format!(
            "ALTER ROLE CURRENT_USER IN DATABASE {} SET search_path = \"$user\", public, screenplay",
            super::quote_ident(&target.database)
        ))
        .await
        .context("setting the owner's search_path")?;
    }
    let pending_migrations = crate::db::pending_migrations(&conn).await.unwrap_or(0);
    conn.close().await?;
    Ok(RestoreReport {
        database: target.database,
        pending_migrations,
        pg_restore,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_urls() {
        assert_eq!(parse_version_major("pg_dump (PostgreSQL) 18.3\n"), Some(18));
        assert_eq!(
            parse_version_major("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"),
            Some(15)
        );
        assert_eq!(parse_version_major("pg_restore (PostgreSQL) 17beta1"), Some(17));
        assert_eq!(parse_version_major("nothing"), None);

        let t = libpq_target("postgres://screenplay_user:p%40ss%2Fw@127.0.0.1:5432/screenplay_db?sslmode=disable")
            .expect("target");
        assert_eq!(t.password.as_deref(), Some("p@ss/w"));
        assert_eq!(t.database, "screenplay_db");
        assert!(!t.url.contains("p%40ss"), "{}", t.url);
        assert!(t.url.contains("sslmode=disable"));
    }
}
