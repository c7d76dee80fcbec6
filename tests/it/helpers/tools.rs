//! Running the `screenplay` binary and the local `psql` against a test database.

use std::{path::PathBuf, process::Output};

use super::cluster::test_home;

/// The local installation's binaries (psql, pg_dump, ...) of the test cluster.
pub fn pg_bin() -> PathBuf {
    screenplay_api::db::local::LocalDb::new(Some(test_home()), 0)
        .expect("test home")
        .bin_dir()
}

/// The parts of a database URL.
pub struct UrlParts {
    pub user: String,
    pub password: String,
    pub host: String,
    pub port: u16,
    pub database: String,
}

pub fn url_parts(url: &str) -> UrlParts {
    let u = url::Url::parse(url).expect("url");
    UrlParts {
        user: u.username().to_owned(),
        password: u.password().unwrap_or_default().to_owned(),
        host: u.host_str().unwrap_or("127.0.0.1").to_owned(),
        port: u.port().unwrap_or(5432),
        database: u.path().trim_start_matches('/').to_owned(),
    }
}

/// Runs `psql` with `args` as the URL's role, host and port given through
/// the environment (so the command line is the seed's), `stdin` as input.
pub fn psql(url: &str, args: &[&str], stdin: Option<&str>) -> Output {
    pg_program("psql", url, args, stdin)
}

/// Runs a PostgreSQL program of the test installation (`pg_dump`,
/// `pg_restore`, `psql`) like [`psql`]: host, port and password from the
/// URL, through the environment.
pub fn pg_program(program: &str, url: &str, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let p = url_parts(url);
    let mut cmd = std::process::Command::new(pg_bin().join(program));
    cmd.args(args)
        .env("PGHOST", &p.host)
        .env("PGPORT", p.port.to_string())
        .env("PGPASSWORD", &p.password)
        .env("PGCLIENTENCODING", "UTF8")
        .env_remove("PGDATABASE")
        .env_remove("PGUSER")
        .env("PSQLRC", "/dev/null")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn psql");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write psql input");
    } else {
        drop(child.stdin.take());
    }
    child.wait_with_output().expect("psql output")
}

/// Runs the `screenplay` binary with `args`, the database given by URL.
pub fn screenplay(owner_url: &str, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_screenplay"))
        .args(args)
        .env("DATABASE_URL", owner_url)
        .env("SCREENPLAY_MIGRATION_DATABASE_URL", owner_url)
        .env_remove("SCREENPLAY_PG_BIN")
        .env("SCREENPLAY_HOME", test_home())
        .env("RUST_LOG", "warn")
        .output()
        .expect("run screenplay")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
