//! `screenplay serve` as a separate OS process on a test database.

use std::{net::SocketAddr, process::Stdio, time::Duration};

use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

use super::{JWT_SECRET, TestDb};

/// A server process; killed (by its pid) when dropped.
pub struct ServerProcess {
    pub addr: SocketAddr,
    child: Child,
}

impl ServerProcess {
    /// Starts the `screenplay` binary on `db` and waits until it listens.
    pub async fn start(db: &TestDb) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_screenplay"))
            .args(["serve", "--bind", "127.0.0.1:0", "--no-migrate"])
            .env("DATABASE_URL", &db.app_url)
            .env("SCREENPLAY_MIGRATION_DATABASE_URL", &db.owner_url)
            .env("SCREENPLAY_JWT_SECRET", JWT_SECRET)
            .env("SCREENPLAY_DB_POOL_SIZE", "4")
            .env("RUST_LOG", "warn")
            .env_remove("SCREENPLAY_LISTEN_DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn screenplay serve");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let addr = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(rest) = line.split("GraphiQL: http://").nth(1) {
                    return rest.trim_end_matches("/graphql").parse::<SocketAddr>().ok();
                }
            }
            None
        })
        .await
        .expect("server start timed out")
        .expect("server printed its address");
        // Keep draining stderr so the process never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self { addr, child }
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub async fn stop(mut self) -> std::process::ExitStatus {
        if let Some(pid) = self.child.id() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("server exited within 30 s")
            .expect("wait")
    }
}
