//! `/health` and `/ready`, for load balancers and orchestrators; no auth.

use axum::{Json, Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};
use serde_json::json;

use crate::{db, state::AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
}

/// The process is up.
async fn health() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// The process can serve: the database answers.
async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    if db::ping(&state.db).await {
        (
            StatusCode::OK,
            Json(json!({"status": "ready", "checks": {"database": "up"}})),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "error": {"code": "unavailable", "message": "the database does not answer"},
                "checks": {"database": "down"}
            })),
        )
    }
}
