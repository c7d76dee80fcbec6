//! A streaming hot standby of a local cluster (`pg_basebackup -R`): a read
//! replica to try `SCREENPLAY_DATABASE_REPLICA_URLS` with, and to test it.

use std::{fs, process::Command};

use anyhow::Context;

use super::{LocalDb, LocalUrls, home, process, process::PgUser, run_checked};

impl LocalDb {
    /// Replaces whatever this home holds with a fresh standby of `primary`
    /// (which must be running), streaming from it, and starts it. The
    /// standby has the primary's roles and passwords: it is a physical copy.
    pub async fn start_standby_of(&self, primary: &LocalDb) -> anyhow::Result<LocalUrls> {
        let (this, primary) = (self.clone(), primary.clone());
        tokio::task::spawn_blocking(move || this.clone_and_start(&primary))
            .await
            .context("standby task")?
    }

    fn clone_and_start(&self, primary: &LocalDb) -> anyhow::Result<LocalUrls> {
        let creds = primary
            .read_credentials()?
            .context("the primary has no credentials: start it first")?;
        let source_port = primary.running_port().context("the primary is not running")?;
        self.stop()?;
        let user = PgUser::resolve()?;
        fs::create_dir_all(&self.home).with_context(|| format!("creating {}", self.home.display()))?;
        home::make_traversable(&self.home)?;
        let data = self.data_dir();
        if data.exists() {
            fs::remove_dir_all(&data).with_context(|| format!("removing {}", data.display()))?;
        }
        for dir in [&data, &self.socket_dir()] {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            user.own(dir)?;
        }
        process::set_mode(&data, 0o700)?;
        let mut cmd = Command::new(self.bin("pg_basebackup"));
        cmd.args([
            "-h",
            "127.0.0.1",
            "-p",
            &source_port.to_string(),
            "-U",
            "postgres",
            "-D",
        ])
        .arg(&data)
        .args(["-R", "-X", "stream", "-c", "fast"])
        .env("PGPASSWORD", &creds.superuser_password);
        run_checked(&mut user.command(cmd), "pg_basebackup")?;
        // The copy carries the primary's port and socket folder; later lines win.
        let conf_path = data.join("postgresql.conf");
        let mut conf = fs::read_to_string(&conf_path)?;
        conf.push_str(&format!(
            "\n# screenplay standby\nport = {}\nunix_socket_directories = '{}'\nhot_standby = on\n",
            self.port,
            self.socket_dir().display()
        ));
        fs::write(&conf_path, conf)?;
        let creds_path = self.credentials_file();
        fs::write(&creds_path, serde_json::to_string_pretty(&creds)?)?;
        process::set_mode(&creds_path, 0o600)?;
        self.start_server()?;
        Ok(self.urls_from(&creds, self.port))
    }
}
