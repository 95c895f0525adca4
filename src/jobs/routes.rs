//! `/api/jobs`: the dashboard's reads and the external-worker protocol (ADMIN only).

use axum::{
    Router,
    extract::{Path, Query, State},
    http::StatusCode,
    routing::{get, post},
};
use serde::Deserialize;

use super::{
    JobView,
    model::JobStatus,
    progress::ProgressUpdate,
    service::{self, JobDetail, JobFilter, JobPage, JobStats, NewJob, Runner, find_job},
};
use crate::{
    auth::AdminUser,
    error::{AppError, AppJson, Result},
    state::AppState,
};

/// Kinds the server runs itself; workers pick other names.
pub const BUILT_IN_KINDS: [&str; 2] = ["scrape_store", "catalog_import"];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/jobs", get(list_jobs).post(create_job))
        .route("/api/jobs/stats", get(job_stats))
        .route("/api/jobs/{id}", get(get_job).delete(delete_job))
        .route("/api/jobs/{id}/progress", post(report_progress))
        .route("/api/jobs/{id}/finish", post(finish_job))
        .route("/api/jobs/{id}/cancel", post(cancel_job))
}

async fn list_jobs(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(filter): Query<JobFilter>,
) -> Result<AppJson<JobPage>> {
    Ok(AppJson(service::list_jobs(&state, filter).await?))
}

async fn job_stats(State(state): State<AppState>, _admin: AdminUser) -> Result<AppJson<JobStats>> {
    Ok(AppJson(service::job_stats(&state).await?))
}

async fn get_job(State(state): State<AppState>, _admin: AdminUser, Path(id): Path<i64>) -> Result<AppJson<JobDetail>> {
    Ok(AppJson(service::get_job(&state, id).await?))
}

/// The body of `POST /api/jobs`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExternalJob {
    kind: String,
    name: String,
    scope: Option<String>,
    items_total: Option<i64>,
    #[serde(default)]
    exclusive: bool,
}

async fn create_job(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    AppJson(body): AppJson<ExternalJob>,
) -> Result<(StatusCode, AppJson<JobView>)> {
    let kind = body.kind.trim();
    let valid_kind = !kind.is_empty()
        && kind.len() <= 64
        && kind.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'));
    if !valid_kind {
        return Err(AppError::field("kind", "must be 1 to 64 characters of letters, digits, '_', '-', '.', ':'"));
    }
    if BUILT_IN_KINDS.contains(&kind) {
        return Err(AppError::field("kind", &format!("{kind} jobs are run by the server; use its own endpoint")));
    }
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::field("name", "must be 1 to 200 characters long"));
    }
    let scope = body.scope.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    if scope.as_ref().is_some_and(|s| s.chars().count() > 200) {
        return Err(AppError::field("scope", "must be at most 200 characters long"));
    }
    let items_total = body.items_total.unwrap_or(0);
    if items_total < 0 {
        return Err(AppError::field("items_total", "must not be negative"));
    }
    let job = service::create_job(
        &state,
        NewJob {
            kind: kind.to_owned(),
            name: name.to_owned(),
            scope,
            items_total,
            runner: Runner::External,
            params: None,
            created_by: Some(admin.id),
            start_running: true,
            exclusive: body.exclusive,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, AppJson(job)))
}

/// An external job that is running, or the error saying why not.
async fn running_external_job(state: &AppState, id: i64) -> Result<crate::entity::job::Model> {
    let job = find_job(&state.db, id).await?;
    if job.runner != Runner::External.as_str() {
        return Err(AppError::InvalidState(format!("job {id} is run by the server, not by a worker")));
    }
    if job.status != JobStatus::Running {
        return Err(AppError::InvalidState(format!("job {id} is {}, not running", job.status)));
    }
    Ok(job)
}

async fn report_progress(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(id): Path<i64>,
    AppJson(update): AppJson<ProgressUpdate>,
) -> Result<AppJson<JobView>> {
    update.validate()?;
    let job = running_external_job(&state, id).await?;
    update.check_against(&state.jobs.progress.overlay(JobView::from_model(&job, chrono::Utc::now())))?;
    match state.jobs.progress.record(&state, id, update).await? {
        Some(view) => Ok(AppJson(view)),
        None => Err(AppError::InvalidState(format!("job {id} is no longer running"))),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Finish {
    status: String,
    error_message: Option<String>,
    message: Option<String>,
}

async fn finish_job(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(id): Path<i64>,
    AppJson(body): AppJson<Finish>,
) -> Result<AppJson<JobView>> {
    let status = match body.status.as_str() {
        "completed" => JobStatus::Completed,
        "failed" => JobStatus::Failed,
        "cancelled" => JobStatus::Cancelled,
        _ => return Err(AppError::field("status", "must be completed, failed or cancelled")),
    };
    if body.error_message.as_ref().is_some_and(|m| m.chars().count() > 2000) {
        return Err(AppError::field("error_message", "must be at most 2000 characters long"));
    }
    if body.message.as_ref().is_some_and(|m| m.chars().count() > 1000) {
        return Err(AppError::field("message", "must be at most 1000 characters long"));
    }
    running_external_job(&state, id).await?;
    let error_message = match status {
        JobStatus::Failed => Some(body.error_message.unwrap_or_else(|| "the worker reported a failure".into())),
        _ => body.error_message,
    };
    Ok(AppJson(service::finish_job(&state, id, status, error_message, body.message).await?))
}

async fn cancel_job(State(state): State<AppState>, _admin: AdminUser, Path(id): Path<i64>) -> Result<AppJson<JobView>> {
    Ok(AppJson(service::cancel_job(&state, id).await?))
}

async fn delete_job(State(state): State<AppState>, _admin: AdminUser, Path(id): Path<i64>) -> Result<StatusCode> {
    service::delete_job(&state, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
