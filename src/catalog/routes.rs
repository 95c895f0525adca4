//! `/api/imports/catalog` (ADMIN).

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::StatusCode,
    routing::{get, post},
};
use serde::Deserialize;

use super::import::{catalog_files, start_import};
use crate::{
    auth::AdminUser,
    error::{AppError, AppJson, Result},
    jobs::JobView,
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/imports/catalog", post(import_catalog))
        .route("/api/imports/catalog/files", get(list_files))
}

async fn list_files(State(state): State<AppState>, _admin: AdminUser) -> AppJson<Vec<String>> {
    AppJson(catalog_files(&state.config.catalog_dir).await)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ImportRequest {
    file: Option<String>,
}

/// The body is optional: no body imports the default file.
async fn import_catalog(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    body: Bytes,
) -> Result<(StatusCode, AppJson<JobView>)> {
    let request: ImportRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ImportRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => AppError::Validation(e.to_string()),
            _ => AppError::InvalidJson(format!("the body is not valid JSON: {e}")),
        })?
    };
    let job = start_import(&state, &admin, request.file.as_deref()).await?;
    Ok((StatusCode::ACCEPTED, AppJson(job)))
}
