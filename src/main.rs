//! The `screenplay` binary; everything lives in the `screenplay-api` crate.

use std::os::unix::process::CommandExt;

fn main() -> std::process::ExitCode {
    quiet_error_backtraces();
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(screenplay_api::main()),
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Errors do not capture backtraces (anyhow, `std::backtrace`) unless
/// `RUST_LIB_BACKTRACE` asks: `RUST_BACKTRACE=1`, set for panics, would
/// otherwise make every internal error walk the stack on the request path.
/// The process starts itself again with `RUST_LIB_BACKTRACE=0` (same pid);
/// panics keep their backtraces.
fn quiet_error_backtraces() {
    if std::env::var_os("RUST_BACKTRACE").is_none() || std::env::var_os("RUST_LIB_BACKTRACE").is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else { return };
    let err = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env("RUST_LIB_BACKTRACE", "0")
        .exec();
    eprintln!("warning: could not restart with RUST_LIB_BACKTRACE=0: {err}");
}
