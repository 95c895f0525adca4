//! Prometheus metrics: one registry per application (no process-wide globals,
//! so several apps in one process — as in the tests — keep separate figures).

use std::sync::Mutex;

use axum::{
    extract::{MatchedPath, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

use crate::state::AppState;

/// Labels of the HTTP metrics: the route pattern, never the raw path, so ids don't explode the series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: &'static str,
    pub route: String,
    pub status: u16,
}

/// Labels of the per-method latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    pub method: &'static str,
}

/// Labels of the job gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    pub status: String,
}

/// Every metric taskwire exposes.
pub struct Metrics {
    registry: Mutex<Registry>,
    pub sessions_connected: Gauge,
    pub events_published: Counter,
    pub events_delivered: Counter,
    /// Seconds from an event's commit to its fan-out on this instance.
    pub delivery_lag: Histogram,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_latency: Family<MethodLabels, Histogram>,
    pub bus_reconnects: Counter,
    /// Bus messages dropped because they were not signed with the deployment's key.
    pub bus_rejected: Counter,
    pub jobs_by_status: Family<StatusLabels, Gauge>,
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        let metrics = Metrics {
            registry: Mutex::new(Registry::with_prefix("taskwire")),
            sessions_connected: Gauge::default(),
            events_published: Counter::default(),
            events_delivered: Counter::default(),
            delivery_lag: latency_histogram(),
            http_requests: Family::default(),
            http_latency: Family::new_with_constructor(latency_histogram),
            bus_reconnects: Counter::default(),
            bus_rejected: Counter::default(),
            jobs_by_status: Family::default(),
        };
        {
            let mut registry = metrics.registry.lock().unwrap_or_else(|e| e.into_inner());
            registry.register("ws_sessions", "Connected WebSocket sessions", metrics.sessions_connected.clone());
            registry.register(
                "events_published",
                "Events handed to the bus by this instance",
                metrics.events_published.clone(),
            );
            registry.register(
                "events_delivered",
                "Event frames queued to sessions by this instance",
                metrics.events_delivered.clone(),
            );
            registry.register(
                "event_delivery_lag_seconds",
                "Time from an event's commit to its fan-out",
                metrics.delivery_lag.clone(),
            );
            registry.register("http_requests", "HTTP requests by route and status", metrics.http_requests.clone());
            registry.register("http_request_duration_seconds", "HTTP request latency", metrics.http_latency.clone());
            registry.register("bus_reconnects", "Reconnections of the bus to Redis", metrics.bus_reconnects.clone());
            registry.register(
                "bus_rejected",
                "Bus messages dropped as forged, unsigned or garbled",
                metrics.bus_rejected.clone(),
            );
            registry.register("jobs", "Jobs by status", metrics.jobs_by_status.clone());
        }
        metrics
    }
}

impl Metrics {
    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut text = String::new();
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        encode(&mut text, &registry).expect("writing to a String cannot fail");
        text
    }
}

/// Counts and times one HTTP request (called by the `observe` layer).
pub fn record_http(
    metrics: &Metrics,
    method: &axum::http::Method,
    route: Option<&MatchedPath>,
    status: StatusCode,
    elapsed: std::time::Duration,
) {
    let method = method_label(method);
    let route = route.map_or("unmatched", MatchedPath::as_str).to_owned();
    metrics.http_requests.get_or_create(&HttpLabels { method, route, status: status.as_u16() }).inc();
    metrics.http_latency.get_or_create(&MethodLabels { method }).observe(elapsed.as_secs_f64());
}

/// The method as a label: one of the standard methods or `other`, so made-up
/// methods cannot grow the number of series.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// `GET /metrics`, in the OpenMetrics text format Prometheus scrapes.
pub async fn metrics_handler(State(state): State<AppState>) -> Response {
    crate::jobs::refresh_job_gauges(&state).await;
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        state.metrics.render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use axum::http::Method;

    use super::method_label;

    #[test]
    fn only_standard_methods_are_labels() {
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
        assert_eq!(method_label(&Method::from_bytes(b"get").unwrap()), "other");
    }
}
