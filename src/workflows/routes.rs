//! `/api/workflows`.

use axum::{Router, extract::State, http::StatusCode, routing::get};

use super::{
    Workflow,
    model::{NewWorkflow, WorkflowChanges, WorkflowDefinition},
    service,
};
use crate::{
    auth::{AdminUser, CurrentUser},
    error::{AppJson, AppPath, Result},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/workflows", get(list_workflows).post(create_workflow))
        .route("/api/workflows/{key}", axum::routing::put(put_workflow).patch(update_workflow))
}

#[utoipa::path(
    get, path = "/api/workflows", tag = "workflows",
    responses((status = 200, description = "ADMIN: every template, with its `active` flag; anyone else: the active ones", body = Vec<Workflow>))
)]
async fn list_workflows(State(state): State<AppState>, user: CurrentUser) -> Result<AppJson<Vec<Workflow>>> {
    Ok(AppJson(service::list_for(&state.db, &user).await?))
}

#[utoipa::path(
    post, path = "/api/workflows", tag = "workflows", request_body = NewWorkflow,
    responses((status = 201, description = "created", body = Workflow), (status = 403, description = "the caller is not an ADMIN (`forbidden`)", body = crate::openapi::ErrorBody),
        (status = 409, description = "the key is taken (`conflict`)", body = crate::openapi::ErrorBody))
)]
async fn create_workflow(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppJson(new): AppJson<NewWorkflow>,
) -> Result<(StatusCode, AppJson<Workflow>)> {
    Ok((StatusCode::CREATED, AppJson(service::create(&state, new).await?)))
}

#[utoipa::path(
    put, path = "/api/workflows/{key}", tag = "workflows",
    params(("key" = String, Path, description = "the template's key: lowercase letters, digits, `_` and `-`", example = "vehicle_registration")),
    request_body = WorkflowDefinition,
    responses((status = 200, description = "created or replaced", body = Workflow), (status = 403, description = "the caller is not an ADMIN (`forbidden`)", body = crate::openapi::ErrorBody))
)]
async fn put_workflow(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppPath(key): AppPath<String>,
    AppJson(definition): AppJson<WorkflowDefinition>,
) -> Result<AppJson<Workflow>> {
    Ok(AppJson(service::put(&state, &key, definition).await?))
}

#[utoipa::path(
    patch, path = "/api/workflows/{key}", tag = "workflows",
    params(("key" = String, Path, description = "the template's key", example = "vehicle_registration")),
    request_body = WorkflowChanges,
    responses((status = 200, description = "updated", body = Workflow), (status = 403, description = "the caller is not an ADMIN (`forbidden`)", body = crate::openapi::ErrorBody),
        (status = 404, description = "no such template (`not_found`)", body = crate::openapi::ErrorBody))
)]
async fn update_workflow(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppPath(key): AppPath<String>,
    AppJson(changes): AppJson<WorkflowChanges>,
) -> Result<AppJson<Workflow>> {
    Ok(AppJson(service::update(&state, &key, changes).await?))
}
