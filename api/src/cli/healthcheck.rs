//! `screenplay healthcheck`: whether the server on this machine is ready
//! (`GET /readyz` answers 200), as an exit code, for the container image's
//! `HEALTHCHECK` and compose.

use std::{net::SocketAddr, time::Duration};

use crate::config::parse_duration;

#[derive(Debug, clap::Args)]
pub struct HealthcheckArgs {
    /// The server's address (its SCREENPLAY_BIND); 0.0.0.0 means this machine.
    #[arg(long, env = "SCREENPLAY_BIND", default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// How long to wait for the answer.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    timeout: Duration,
}

pub async fn run(args: HealthcheckArgs) -> anyhow::Result<()> {
    let mut addr = args.bind;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let client = reqwest::Client::builder().timeout(args.timeout).build()?;
    let response = client.get(format!("http://{addr}/readyz")).send().await?;
    let status = response.status();
    if status.is_success() {
        println!("ready");
        return Ok(());
    }
    let body = response.text().await.unwrap_or_default();
    anyhow::bail!("not ready ({status}): {body}")
}
