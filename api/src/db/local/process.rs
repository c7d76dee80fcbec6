//! Running PostgreSQL programs, as an unprivileged user when we are root.

use std::{
    fs,
    os::unix::{fs::PermissionsExt, process::CommandExt},
    path::Path,
    process::Command,
};

use anyhow::{Context, bail};
use nix::unistd::{Gid, Uid, User, chown};

/// The user PostgreSQL runs as: ourselves, or `postgres` when we are root.
pub(super) struct PgUser {
    switch_to: Option<(Uid, Gid)>,
}

impl PgUser {
    pub(super) fn resolve() -> anyhow::Result<Self> {
        if !nix::unistd::geteuid().is_root() {
            return Ok(Self { switch_to: None });
        }
        let user = match User::from_name("postgres")? {
            Some(user) => user,
            None => {
                run_checked(
                    Command::new("useradd").args([
                        "--system",
                        "--no-create-home",
                        "--shell",
                        "/usr/sbin/nologin",
                        "postgres",
                    ]),
                    "useradd postgres (PostgreSQL refuses to run as root)",
                )?;
                User::from_name("postgres")?.context("user postgres missing after useradd")?
            }
        };
        Ok(Self {
            switch_to: Some((user.uid, user.gid)),
        })
    }

    /// `cmd`, set to run as this user.
    pub(super) fn command(&self, mut cmd: Command) -> Command {
        if let Some((uid, gid)) = self.switch_to {
            cmd.uid(uid.as_raw()).gid(gid.as_raw()).env("HOME", "/tmp");
        }
        cmd.env("LC_ALL", "C.UTF-8").env_remove("PGDATA");
        cmd
    }

    /// Hands `path` to this user.
    pub(super) fn own(&self, path: &Path) -> anyhow::Result<()> {
        if let Some((uid, gid)) = self.switch_to {
            chown(path, Some(uid), Some(gid)).with_context(|| format!("chown {}", path.display()))?;
        }
        Ok(())
    }
}

pub(super) fn set_mode(path: &Path, mode: u32) -> anyhow::Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).with_context(|| format!("chmod {}", path.display()))
}

/// Runs `cmd`; on failure the error carries its output.
pub(super) fn run_checked(cmd: &mut Command, what: &str) -> anyhow::Result<()> {
    let out = cmd
        .output()
        .with_context(|| format!("{what}: could not run {:?}", cmd.get_program()))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}
