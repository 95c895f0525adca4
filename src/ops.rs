//! `/health`, `/ready` and `/metrics`, for load balancers, orchestrators and Prometheus; no auth.

use axum::{Json, Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};
use serde_json::json;

use crate::{db, state::AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(crate::metrics::metrics_handler))
}

/// The process is up.
async fn health() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// The process can serve: the database answers, and Redis too when configured.
async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let database = db::ping(&state.db).await;
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
