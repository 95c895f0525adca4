//! `/api/workflows`.

use axum::{
    Router,
    extract::State,
    routing::{get, put},
};

use super::{Workflow, service};
use crate::{
    auth::{AdminUser, CurrentUser},
    error::{AppJson, AppPath, Result},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/workflows", get(list_workflows)).route("/api/workflows/{key}", put(put_workflow))
}

#[utoipa::path(
    get, path = "/api/workflows", tag = "workflows",
    responses((status = 200, description = "every template", body = Vec<Workflow>))
)]
async fn list_workflows(State(state): State<AppState>, _user: CurrentUser) -> Result<AppJson<Vec<Workflow>>> {
    Ok(AppJson(service::list(&state.db).await?))
}

#[utoipa::path(
    put, path = "/api/workflows/{key}", tag = "workflows",
    params(("key" = String, Path, description = "the template's key: lowercase letters, digits and `_`", example = "vehicle_registration")),
    request_body = service::WorkflowDefinition,
    responses((status = 200, description = "created or replaced", body = Workflow), (status = 403, description = "the caller is not an ADMIN (`forbidden`)", body = crate::openapi::ErrorBody))
)]
async fn put_workflow(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppPath(key): AppPath<String>,
    AppJson(definition): AppJson<service::WorkflowDefinition>,
) -> Result<AppJson<Workflow>> {
    Ok(AppJson(service::put(&state.db, &key, definition).await?))
}
