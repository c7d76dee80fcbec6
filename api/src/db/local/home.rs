//! Where the local database lives.

use std::{
    fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
};

use anyhow::Context;
use sha2::{Digest, Sha256};

/// `SCREENPLAY_HOME` (or `--home`); else the local database of the current
/// folder or the nearest folder above it that has one (as git finds its
/// repository), so that every command run inside a project finds the
/// database `serve` made; else `./.screenplay` in the current folder. See
/// [`reachable`] for what happens when running as root.
pub fn resolve_home(explicit: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let cwd = std::env::current_dir().context("reading the current folder")?;
    Ok(match explicit {
        Some(home) if home.is_absolute() => reachable(home),
        Some(home) => reachable(cwd.join(home)),
        None => discover(&cwd).unwrap_or_else(|| reachable(cwd.join(".screenplay"))),
    })
}

/// The nearest existing local database home at or above `dir`.
pub fn discover(dir: &Path) -> Option<PathBuf> {
    dir.ancestors().find_map(|folder| {
        let preferred = folder.join(".screenplay");
        [preferred.clone(), fallback(&preferred)]
            .into_iter()
            .find(|home| home.join(CREDENTIALS).is_file())
    })
}

/// The file that marks an initialised home.
pub(super) const CREDENTIALS: &str = "credentials.json";

/// `preferred`, unless we run as root and the unprivileged PostgreSQL user
/// cannot traverse every folder above it (for example a clone inside
/// `/root`, which is mode 700): then `/var/lib/screenplay/<name>-<hash>`,
/// the same for the same `preferred` path every time, and a notice says so.
pub fn reachable(preferred: PathBuf) -> PathBuf {
    if !nix::unistd::geteuid().is_root() || ancestors_traversable(&preferred) {
        return preferred;
    }
    let fallback = fallback(&preferred);
    eprintln!(
        "note: {} is not reachable by the PostgreSQL user; the local database lives in {}",
        preferred.display(),
        fallback.display()
    );
    fallback
}

/// Where a home the PostgreSQL user cannot reach lives instead.
fn fallback(preferred: &Path) -> PathBuf {
    let digest = Sha256::digest(preferred.to_string_lossy().as_bytes());
    let name: Vec<String> = preferred
        .components()
        .rev()
        .take(2)
        .map(|c| c.as_os_str().to_string_lossy().trim_start_matches('.').to_owned())
        .collect();
    let name = name.into_iter().rev().collect::<Vec<_>>().join("-");
    PathBuf::from("/var/lib/screenplay").join(format!("{name}-{}", &hex::encode(digest)[..8]))
}

/// Every existing ancestor is executable by others.
fn ancestors_traversable(path: &Path) -> bool {
    path.ancestors().skip(1).all(|dir| match fs::metadata(dir) {
        Ok(meta) => meta.permissions().mode() & 0o001 != 0,
        Err(_) => true, // not created yet: we create it 0755
    })
}

/// Opens the home to traversal by the PostgreSQL user (its ancestors were
/// checked by [`resolve_home`]).
pub(super) fn make_traversable(home: &Path) -> anyhow::Result<()> {
    fs::set_permissions(home, fs::Permissions::from_mode(0o755)).with_context(|| format!("chmod {}", home.display()))
}
