//! Fetching shop pages safely: a client of its own whose resolver drops internal
//! addresses, and redirects followed by hand so every hop is checked.

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use reqwest::{
    StatusCode, Url,
    dns::{Addrs, Name, Resolve, Resolving},
    header::LOCATION,
    redirect,
};

use super::guard::{Listed, ScrapePolicy};

/// Redirects followed for one page; one more is an error.
pub const MAX_REDIRECTS: usize = 5;

/// A refusal raised inside the resolver, found again in reqwest's error chain.
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// Resolves like the system does, then keeps only the addresses a scrape may reach
/// (every address of a listed name): the check applies to what is actually connected to.
struct GuardedResolver {
    policy: Arc<ScrapePolicy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if policy.lists_name(&host) {
                return Ok(Box::new(addresses.into_iter()) as Addrs);
            }
            let (public, refusals) = split_addresses(&policy, addresses);
            match refusals.into_iter().next() {
                Some(refusal) if public.is_empty() => Err(Box::new(Refused(refusal)) as _),
                _ => Ok(Box::new(public.into_iter()) as Addrs),
            }
        })
    }
}

/// The addresses that may be reached, and the refusals of the others.
fn split_addresses(policy: &ScrapePolicy, addresses: Vec<SocketAddr>) -> (Vec<SocketAddr>, Vec<String>) {
    let mut refusals = Vec::new();
    let public = addresses
        .into_iter()
        .filter(|address| match policy.refuse_ip(address.ip()) {
            Some(refusal) => {
                refusals.push(refusal);
                false
            }
            None => true,
        })
        .collect();
    (public, refusals)
}

/// The scraper's HTTP client with the SSRF guard; the order provider uses another
/// client, since its URL is the operator's configuration.
pub struct PageFetcher {
    client: reqwest::Client,
    policy: Arc<ScrapePolicy>,
}

impl PageFetcher {
    /// A client that resolves through the guard and never follows redirects on its own.
    pub fn new(policy: ScrapePolicy) -> reqwest::Result<PageFetcher> {
        let policy = Arc::new(policy);
        let client = reqwest::Client::builder()
            .user_agent(concat!("taskwire/", env!("CARGO_PKG_VERSION"), " (+price monitor)"))
            .connect_timeout(Duration::from_secs(5))
            .redirect(redirect::Policy::none())
            // A proxy would resolve and connect in our place, out of the guard's sight.
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver { policy: policy.clone() }))
            .build()?;
        Ok(PageFetcher { client, policy })
    }

    /// The allow-list and address rules, for checking item URLs when they are added.
    pub fn policy(&self) -> &ScrapePolicy {
        &self.policy
    }

    /// GETs a page within `timeout` in all, following at most `MAX_REDIRECTS`
    /// redirects; each hop's URL is checked before it is requested.
    pub async fn get(&self, url: &str, timeout: Duration) -> Result<reqwest::Response, String> {
        let deadline = Instant::now() + timeout;
        let mut url = Url::parse(url).map_err(|_| "refused: not an absolute URL".to_owned())?;
        for _hop in 0..=MAX_REDIRECTS {
            if self.policy.check_request(&url)? == Listed::OnOtherPorts {
                self.check_resolved(&url).await?;
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            let response =
                self.client.get(url.clone()).timeout(remaining).send().await.map_err(|e| describe(&e, timeout))?;
            if !is_redirect(response.status()) {
                return Ok(response);
            }
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|l| l.to_str().ok())
                .ok_or_else(|| format!("HTTP {} without a Location", response.status().as_u16()))?;
            url = url.join(location).map_err(|_| "redirected to an invalid URL".to_owned())?;
        }
        Err(format!("refused: more than {MAX_REDIRECTS} redirects"))
    }

    /// For a name listed only with other ports: every address it resolves to must be public.
    async fn check_resolved(&self, url: &Url) -> Result<(), String> {
        let host = url.host_str().unwrap_or_default();
        let addresses: Vec<SocketAddr> =
            tokio::net::lookup_host((host, 0)).await.map_err(|e| format!("cannot resolve {host}: {e}"))?.collect();
        match split_addresses(&self.policy, addresses).1.into_iter().next() {
            Some(refusal) => Err(refusal),
            None => Ok(()),
        }
    }
}

fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// What went wrong with a request, in words: a refusal from the resolver is quoted as is.
pub fn describe(error: &reqwest::Error, timeout: Duration) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<Refused>() {
            return refused.0.clone();
        }
        source = cause.source();
    }
    if error.is_timeout() {
        format!("timed out after {}", humantime::format_duration(timeout))
    } else if error.is_connect() {
        "connection failed".to_owned()
    } else {
        format!("request failed: {error}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_resolver_refuses_names_of_internal_addresses_and_passes_listed_ones() {
        let resolver = GuardedResolver { policy: Arc::new(ScrapePolicy::default()) };
        let refused = match resolver.resolve("localhost".parse().unwrap()).await {
            Ok(addresses) => panic!("localhost resolved to {:?}", addresses.collect::<Vec<_>>()),
            Err(error) => error.to_string(),
        };
        assert!(refused.starts_with("refused: ") && refused.contains("loopback address"), "{refused}");
        let allowed = crate::stores::guard::AllowedHost::parse("localhost").unwrap();
        let resolver = GuardedResolver { policy: Arc::new(ScrapePolicy::new(vec![allowed])) };
        assert!(resolver.resolve("localhost".parse().unwrap()).await.is_ok());
    }
}
