//! The client's address for login throttling, seen through trusted reverse proxies.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;

/// The peer's address, or — when the peer is a trusted proxy — the nearest
/// untrusted address in `X-Forwarded-For` (read from the right, since only the
/// entries our own proxies appended can be believed).
pub fn client_address(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer.ip()) {
        return peer.ip();
    }
    let forwarded =
        headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(','));
    let hops: Vec<IpAddr> = forwarded.filter_map(|hop| hop.trim().parse().ok()).collect();
    hops.into_iter().rev().find(|hop| !trusted.contains(hop)).unwrap_or(peer.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", value.parse().unwrap());
        headers
    }

    const PROXY: &str = "10.0.0.5:41000";

    #[test]
    fn the_header_counts_only_from_a_trusted_proxy() {
        let trusted: Vec<IpAddr> = vec!["10.0.0.5".parse().unwrap()];
        let peer: SocketAddr = PROXY.parse().unwrap();
        assert_eq!(client_address(peer, &headers("203.0.113.7"), &trusted).to_string(), "203.0.113.7");
        assert_eq!(client_address(peer, &headers("203.0.113.7"), &[]).to_string(), "10.0.0.5");
        assert_eq!(client_address(peer, &HeaderMap::new(), &trusted).to_string(), "10.0.0.5");
    }

    #[test]
    fn a_spoofed_left_entry_is_ignored() {
        let trusted: Vec<IpAddr> = vec!["10.0.0.5".parse().unwrap(), "10.0.0.6".parse().unwrap()];
        let peer: SocketAddr = PROXY.parse().unwrap();
        let spoofed = headers("1.2.3.4, 198.51.100.9, 10.0.0.6");
        assert_eq!(client_address(peer, &spoofed, &trusted).to_string(), "198.51.100.9");
        assert_eq!(client_address(peer, &headers("garbage"), &trusted).to_string(), "10.0.0.5");
    }
}
