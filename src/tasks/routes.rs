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

async fn create_task(
    State(state): State<AppState>,
    user: CurrentUser,
    AppJson(input): AppJson<NewTask>,
) -> Result<(StatusCode, AppJson<TaskView>)> {
    let task = service::create_task(&state, &user, input).await?;
    Ok((StatusCode::CREATED, AppJson(task)))
}

async fn list_tasks(
    State(state): State<AppState>,
    user: CurrentUser,
    AppQuery(filter): AppQuery<TaskFilter>,
) -> Result<AppJson<TaskPage>> {
    Ok(AppJson(service::list_tasks(&state.db, &user, filter).await?))
}

async fn get_task(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(id): AppPath<i64>,
) -> Result<AppJson<TaskView>> {
    Ok(AppJson(service::get_task(&state.db, &user, id).await?))
}

async fn approve_task(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    AppPath(id): AppPath<i64>,
) -> Result<AppJson<TaskView>> {
    Ok(AppJson(service::approve_task(&state, &admin, id).await?))
}

#[derive(Deserialize)]
struct Rejection {
    reason: String,
}

async fn reject_task(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    AppPath(id): AppPath<i64>,
    AppJson(body): AppJson<Rejection>,
) -> Result<AppJson<TaskView>> {
    Ok(AppJson(service::reject_task(&state, &admin, id, &body.reason).await?))
}

async fn complete_subtask(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath((id, subtask_id)): AppPath<(i64, i64)>,
) -> Result<AppJson<TaskView>> {
    Ok(AppJson(service::complete_subtask(&state, &user, id, subtask_id).await?))
}

async fn task_history(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(id): AppPath<i64>,
) -> Result<AppJson<Vec<ActivityView>>> {
    Ok(AppJson(history::task_history(&state, &user, id).await?))
}
