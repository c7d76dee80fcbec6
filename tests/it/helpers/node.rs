//! Clients written by others, in Node.js (`tests/js`): graphql-http's
//! audits, graphql-js, playwright-core. Their packages are installed once,
//! from the lock file, into `tests/js/node_modules`.

use std::{path::PathBuf, process::Output};

use tokio::sync::OnceCell;

/// `tests/js`.
pub fn js_dir() -> PathBuf {
    super::checkout().join("tests/js")
}

/// Installs the packages of `tests/js/package-lock.json` when missing.
async fn installed() {
    static INSTALLED: OnceCell<()> = OnceCell::const_new();
    INSTALLED
        .get_or_init(|| async {
            let dir = js_dir();
            let marker = dir.join("node_modules/.package-lock.json");
            let lock = std::fs::read(dir.join("package-lock.json")).expect("tests/js/package-lock.json");
            if std::fs::read(&marker).is_ok_and(|installed| same_packages(&installed, &lock)) {
                return;
            }
            let out = tokio::process::Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .output()
                .await
                .expect("npm (Node.js 20 with npm) runs the client checks");
            assert!(
                out.status.success(),
                "npm ci in tests/js failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        })
        .await;
}

/// Whether what is installed is what the lock file asks for (npm's own
/// record of node_modules lists the same packages and versions).
fn same_packages(installed: &[u8], lock: &[u8]) -> bool {
    let parse = |bytes: &[u8]| serde_json::from_slice::<serde_json::Value>(bytes).ok();
    match (parse(installed), parse(lock)) {
        (Some(a), Some(b)) => {
            let versions = |v: &serde_json::Value| {
                v["packages"].as_object().map(|p| {
                    p.iter()
                        .filter(|(k, _)| !k.is_empty())
                        .map(|(k, v)| (k.clone(), v["version"].clone()))
                        .collect::<Vec<_>>()
                })
            };
            versions(&a) == versions(&b)
        }
        _ => false,
    }
}

/// Runs `node tests/js/<script> <args>`.
pub async fn run(script: &str, args: &[&str]) -> Output {
    installed().await;
    command(script, args).output().await.expect("node runs")
}

/// Runs a script that drives Debian's Chromium (its path in `CHROMIUM`),
/// installing Chromium first when it is missing.
pub async fn run_in_browser(script: &str, args: &[&str]) -> Output {
    installed().await;
    let chromium = tokio::task::spawn_blocking(|| super::debian::program(&["/usr/bin/chromium"], "chromium"))
        .await
        .expect("chromium install task");
    command(script, args)
        .env("CHROMIUM", chromium)
        .output()
        .await
        .expect("node runs")
}

fn command(script: &str, args: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(script).args(args).current_dir(js_dir());
    cmd
}
