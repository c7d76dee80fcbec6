//! The `screenplay` binary; everything lives in the `screenplay-api` crate.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    screenplay_api::main().await
}
