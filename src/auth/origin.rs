//! The Origin rule shared by the WebSocket and cookie-authenticated writes.

/// True when `origin` is the server's own (same host as the request) or configured as allowed.
pub fn origin_allowed(origin: &str, host: Option<&str>, allowed: &[String]) -> bool {
    let origin = origin.trim_end_matches('/');
    let own = host.is_some_and(|host| {
        origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .is_some_and(|origin_host| origin_host.eq_ignore_ascii_case(host))
    });
    own || allowed.iter().any(|a| a.eq_ignore_ascii_case(origin))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_servers_own_origin_is_allowed_by_default() {
        assert!(origin_allowed("http://127.0.0.1:8080", Some("127.0.0.1:8080"), &[]));
        assert!(origin_allowed("https://tw.example", Some("tw.example"), &[]));
        assert!(!origin_allowed("http://evil.example", Some("127.0.0.1:8080"), &[]));
        assert!(!origin_allowed("http://127.0.0.1:8080.evil", Some("127.0.0.1:8080"), &[]));
        assert!(!origin_allowed("null", None, &[]));
    }

    #[test]
    fn configured_origins_are_allowed_too() {
        let allowed = vec!["https://app.example".to_owned()];
        assert!(origin_allowed("https://app.example", Some("api.example"), &allowed));
        assert!(!origin_allowed("https://other.example", Some("api.example"), &allowed));
    }
}
