//! Debian programs the tests drive (PgBouncer, Chromium), installed with
//! apt-get (as root) when missing, so that `cargo test --workspace` needs
//! no set-up of its own on a fresh Debian machine (CI's `.ci/run` installs
//! them up front too).

use std::{
    path::PathBuf,
    process::{Command, Stdio},
    sync::Mutex,
};

/// One apt-get at a time: dpkg takes a lock, and two tests may ask at once.
static INSTALL: Mutex<()> = Mutex::new(());

/// The first of `paths` that exists, after `apt-get install package` when
/// none does; panics with what apt-get said when that fails.
pub fn program(paths: &[&str], package: &str) -> PathBuf {
    let find = || paths.iter().map(PathBuf::from).find(|p| p.is_file());
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = find() {
        return path;
    }
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status()
    };
    let _ = apt(&["update", "-q"]);
    let status = apt(&["install", "-y", "-q", "--no-install-recommends", package]);
    find().unwrap_or_else(|| panic!("{package} is not installed and apt-get install {package} failed ({status:?})"))
}
