//! Order providers: the HTTP protocol real providers speak, and a simulated one for demo mode.

use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::model::CheckResult;

/// What is sent to the provider for a new order.
#[derive(Debug, Clone, Serialize)]
pub struct OrderRequest {
    pub product: String,
    pub package: String,
    pub user_identifier: String,
    pub extra_field: Option<String>,
}

/// Why a dispatch did not produce a reference.
#[derive(Debug, Clone, PartialEq)]
pub enum DispatchError {
    /// The provider refused the order (4xx): it fails with this reason.
    Refused(String),
    /// Timeout, 5xx, connection refused: the dispatch is retried later.
    Unreachable(String),
}

/// The longest reference or PIN an order can store (the columns' size).
pub const MAX_PROVIDER_TEXT: usize = 200;

/// What the provider said to a request to cancel an order.
#[derive(Debug, Clone, PartialEq)]
pub enum CancelOutcome {
    /// The provider cancelled it.
    Cancelled,
    /// HTTP 404 or 405: this provider cannot cancel remotely; the order is only stopped here.
    NotSupported,
    /// Another 4xx, e.g. the order is already fulfilled: nothing changes.
    Refused(String),
    /// Timeout, 5xx, connection refused: nothing changes; try again.
    Unreachable(String),
}

/// A provider of product codes.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// Stored with each order, e.g. `http` or `simulated`.
    fn name(&self) -> &'static str;
    /// Places the order; returns the provider's reference.
    async fn dispatch(&self, order: &OrderRequest) -> Result<String, DispatchError>;
    /// Asks for the status of a placed order.
    async fn check(&self, reference: &str) -> CheckResult;
    /// Asks the provider to cancel a placed order.
    async fn cancel(&self, reference: &str) -> CancelOutcome;
}

/// The HTTP protocol: `POST {url}/orders` and `GET {url}/orders/{reference}` with a bearer key.
pub struct HttpProvider {
    client: reqwest::Client,
    base: String,
    api_key: Option<String>,
    timeout: Duration,
}

impl HttpProvider {
    pub fn new(client: reqwest::Client, base: &str, api_key: Option<String>, timeout: Duration) -> Self {
        HttpProvider { client, base: base.trim_end_matches('/').to_owned(), api_key, timeout }
    }

    fn request(&self, builder: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let builder = builder.timeout(self.timeout);
        match &self.api_key {
            Some(key) => builder.bearer_auth(key),
            None => builder,
        }
    }
}

#[derive(Deserialize)]
struct Dispatched {
    reference: String,
}

#[derive(Deserialize)]
struct StatusReply {
    status: String,
    pin_code: Option<String>,
    message: Option<String>,
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "the provider timed out".into()
    } else if error.is_connect() {
        "the provider refused the connection".into()
    } else {
        format!("the provider request failed: {error}")
    }
}

/// The `message` (or `error.message`) of a provider's error body, if any.
fn error_message(body: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    value["message"]
        .as_str()
        .or_else(|| value["error"]["message"].as_str())
        .or_else(|| value["error"].as_str())
        .map(str::to_owned)
}

#[async_trait]
impl Provider for HttpProvider {
    fn name(&self) -> &'static str {
        "http"
    }

    async fn dispatch(&self, order: &OrderRequest) -> Result<String, DispatchError> {
        let response = self
            .request(self.client.post(format!("{}/orders", self.base)).json(order))
            .send()
            .await
            .map_err(|e| DispatchError::Unreachable(describe(&e)))?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if status.is_success() {
            let reply: Dispatched = serde_json::from_str(&body)
                .map_err(|_| DispatchError::Unreachable("the provider's reply has no reference".into()))?;
            if reply.reference.trim().is_empty() {
                return Err(DispatchError::Unreachable("the provider returned an empty reference".into()));
            }
            if reply.reference.chars().count() > MAX_PROVIDER_TEXT {
                // Retrying would place the order again and again: it fails instead.
                return Err(DispatchError::Refused(format!(
                    "the provider returned a reference longer than {MAX_PROVIDER_TEXT} characters"
                )));
            }
            return Ok(reply.reference);
        }
        if status.is_client_error() {
            let reason = error_message(&body).unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
            return Err(DispatchError::Refused(format!("the provider refused the order: {reason}")));
        }
        Err(DispatchError::Unreachable(format!("the provider answered HTTP {}", status.as_u16())))
    }

    async fn check(&self, reference: &str) -> CheckResult {
        let url = format!("{}/orders/{}", self.base, urlencode(reference));
        let response = match self.request(self.client.get(url)).send().await {
            Ok(response) => response,
            Err(e) => return CheckResult::Unreachable(describe(&e)),
        };
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return CheckResult::UnknownReference;
        }
        if !status.is_success() {
            return CheckResult::Unreachable(format!("the provider answered HTTP {}", status.as_u16()));
        }
        match response.json::<StatusReply>().await {
            Ok(reply) => match reply.status.as_str() {
                "pending" => CheckResult::Pending,
                "processing" => CheckResult::Processing,
                "completed" if reply.pin_code.as_ref().is_some_and(|p| p.chars().count() > MAX_PROVIDER_TEXT) => {
                    CheckResult::Failed {
                        message: Some(format!("the provider sent a PIN longer than {MAX_PROVIDER_TEXT} characters")),
                    }
                }
                "completed" => CheckResult::Completed { pin_code: reply.pin_code },
                "failed" => CheckResult::Failed { message: reply.message },
                other => CheckResult::Unreachable(format!("the provider reported an unknown status {other:?}")),
            },
            Err(_) => CheckResult::Unreachable("the provider's reply is not valid JSON".into()),
        }
    }

    async fn cancel(&self, reference: &str) -> CancelOutcome {
        self.request_cancel(reference).await
    }
}

impl HttpProvider {
    /// `POST {url}/orders/{reference}/cancel`.
    async fn request_cancel(&self, reference: &str) -> CancelOutcome {
        let url = format!("{}/orders/{}/cancel", self.base, urlencode(reference));
        let response = match self.request(self.client.post(url)).send().await {
            Ok(response) => response,
            Err(e) => return CancelOutcome::Unreachable(describe(&e)),
        };
        let status = response.status();
        if status.is_success() {
            return CancelOutcome::Cancelled;
        }
        if matches!(status, reqwest::StatusCode::NOT_FOUND | reqwest::StatusCode::METHOD_NOT_ALLOWED) {
            return CancelOutcome::NotSupported;
        }
        let body = response.text().await.unwrap_or_default();
        if status.is_client_error() {
            return CancelOutcome::Refused(error_message(&body).unwrap_or_else(|| format!("HTTP {}", status.as_u16())));
        }
        CancelOutcome::Unreachable(format!("the provider answered HTTP {}", status.as_u16()))
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Demo mode's provider: completes orders after a random delay and fails about
/// one in five. The outcome is encoded in the reference, so it survives restarts.
pub struct SimulatedProvider {
    /// Longest simulated processing time.
    pub max_delay: Duration,
}

#[async_trait]
impl Provider for SimulatedProvider {
    fn name(&self) -> &'static str {
        "simulated"
    }

    async fn dispatch(&self, order: &OrderRequest) -> Result<String, DispatchError> {
        if order.user_identifier.to_lowercase().contains("reject") {
            return Err(DispatchError::Refused("the provider refused the order: this account is blocked".into()));
        }
        let mut rng = rand::thread_rng();
        let delay = rng.gen_range(self.max_delay.as_secs() / 4..=self.max_delay.as_secs().max(1));
        let outcome = if rng.gen_range(0..5) == 0 { 'F' } else { 'C' };
        Ok(format!("SIM-{}-{delay}-{outcome}-{:04x}", Utc::now().timestamp(), rng.r#gen::<u16>()))
    }

    async fn check(&self, reference: &str) -> CheckResult {
        let parts: Vec<&str> = reference.split('-').collect();
        let (Some(created), Some(delay), Some(outcome)) = (
            parts.get(1).and_then(|p| p.parse::<i64>().ok()),
            parts.get(2).and_then(|p| p.parse::<i64>().ok()),
            parts.get(3),
        ) else {
            return CheckResult::UnknownReference;
        };
        let elapsed = Utc::now().timestamp() - created;
        if elapsed < delay / 2 {
            CheckResult::Pending
        } else if elapsed < delay {
            CheckResult::Processing
        } else if *outcome == "F" {
            CheckResult::Failed { message: Some("the provider ran out of codes for this package".into()) }
        } else {
            let digest = Sha256::digest(reference.as_bytes());
            let pin: String = digest
                .iter()
                .take(4)
                .map(|b| format!("{:04}", u16::from(*b) * 39 % 10000))
                .collect::<Vec<_>>()
                .join("-");
            CheckResult::Completed { pin_code: Some(pin) }
        }
    }

    async fn cancel(&self, _reference: &str) -> CancelOutcome {
        CancelOutcome::Cancelled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_simulated_provider_decides_from_the_reference() {
        let provider = SimulatedProvider { max_delay: Duration::from_secs(60) };
        let order =
            OrderRequest { product: "p".into(), package: "k".into(), user_identifier: "u".into(), extra_field: None };
        let reference = provider.dispatch(&order).await.unwrap();
        assert!(reference.starts_with("SIM-"));
        assert!(matches!(provider.check(&reference).await, CheckResult::Pending | CheckResult::Processing));
        let old = format!("SIM-{}-10-C-abcd", Utc::now().timestamp() - 100);
        let CheckResult::Completed { pin_code: Some(pin) } = provider.check(&old).await else { panic!("completed") };
        assert_eq!(pin.len(), 19);
        assert_eq!(
            provider.check(&old).await,
            CheckResult::Completed { pin_code: Some(pin) },
            "the same PIN every time"
        );
        let failed = format!("SIM-{}-10-F-abcd", Utc::now().timestamp() - 100);
        assert!(matches!(provider.check(&failed).await, CheckResult::Failed { .. }));
        assert_eq!(provider.check("nonsense").await, CheckResult::UnknownReference);
        let blocked = OrderRequest { user_identifier: "reject-me".into(), ..order };
        assert!(matches!(provider.dispatch(&blocked).await, Err(DispatchError::Refused(_))));
    }

    #[test]
    fn references_are_escaped_in_urls() {
        assert_eq!(urlencode("A b/c"), "A%20b%2Fc");
    }
}
