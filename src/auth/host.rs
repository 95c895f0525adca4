//! The DNS-rebinding guard: a server listening on loopback only answers requests
//! addressed to a loopback name, so a foreign page whose host name was re-pointed
//! at 127.0.0.1 cannot use the victim's browser to reach it.

use std::net::IpAddr;

/// Whether a `Host` header names this machine's loopback (`localhost`,
/// `*.localhost`, `127.x.x.x`, `[::1]`, with any port) or a host the operator listed.
/// A request without `Host` (HTTP/1.0, no browser sends that) is let through.
pub fn host_allowed(host: Option<&str>, allowed_hosts: &[String]) -> bool {
    let Some(host) = host.map(|h| h.trim().to_ascii_lowercase()) else { return true };
    let name = host_name(&host);
    let loopback_name = name == "localhost" || name.ends_with(".localhost");
    let loopback_address =
        name.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    loopback_name || loopback_address || allowed_hosts.iter().any(|allowed| *allowed == host || allowed == name)
}

/// The host part of a `Host` header value, without the port (`[::1]:8080` → `[::1]`).
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_and_addresses_pass() {
        for host in
            ["localhost", "localhost:8080", "app.localhost:1", "127.0.0.1:9", "127.8.0.1", "[::1]:8080", "[::1]"]
        {
            assert!(host_allowed(Some(host), &[]), "{host}");
        }
        assert!(host_allowed(None, &[]));
    }

    #[test]
    fn foreign_names_need_listing() {
        for host in ["evil.example", "evil.example:8080", "10.0.0.1:8080", "localhost.evil.example", "[::2]:80"] {
            assert!(!host_allowed(Some(host), &[]), "{host}");
        }
        let allowed = vec!["tasks.example.com".to_owned(), "other.example:8443".to_owned()];
        assert!(host_allowed(Some("Tasks.Example.com:8080"), &allowed));
        assert!(host_allowed(Some("other.example:8443"), &allowed));
        assert!(!host_allowed(Some("other.example:9999"), &allowed));
    }
}
