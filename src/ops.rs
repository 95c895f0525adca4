//! `/health`, `/ready` and `/metrics`, for load balancers, orchestrators and Prometheus; no auth.

use axum::{Json, Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};
use serde_json::json;

use crate::{db, state::AppState};

pub fn router() -> Router<AppState> {
    Router::new().route("/health", get(health)).route("/ready", get(ready)).route("/metrics", get(metrics))
}

/// `GET /health`: `{"status":"ok"}`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Health {
    #[schema(example = "ok")]
    status: String,
}

/// `GET /ready` when the server can serve.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Readiness {
    #[schema(example = "ready")]
    status: String,
    checks: ReadinessChecks,
}

/// `GET /ready` when it cannot: the error shape, with the checks.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct NotReady {
    error: crate::openapi::ErrorDetail,
    checks: ReadinessChecks,
}

/// `up` or `down` for each backend; `redis` only when REDIS_URL is set.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ReadinessChecks {
    #[schema(example = "up")]
    database: String,
    #[schema(example = "up")]
    redis: Option<String>,
}

/// The process is up.
#[utoipa::path(
    get, path = "/health", tag = "ops", security(()),
    responses((status = 200, description = "the process is up", body = Health))
)]
async fn health() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// The process can serve: the database answers, and Redis too when configured.
#[utoipa::path(
    get, path = "/ready", tag = "ops", security(()),
    responses(
        (status = 200, description = "the database (and Redis, when configured) answer", body = Readiness),
        (status = 503, description = "a backend is down (`unavailable`)", body = NotReady),
    )
)]
async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let database = db::ping(&state.db).await && db::ping(&state.reads).await;
    let redis = state.bus.healthy();
    let up = |ok: bool| if ok { "up" } else { "down" };
    let mut checks = json!({"database": up(database)});
    if let Some(redis) = redis {
        checks["redis"] = json!(up(redis));
    }
    if database && redis != Some(false) {
        return (StatusCode::OK, Json(json!({"status": "ready", "checks": checks})));
    }
    let down: Vec<&str> = [("database", database), ("redis", redis != Some(false))]
        .into_iter()
        .filter(|(_, ok)| !ok)
        .map(|(name, _)| name)
        .collect();
    let message = format!("not ready: {} down", down.join(" and "));
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"error": {"code": "unavailable", "message": message}, "checks": checks})),
    )
}

/// Prometheus metrics (handled by `metrics`; documented here).
#[utoipa::path(
    get, path = "/metrics", tag = "ops", security(()),
    responses((status = 200, description = "the metrics in the OpenMetrics text format", body = String,
        content_type = "application/openmetrics-text"))
)]
async fn metrics(state: State<AppState>) -> axum::response::Response {
    crate::metrics::metrics_handler(state).await
}
