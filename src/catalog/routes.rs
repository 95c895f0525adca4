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

#[utoipa::path(
    get, path = "/api/imports/catalog/files", tag = "catalog",
    responses((status = 200, description = "the importable files in CATALOG_DIR", body = Vec<String>), (status = 403, description = "the caller is not an ADMIN (`forbidden`)", body = crate::openapi::ErrorBody))
)]
async fn list_files(State(state): State<AppState>, _admin: AdminUser) -> AppJson<Vec<String>> {
    AppJson(catalog_files(&state.config.catalog_dir).await)
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ImportRequest {
    file: Option<String>,
}

/// The body is optional: no body imports the default file.
#[utoipa::path(
    post, path = "/api/imports/catalog", tag = "catalog",
    request_body(content = Option<ImportRequest>, description = "optional: no body imports the default file"),
    responses((status = 202, description = "the import job, started", body = JobView), (status = 403, description = "the caller is not an ADMIN (`forbidden`)", body = crate::openapi::ErrorBody),
        (status = 409, description = "an import is running (`already_running`)", body = crate::openapi::ErrorBody),
        (status = 503, description = "the import lock or the database is unavailable (`unavailable`)", body = crate::openapi::ErrorBody))
)]
async fn import_catalog(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    OptionalJson(request): OptionalJson<ImportRequest>,
) -> Result<(StatusCode, AppJson<JobView>)> {
    let job = start_import(&state, Some(admin.id), request.file.as_deref()).await?;
    Ok((StatusCode::ACCEPTED, AppJson(job)))
}
