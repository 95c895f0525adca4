//! `/api/tasks`: thin handlers over the task service.

use axum::{
    Router,
    extract::State,
    http::StatusCode,
    routing::{get, post},
};
use serde::Deserialize;

use super::{
    TaskView,
    history::{self, ActivityView},
    service::{self, NewTask, TaskFilter, TaskPage},
};
use crate::{
    auth::{AdminUser, CurrentUser},
    error::{AppJson, AppPath, AppQuery, Result},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/tasks", get(list_tasks).post(create_task))
        .route("/api/tasks/{id}", get(get_task))
        .route("/api/tasks/{id}/history", get(task_history))
        .route("/api/tasks/{id}/approve", post(approve_task))
        .route("/api/tasks/{id}/reject", post(reject_task))
        .route("/api/tasks/{id}/subtasks/{subtask_id}/complete", post(complete_subtask))
}

#[utoipa::path(
    post, path = "/api/tasks", tag = "tasks", request_body = NewTask,
    responses((status = 201, description = "created, pending approval", body = TaskView))
)]
async fn create_task(
    State(state): State<AppState>,
    user: CurrentUser,
    AppJson(input): AppJson<NewTask>,
) -> Result<(StatusCode, AppJson<TaskView>)> {
    let task = service::create_task(&state, &user, input).await?;
    Ok((StatusCode::CREATED, AppJson(task)))
}

#[utoipa::path(
    get, path = "/api/tasks", tag = "tasks", params(TaskFilter),
    responses((status = 200, description = "the tasks the caller may see, newest first", body = TaskPage))
)]
async fn list_tasks(
    State(state): State<AppState>,
    user: CurrentUser,
    AppQuery(filter): AppQuery<TaskFilter>,
) -> Result<AppJson<TaskPage>> {
    Ok(AppJson(service::list_tasks(&state.db, &user, filter).await?))
}

#[utoipa::path(
    get, path = "/api/tasks/{id}", tag = "tasks", params(("id" = i64, Path, description = "task id", example = 1)),
    responses((status = 200, description = "the task with its subtasks", body = TaskView),
        (status = 404, description = "no such task, or not the caller's (`not_found`)", body = crate::openapi::ErrorBody))
)]
async fn get_task(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(id): AppPath<i64>,
) -> Result<AppJson<TaskView>> {
    Ok(AppJson(service::get_task(&state.db, &user, id).await?))
}

#[utoipa::path(
    post, path = "/api/tasks/{id}/approve", tag = "tasks", params(("id" = i64, Path, description = "task id", example = 1)),
    responses((status = 200, description = "approved; subtasks generated", body = TaskView), (status = 403, description = "the caller is not an ADMIN (`forbidden`)", body = crate::openapi::ErrorBody),
        (status = 404, description = "no such task (`not_found`)", body = crate::openapi::ErrorBody), (status = 409, description = "the task is not pending approval (`invalid_state`)", body = crate::openapi::ErrorBody))
)]
async fn approve_task(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    AppPath(id): AppPath<i64>,
) -> Result<AppJson<TaskView>> {
    Ok(AppJson(service::approve_task(&state, &admin, id).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct Rejection {
    #[schema(min_length = 1, max_length = 1000)]
    reason: String,
}

#[utoipa::path(
    post, path = "/api/tasks/{id}/reject", tag = "tasks", params(("id" = i64, Path, description = "task id", example = 1)),
    request_body = Rejection,
    responses((status = 200, description = "rejected", body = TaskView), (status = 403, description = "the caller is not an ADMIN (`forbidden`)", body = crate::openapi::ErrorBody),
        (status = 404, description = "no such task (`not_found`)", body = crate::openapi::ErrorBody), (status = 409, description = "the task is not pending approval (`invalid_state`)", body = crate::openapi::ErrorBody))
)]
async fn reject_task(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    AppPath(id): AppPath<i64>,
    AppJson(body): AppJson<Rejection>,
) -> Result<AppJson<TaskView>> {
    Ok(AppJson(service::reject_task(&state, &admin, id, &body.reason).await?))
}

#[utoipa::path(
    post, path = "/api/tasks/{id}/subtasks/{subtask_id}/complete", tag = "tasks",
    params(("id" = i64, Path, description = "task id", example = 1), ("subtask_id" = i64, Path, description = "subtask id", example = 1)),
    responses((status = 200, description = "the subtask is done; the last one completes the task", body = TaskView),
        (status = 403, description = "only the assignee or an ADMIN may work on the task (`forbidden`)", body = crate::openapi::ErrorBody),
        (status = 404, description = "no such task or subtask, or not the caller's (`not_found`)", body = crate::openapi::ErrorBody),
        (status = 409, description = "the task is not approved, or the subtask is already done (`invalid_state`)", body = crate::openapi::ErrorBody))
)]
async fn complete_subtask(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath((id, subtask_id)): AppPath<(i64, i64)>,
) -> Result<AppJson<TaskView>> {
    Ok(AppJson(service::complete_subtask(&state, &user, id, subtask_id).await?))
}

#[utoipa::path(
    get, path = "/api/tasks/{id}/history", tag = "tasks", params(("id" = i64, Path, description = "task id", example = 1)),
    responses((status = 200, description = "who did what when, oldest first", body = Vec<ActivityView>),
        (status = 404, description = "no such task, or not the caller's (`not_found`)", body = crate::openapi::ErrorBody))
)]
async fn task_history(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(id): AppPath<i64>,
) -> Result<AppJson<Vec<ActivityView>>> {
    Ok(AppJson(history::task_history(&state, &user, id).await?))
}
