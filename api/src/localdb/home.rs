//! Where the local database lives.

use std::{
    fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
};

use anyhow::Context;
use sha2::{Digest, Sha256};

/// `SCREENPLAY_HOME`, else `./.screenplay` in the current folder.
///
/// When running as root the unprivileged PostgreSQL user must be able to
/// traverse every folder above the data directory. A home below a folder it
/// cannot enter (for example a clone inside `/root`, which is mode 700) is
/// replaced by `/var/lib/screenplay/<folder name>-<hash>`, and a notice says so.
pub fn resolve_home(explicit: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let cwd = std::env::current_dir().context("reading the current folder")?;
    if let Some(home) = explicit {
        let home = if home.is_absolute() { home } else { cwd.join(home) };
        if nix::unistd::geteuid().is_root() && !ancestors_traversable(&home) {
            anyhow::bail!(
                "SCREENPLAY_HOME={} is below a folder the PostgreSQL user cannot enter; \
                 choose a folder such as /var/lib/screenplay",
                home.display()
            );
        }
        return Ok(home);
    }
    let default = cwd.join(".screenplay");
    if !nix::unistd::geteuid().is_root() || ancestors_traversable(&default) {
        return Ok(default);
    }
    let digest = Sha256::digest(cwd.to_string_lossy().as_bytes());
    let name = cwd
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "root".into());
    let fallback = PathBuf::from("/var/lib/screenplay").join(format!("{name}-{}", &hex::encode(digest)[..8]));
    eprintln!(
        "note: {} is not reachable by the PostgreSQL user; the local database lives in {}",
        default.display(),
        fallback.display()
    );
    Ok(fallback)
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
