//! Which addresses a scrape may reach: the rules that keep shop URLs away from
//! the server's own network (loopback, private ranges, cloud metadata) — no I/O.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use reqwest::Url;

/// A `SCRAPE_ALLOWED_HOSTS` entry: a host name or IP address, with or without a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    host: HostName,
    /// `None` allows every port.
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostName {
    Ip(IpAddr),
    Name(String),
}

impl HostName {
    /// A URL's host as `Url::host_str` writes it (IPv6 in brackets), or a configured one.
    fn parse(host: &str) -> HostName {
        let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        match bare.parse::<IpAddr>() {
            Ok(ip) => HostName::Ip(ip.to_canonical()),
            Err(_) => HostName::Name(bare.trim_end_matches('.').to_ascii_lowercase()),
        }
    }
}

impl AllowedHost {
    /// Parses `shop.internal`, `shop.internal:8080`, `10.0.0.5`, `10.0.0.5:80`, `::1` or `[::1]:8080`.
    pub fn parse(entry: &str) -> Result<AllowedHost, String> {
        let entry = entry.trim();
        let bad_port = |p: &str| format!("{entry:?} has an invalid port {p:?}");
        let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
            let (ip, after) = rest.split_once(']').ok_or_else(|| format!("{entry:?} lacks its closing ']'"))?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').and_then(|p| p.parse::<u16>().ok()).ok_or_else(|| bad_port(p))?),
            };
            (format!("[{ip}]"), port)
        } else if entry.matches(':').count() == 1 {
            let (host, port) = entry.split_once(':').expect("one colon");
            (host.to_owned(), Some(port.parse::<u16>().map_err(|_| bad_port(port))?))
        } else {
            (entry.to_owned(), None)
        };
        if host.is_empty() || host.contains(|c: char| c.is_whitespace() || matches!(c, '/' | '@' | '?' | '#')) {
            return Err(format!("{entry:?} is not a host name, IP address or host:port"));
        }
        Ok(AllowedHost { host: HostName::parse(&host), port })
    }
}

/// Why an address is off limits, in words for the item's error; `None` when it may be scraped.
pub fn restriction(ip: IpAddr) -> Option<&'static str> {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4_restriction(v4),
        IpAddr::V6(v6) => v6_restriction(v6),
    }
}

fn v4_restriction(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    Some(match () {
        _ if ip == Ipv4Addr::new(169, 254, 169, 254) => "a cloud metadata address",
        _ if ip.is_unspecified() || a == 0 => "an unspecified address",
        _ if ip.is_loopback() => "a loopback address",
        _ if ip.is_private() => "a private address",
        _ if ip.is_link_local() => "a link-local address",
        _ if a == 100 && (64..128).contains(&b) => "a carrier-grade NAT address",
        _ if ip.is_broadcast() => "a broadcast address",
        _ if ip.is_multicast() => "a multicast address",
        _ if a >= 240 => "a reserved address",
        _ => return None,
    })
}

fn v6_restriction(ip: Ipv6Addr) -> Option<&'static str> {
    let segments = ip.segments();
    // NAT64 (64:ff9b::/96) carries an IPv4 address in its last 32 bits.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [.., c, d] = segments;
        return v4_restriction(Ipv4Addr::from(((c as u32) << 16) | d as u32));
    }
    Some(match () {
        _ if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) => "a cloud metadata address",
        _ if ip.is_unspecified() => "an unspecified address",
        _ if ip.is_loopback() => "a loopback address",
        _ if segments[0] & 0xffc0 == 0xfe80 => "a link-local address",
        _ if segments[0] & 0xfe00 == 0xfc00 => "a unique-local address",
        _ if ip.is_multicast() => "a multicast address",
        _ => return None,
    })
}

/// Host names that always mean the server's own machine or its cloud's metadata service.
fn well_known_internal(name: &str) -> Option<&'static str> {
    match name {
        "localhost" => Some("the server's own machine"),
        _ if name.ends_with(".localhost") => Some("the server's own machine"),
        "metadata.google.internal" => Some("a cloud metadata service"),
        _ => None,
    }
}

/// The allow-list and the checks a scrape applies before each request; the
/// resolver (`fetch.rs`) applies `refuse_ip` to every address a name resolves to.
#[derive(Debug, Clone, Default)]
pub struct ScrapePolicy {
    allowed: Vec<AllowedHost>,
}

impl ScrapePolicy {
    /// A policy allowing the listed hosts; the default allows no internal host at all.
    pub fn new(allowed: Vec<AllowedHost>) -> Self {
        ScrapePolicy { allowed }
    }

    /// Whether `host:port` (as in a URL) is listed in `SCRAPE_ALLOWED_HOSTS`.
    fn allows(&self, host: &HostName, port: u16) -> bool {
        self.allowed.iter().any(|rule| rule.host == *host && rule.port.is_none_or(|p| p == port))
    }

    /// Whether a host name is listed at all (with any port): the resolver does not filter its addresses.
    pub fn lists_name(&self, name: &str) -> bool {
        let name = HostName::parse(name);
        self.allowed.iter().any(|rule| rule.host == name)
    }

    /// The refusal of an address a name resolved to.
    pub fn refuse_ip(&self, ip: IpAddr) -> Option<String> {
        restriction(ip).map(|kind| refusal(&ip.to_canonical().to_string(), kind))
    }

    /// Checks one request's URL before it is sent: http(s) only, and an IP literal
    /// must be a public address or listed. Names are left to the resolver, which
    /// sees the addresses actually connected to. Returns whether the host is listed.
    pub fn check_request(&self, url: &Url) -> Result<Listed, String> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("refused: {} URLs are not fetched (http and https only)", url.scheme()));
        }
        let (host, port) = host_and_port(url)?;
        if self.allows(&host, port) {
            return Ok(Listed::Yes);
        }
        match host {
            HostName::Ip(ip) => match restriction(ip) {
                Some(kind) => Err(refusal(&ip.to_string(), kind)),
                None => Ok(Listed::No),
            },
            HostName::Name(name) if self.lists_name(&name) => Ok(Listed::OnOtherPorts),
            HostName::Name(_) => Ok(Listed::No),
        }
    }

    /// The up-front check of an item URL: besides `check_request`, `localhost` and
    /// the metadata names are refused at once (other names can only be judged when fetched).
    pub fn check_new_url(&self, url: &Url) -> Result<(), String> {
        if self.check_request(url)? == Listed::Yes {
            return Ok(());
        }
        match host_and_port(url)?.0 {
            HostName::Name(name) => match well_known_internal(&name) {
                Some(kind) => Err(refusal(&name, kind)),
                None => Ok(()),
            },
            HostName::Ip(_) => Ok(()),
        }
    }
}

/// How a request's host stands with the allow-list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listed {
    /// Host and port are listed: no address is filtered.
    Yes,
    /// Not listed: every resolved address must be public.
    No,
    /// The name is listed for other ports only: its addresses must be checked before the request,
    /// since the resolver lets listed names through.
    OnOtherPorts,
}

fn host_and_port(url: &Url) -> Result<(HostName, u16), String> {
    let host = url.host_str().ok_or_else(|| "refused: the URL has no host".to_owned())?;
    Ok((HostName::parse(host), url.port_or_known_default().unwrap_or(80)))
}

fn refusal(what: &str, kind: &str) -> String {
    format!("refused: {what} is {kind} (set SCRAPE_ALLOWED_HOSTS to allow it)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn internal_addresses_are_restricted_and_public_ones_are_not() {
        for (address, kind) in [
            ("127.0.0.1", "loopback"),
            ("127.8.9.10", "loopback"),
            ("::1", "loopback"),
            ("::ffff:127.0.0.1", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.1.1", "link-local"),
            ("169.254.169.254", "metadata"),
            ("fd00:ec2::254", "metadata"),
            ("fe80::1", "link-local"),
            ("fc00::1", "unique-local"),
            ("fd12:3456::1", "unique-local"),
            ("0.0.0.0", "unspecified"),
            ("::", "unspecified"),
            ("100.64.0.1", "carrier-grade NAT"),
            ("100.127.255.254", "carrier-grade NAT"),
            ("224.0.0.1", "multicast"),
            ("ff02::1", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("64:ff9b::7f00:1", "loopback"),
        ] {
            let found = restriction(ip(address)).unwrap_or_else(|| panic!("{address} must be restricted"));
            assert!(found.contains(kind), "{address}: {found}");
        }
        for address in ["93.184.216.34", "8.8.8.8", "100.128.0.1", "172.32.0.1", "2606:4700::1111", "64:ff9b::808:808"]
        {
            assert_eq!(restriction(ip(address)), None, "{address}");
        }
    }

    #[test]
    fn allowed_hosts_parse_with_and_without_ports() {
        for (entry, ok) in [
            ("shop.internal", true),
            ("Shop.Internal:8080", true),
            ("10.0.0.5", true),
            ("10.0.0.5:80", true),
            ("::1", true),
            ("[::1]:8080", true),
            ("[::1", false),
            ("shop:http", false),
            ("http://shop", false),
            ("", false),
        ] {
            assert_eq!(AllowedHost::parse(entry).is_ok(), ok, "{entry:?}");
        }
    }

    #[test]
    fn requests_to_literals_are_judged_and_the_allow_list_applies_per_port() {
        let url = |u: &str| Url::parse(u).unwrap();
        let policy = ScrapePolicy::new(
            ["127.0.0.1:8080", "shop.internal", "[::1]:9000", "db.internal:5000"]
                .iter()
                .map(|e| AllowedHost::parse(e).unwrap())
                .collect(),
        );
        assert_eq!(policy.check_request(&url("http://127.0.0.1:8080/a")), Ok(Listed::Yes));
        let refused = policy.check_request(&url("http://127.0.0.1:8081/a")).unwrap_err();
        assert_eq!(refused, "refused: 127.0.0.1 is a loopback address (set SCRAPE_ALLOWED_HOSTS to allow it)");
        assert!(policy.check_request(&url("http://2130706433/")).is_err(), "decimal IPv4 is 127.0.0.1");
        assert!(policy.check_request(&url("http://[::ffff:169.254.169.254]/")).unwrap_err().contains("metadata"));
        assert_eq!(policy.check_request(&url("http://[::1]:9000/")), Ok(Listed::Yes));
        assert_eq!(policy.check_request(&url("https://SHOP.internal./x")), Ok(Listed::Yes));
        assert_eq!(policy.check_request(&url("http://db.internal:5001/")), Ok(Listed::OnOtherPorts));
        assert_eq!(policy.check_request(&url("http://example.com/")), Ok(Listed::No));
        assert!(policy.check_request(&url("file:///etc/passwd")).is_err());
        assert!(policy.check_new_url(&url("http://localhost:8080/")).unwrap_err().contains("localhost"));
        assert!(policy.check_new_url(&url("http://metadata.google.internal/")).is_err());
        assert!(policy.check_new_url(&url("http://example.com/")).is_ok());
        assert!(ScrapePolicy::default().check_new_url(&url("http://10.0.0.5/")).unwrap_err().contains("private"));
    }
}
