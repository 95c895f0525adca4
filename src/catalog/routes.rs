//! `/api/imports/catalog` (ADMIN).

use axum::{
    Router,
    extract::State,
    http::StatusCode,
    routing::{get, post},
};
use serde::Deserialize;

use super::import::{catalog_files, start_import};
use crate::{
    auth::AdminUser,
    error::{AppJson, OptionalJson, Result},
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
    OptionalJson(request): OptionalJson<ImportRequest>,
) -> Result<(StatusCode, AppJson<JobView>)> {
    let job = start_import(&state, &admin, request.file.as_deref()).await?;
    Ok((StatusCode::ACCEPTED, AppJson(job)))
}
