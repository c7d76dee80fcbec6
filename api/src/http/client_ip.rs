//! The client's address: the TCP peer, or what `X-Forwarded-For` says when
//! the peer is a configured trusted proxy (and only then).

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// Resolves the client address of a request from `peer`.
///
/// `X-Forwarded-For` is read right to left: each trusted proxy appended the
/// address it saw, so the first address that is not a trusted proxy is the
/// client. A header from an untrusted peer is ignored entirely.
pub fn resolve(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = peer?;
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|part| part.trim().parse().ok())
        .collect();
    let mut client = peer;
    for ip in forwarded.into_iter().rev() {
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    Some(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", xff.parse().expect("header"));
        h
    }

    #[test]
    fn untrusted_peer_ignores_forwarded_for() {
        let ip = resolve(Some("203.0.113.9".parse().expect("ip")), &headers("1.2.3.4"), &[]);
        assert_eq!(ip, Some("203.0.113.9".parse().expect("ip")));
    }

    #[test]
    fn trusted_proxy_chain_yields_first_untrusted() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().expect("net")];
        let ip = resolve(
            Some("10.0.0.2".parse().expect("ip")),
            &headers("198.51.100.7, 1.2.3.4, 10.0.0.1"),
            &trusted,
        );
        assert_eq!(ip, Some("1.2.3.4".parse().expect("ip")));
    }
}
