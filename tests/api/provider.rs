//! A real HTTP server playing the order provider. Each order's `product` scripts
//! its behaviour, e.g. `pin-after:3` (pending twice, then completed with a PIN),
//! `fail`, `unknown`, `never`, `flaky:2` (two 503s first), `slow:1` (first check too slow),
//! `long-pin` (a PIN longer than any column); a `user_identifier` of `long-ref` gets a
//! reference that long. Cancelling works, except for `nocancel` products (405),
//! `fulfilled` ones (409) and `cancel-down` ones (503).

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    routing::{get, post},
};
use serde_json::{Value, json};

#[derive(Default)]
pub struct Reference {
    pub product: String,
    pub dispatched_at: Option<Instant>,
    pub checks: Vec<Instant>,
    pub in_flight: usize,
    pub max_in_flight: usize,
    pub cancelled: bool,
}

#[derive(Default)]
pub struct Ledger {
    pub references: HashMap<String, Reference>,
    next: u64,
}

pub type Shared = Arc<Mutex<Ledger>>;

pub struct FakeProvider {
    pub address: SocketAddr,
    pub ledger: Shared,
}

pub const API_KEY: &str = "test-provider-key";

impl FakeProvider {
    pub async fn start() -> FakeProvider {
        let ledger: Shared = Arc::default();
        let router = Router::new()
            .route("/orders", post(dispatch))
            .route("/orders/{reference}", get(check))
            .route("/orders/{reference}/cancel", post(cancel))
            .with_state(ledger.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        FakeProvider { address, ledger }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Check times of a reference, measured from its dispatch.
    pub fn check_offsets(&self, reference: &str) -> Vec<Duration> {
        let ledger = self.ledger.lock().unwrap();
        let entry = &ledger.references[reference];
        let start = entry.dispatched_at.unwrap();
        entry.checks.iter().map(|t| t.duration_since(start)).collect()
    }

    pub fn checks(&self, reference: &str) -> usize {
        self.ledger.lock().unwrap().references[reference].checks.len()
    }

    pub fn cancelled(&self, reference: &str) -> bool {
        self.ledger.lock().unwrap().references[reference].cancelled
    }

    pub fn max_in_flight(&self, reference: &str) -> usize {
        self.ledger.lock().unwrap().references[reference].max_in_flight
    }
}

async fn dispatch(
    State(ledger): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Bearer {API_KEY}")) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"message": "bad API key"})));
    }
    match body["user_identifier"].as_str() {
        Some("refuse") => return (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({"message": "unknown account"}))),
        Some("down") => return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({}))),
        _ => {}
    }
    let mut ledger = ledger.lock().unwrap();
    ledger.next += 1;
    let reference = match body["user_identifier"].as_str() {
        Some("long-ref") => format!("REF-{}-{}", ledger.next, "x".repeat(300)),
        _ => format!("REF-{}", ledger.next),
    };
    ledger.references.insert(
        reference.clone(),
        Reference {
            product: body["product"].as_str().unwrap_or_default().to_owned(),
            dispatched_at: Some(Instant::now()),
            ..Default::default()
        },
    );
    (StatusCode::OK, Json(json!({"reference": reference, "status": "pending"})))
}

async fn check(State(ledger): State<Shared>, Path(reference): Path<String>) -> (StatusCode, Json<Value>) {
    let (product, n) = {
        let mut ledger = ledger.lock().unwrap();
        let Some(entry) = ledger.references.get_mut(&reference) else {
            return (StatusCode::NOT_FOUND, Json(json!({"message": "no such order"})));
        };
        entry.checks.push(Instant::now());
        entry.in_flight += 1;
        entry.max_in_flight = entry.max_in_flight.max(entry.in_flight);
        (entry.product.clone(), entry.checks.len())
    };
    // Every check takes a little while, so overlapping checks would show.
    tokio::time::sleep(Duration::from_millis(30)).await;
    let (rule, count) = product.split_once(':').map_or((product.as_str(), 0), |(r, c)| (r, c.parse().unwrap_or(0)));
    if rule == "slow" && n <= count {
        tokio::time::sleep(Duration::from_millis(800)).await;
    }
    let reply = match rule {
        "pin-after" if n >= count => {
            (StatusCode::OK, json!({"status": "completed", "pin_code": format!("PIN-{reference}")}))
        }
        "pin-after" if n >= 2 => (StatusCode::OK, json!({"status": "processing"})),
        "fail" => (StatusCode::OK, json!({"status": "failed", "message": "out of stock at the provider"})),
        "long-pin" => (StatusCode::OK, json!({"status": "completed", "pin_code": "9".repeat(300)})),
        "unknown" => (StatusCode::NOT_FOUND, json!({"message": "no such order"})),
        "flaky" if n <= count => (StatusCode::SERVICE_UNAVAILABLE, json!({})),
        "flaky" | "slow" => (StatusCode::OK, json!({"status": "completed", "pin_code": "4242"})),
        _ => (StatusCode::OK, json!({"status": "pending"})),
    };
    ledger.lock().unwrap().references.get_mut(&reference).unwrap().in_flight -= 1;
    (reply.0, Json(reply.1))
}

async fn cancel(State(ledger): State<Shared>, Path(reference): Path<String>) -> (StatusCode, Json<Value>) {
    let mut ledger = ledger.lock().unwrap();
    let Some(entry) = ledger.references.get_mut(&reference) else {
        return (StatusCode::NOT_FOUND, Json(json!({"message": "no such order"})));
    };
    match entry.product.as_str() {
        "nocancel" => return (StatusCode::METHOD_NOT_ALLOWED, Json(json!({"message": "orders cannot be cancelled"}))),
        "fulfilled" => return (StatusCode::CONFLICT, Json(json!({"message": "the code was already issued"}))),
        "cancel-down" => return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({}))),
        _ => {}
    }
    entry.cancelled = true;
    (StatusCode::OK, Json(json!({"status": "cancelled"})))
}
