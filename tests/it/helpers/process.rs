//! The `screenplay serve` binary as a separate process, for what an
//! in-process server cannot show: signals, several instances.

use std::{process::Stdio, time::Duration};

use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::Child,
};

use super::{JWT_SECRET, TestDb};

/// A running `screenplay serve` on a test database.
pub struct ServerProcess {
    pub child: Child,
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    /// Every line it wrote to stderr so far.
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl ServerProcess {
    /// Starts the binary on `db` and waits until it listens.
    pub async fn spawn(db: &TestDb, env: &[(&str, &str)]) -> Self {
        Self::spawn_with_args(db, &[], env).await
    }

    /// Starts the binary with extra `serve` flags and environment.
    pub async fn spawn_with_args(db: &TestDb, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_screenplay"));
        cmd.args(["serve", "--bind", "127.0.0.1:0"])
            .args(args)
            .env_remove("SCREENPLAY_LISTEN_DATABASE_URL")
            .env("DATABASE_URL", &db.app_url)
            .env("SCREENPLAY_MIGRATION_DATABASE_URL", &db.owner_url)
            .env("SCREENPLAY_JWT_SECRET", JWT_SECRET)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn screenplay serve");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let addr = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.expect("line") {
                if let Some(rest) = line.strip_prefix("GraphiQL: http://") {
                    return rest.trim_end_matches("/graphql").parse().expect("address");
                }
            }
            panic!("server exited before listening");
        })
        .await
        .expect("server start");
        // Keep draining its log so it never blocks on a full pipe.
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                kept.lock().expect("log").push(line);
            }
        });
        Self { child, addr, log }
    }

    /// The lines written to stderr since it listened.
    pub fn log_lines(&self) -> Vec<String> {
        self.log.lock().expect("log").clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id().expect("pid") as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("sigterm");
    }

    /// Waits for the process to exit (at most 30 s).
    pub async fn wait(&mut self) -> std::process::ExitStatus {
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("exit within 30 s")
            .expect("wait")
    }
}

/// A GraphQL request to a server at `addr` (another process); returns the body.
pub async fn post_to(
    addr: std::net::SocketAddr,
    token: &str,
    query: &str,
    variables: serde_json::Value,
) -> serde_json::Value {
    reqwest::Client::new()
        .post(format!("http://{addr}/graphql"))
        .bearer_auth(token)
        .json(&serde_json::json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json")
}

impl ServerProcess {
    /// A quiet server with a small pool (several run at once), not migrating.
    pub async fn start(db: &TestDb) -> Self {
        Self::spawn_with_args(
            db,
            &["--no-migrate"],
            &[("SCREENPLAY_DB_POOL_SIZE", "4"), ("RUST_LOG", "warn")],
        )
        .await
    }

    /// Sends SIGTERM and waits for the exit.
    pub async fn stop(mut self) -> std::process::ExitStatus {
        self.terminate();
        self.wait().await
    }
}
