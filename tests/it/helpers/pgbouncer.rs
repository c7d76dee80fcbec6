//! Debian's PgBouncer (1.18) in transaction pooling mode in front of a test
//! database, installed with apt-get when missing (see `debian`).

use std::{
    net::TcpStream,
    os::unix::process::CommandExt,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use super::{TestDb, cluster::test_home, tools::url_parts};

/// Server connections PgBouncer opens per database and user.
pub const POOL_SIZE: u32 = 3;

/// The pgbouncer program, installed with apt-get (as root) when missing.
pub fn binary() -> PathBuf {
    super::debian::program(
        &["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer", "/usr/local/bin/pgbouncer"],
        "pgbouncer",
    )
}

/// A running PgBouncer; stopped on drop.
pub struct PgBouncer {
    pub port: u16,
    dir: PathBuf,
    child: Child,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

impl PgBouncer {
    /// Starts PgBouncer for `db`'s cluster, authenticating its app and owner roles.
    pub fn start(db: &TestDb) -> Self {
        let program = binary();
        let app = url_parts(&db.app_url);
        let owner = url_parts(&db.owner_url);
        let port = free_port();
        let dir = test_home().join(format!("pgbouncer-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("pgbouncer dir");
        let quote = |s: &str| s.replace('"', "\"\"");
        std::fs::write(
            dir.join("userlist.txt"),
            format!(
                "\"{}\" \"{}\"\n\"{}\" \"{}\"\n",
                quote(&app.user),
                quote(&app.password),
                quote(&owner.user),
                quote(&owner.password)
            ),
        )
        .expect("userlist");
        std::fs::write(
            dir.join("pgbouncer.ini"),
            format!(
                "[databases]\n* = host={host} port={pg_port}\n\n\
                 [pgbouncer]\n\
                 listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
                 auth_type = scram-sha-256\nauth_file = {dir}/userlist.txt\n\
                 pool_mode = transaction\nmax_client_conn = 500\n\
                 default_pool_size = {POOL_SIZE}\nmin_pool_size = 0\nreserve_pool_size = 0\n\
                 ignore_startup_parameters = extra_float_digits\n\
                 logfile = {dir}/pgbouncer.log\npidfile = {dir}/pgbouncer.pid\n",
                host = app.host,
                pg_port = app.port,
                dir = dir.display(),
            ),
        )
        .expect("ini");
        let mut cmd = Command::new(program);
        cmd.arg(dir.join("pgbouncer.ini"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // PgBouncer refuses to run as root: run it as the PostgreSQL user.
        if nix::unistd::geteuid().is_root() {
            let user = nix::unistd::User::from_name("postgres")
                .expect("users")
                .expect("user postgres (created by the test cluster)");
            for entry in std::fs::read_dir(&dir).expect("dir").flatten() {
                nix::unistd::chown(&entry.path(), Some(user.uid), Some(user.gid)).expect("chown");
            }
            nix::unistd::chown(&dir, Some(user.uid), Some(user.gid)).expect("chown");
            cmd.uid(user.uid.as_raw()).gid(user.gid.as_raw());
        }
        let mut child = cmd.spawn().expect("start pgbouncer");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                let log = std::fs::read_to_string(dir.join("pgbouncer.log")).unwrap_or_default();
                panic!("pgbouncer exited ({status}):\n{log}");
            }
            assert!(started.elapsed() < Duration::from_secs(15), "pgbouncer did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { port, dir, child }
    }

    /// `url` with PgBouncer's address instead of PostgreSQL's.
    pub fn url(&self, url: &str) -> String {
        let mut u = url::Url::parse(url).expect("url");
        u.set_port(Some(self.port)).expect("port");
        u.to_string()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pgbouncer.log")).unwrap_or_default()
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
