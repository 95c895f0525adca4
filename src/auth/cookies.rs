//! The HttpOnly cookies that carry tokens for the browser pages.

use axum::http::{HeaderMap, HeaderValue, header};

/// Holds the access token; sent on every request to the server.
pub const ACCESS_COOKIE: &str = "taskwire_access";
/// Holds the refresh token; sent only to `/api/auth`.
pub const REFRESH_COOKIE: &str = "taskwire_refresh";

/// `Set-Cookie` headers for a fresh token pair.
pub fn set_token_cookies(
    headers: &mut HeaderMap,
    access: &str,
    access_ttl: u64,
    refresh: &str,
    refresh_ttl: u64,
    secure: bool,
) {
    append(headers, &cookie(ACCESS_COOKIE, access, "/", access_ttl, secure));
    append(headers, &cookie(REFRESH_COOKIE, refresh, "/api/auth", refresh_ttl, secure));
}

/// `Set-Cookie` headers that remove both cookies.
pub fn clear_token_cookies(headers: &mut HeaderMap, secure: bool) {
    append(headers, &cookie(ACCESS_COOKIE, "", "/", 0, secure));
    append(headers, &cookie(REFRESH_COOKIE, "", "/api/auth", 0, secure));
}

/// The value of a cookie sent by the client.
pub fn read_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, value)| *key == name && !value.is_empty())
        .map(|(_, value)| value)
}

fn cookie(name: &str, value: &str, path: &str, max_age: u64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; HttpOnly; SameSite=Strict; Path={path}; Max-Age={max_age}{secure}")
}

fn append(headers: &mut HeaderMap, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.append(header::SET_COOKIE, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_one_cookie_among_many() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=1; taskwire_access=tok; b=2"));
        assert_eq!(read_cookie(&headers, ACCESS_COOKIE), Some("tok"));
        assert_eq!(read_cookie(&headers, REFRESH_COOKIE), None);
    }

    #[test]
    fn cookies_are_http_only_and_strict() {
        let mut headers = HeaderMap::new();
        set_token_cookies(&mut headers, "a", 900, "r", 60, true);
        let values: Vec<_> =
            headers.get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_owned()).collect();
        assert_eq!(values.len(), 2);
        assert!(values.iter().all(|v| v.contains("HttpOnly; SameSite=Strict") && v.ends_with("Secure")));
    }
}
