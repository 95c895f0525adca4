//! `/api/jobs`: the dashboard's reads and the external-worker protocol (ADMIN only).

use axum::{
    Router,
    extract::State,
    http::StatusCode,
    routing::{get, post},
};

use super::{
    JobView,
    progress::ProgressUpdate,
    retry,
    service::{self, JobDetail, JobFilter, JobPage, JobStats},
    worker::{self, FinishReport, NewExternalJob},
};
use crate::{
    auth::AdminUser,
    error::{AppJson, AppPath, AppQuery, Result},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/jobs", get(list_jobs).post(create_job))
        .route("/api/jobs/stats", get(job_stats))
        .route("/api/jobs/{id}", get(get_job).delete(delete_job))
        .route("/api/jobs/{id}/progress", post(report_progress))
        .route("/api/jobs/{id}/finish", post(finish_job))
        .route("/api/jobs/{id}/cancel", post(cancel_job))
        .route("/api/jobs/{id}/retry", post(retry_job))
}

#[utoipa::path(
    get, path = "/api/jobs", tag = "jobs", params(JobFilter),
    responses((status = 200, description = "jobs, newest first", body = JobPage), (status = 403, description = "the caller is not an ADMIN (`forbidden`)", body = crate::openapi::ErrorBody))
)]
async fn list_jobs(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppQuery(filter): AppQuery<JobFilter>,
) -> Result<AppJson<JobPage>> {
    Ok(AppJson(service::list_jobs(&state, filter).await?))
}

#[utoipa::path(
    get, path = "/api/jobs/stats", tag = "jobs",
    responses((status = 200, description = "totals for the dashboard", body = JobStats), (status = 403, description = "the caller is not an ADMIN (`forbidden`)", body = crate::openapi::ErrorBody))
)]
async fn job_stats(State(state): State<AppState>, _admin: AdminUser) -> Result<AppJson<JobStats>> {
    Ok(AppJson(service::job_stats(&state).await?))
}

#[utoipa::path(
    get, path = "/api/jobs/{id}", tag = "jobs", params(("id" = i64, Path, description = "job id", example = 1)),
    responses((status = 200, description = "the job and its latest failures", body = JobDetail), (status = 403, description = "the caller is not an ADMIN (`forbidden`)", body = crate::openapi::ErrorBody), (status = 404, description = "no such job (`not_found`)", body = crate::openapi::ErrorBody))
)]
async fn get_job(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppPath(id): AppPath<i64>,
) -> Result<AppJson<JobDetail>> {
    Ok(AppJson(service::get_job(&state, id).await?))
}

#[utoipa::path(
    post, path = "/api/jobs", tag = "jobs", request_body = NewExternalJob,
    responses((status = 201, description = "created, running", body = JobView), (status = 403, description = "the caller is not an ADMIN (`forbidden`)", body = crate::openapi::ErrorBody),
        (status = 409, description = "an exclusive job of this kind and scope is running (`already_running`)", body = crate::openapi::ErrorBody))
)]
async fn create_job(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    AppJson(request): AppJson<NewExternalJob>,
) -> Result<(StatusCode, AppJson<JobView>)> {
    Ok((StatusCode::CREATED, AppJson(worker::create(&state, &admin, request).await?)))
}

#[utoipa::path(
    post, path = "/api/jobs/{id}/progress", tag = "jobs", params(("id" = i64, Path, description = "job id", example = 1)),
    request_body = ProgressUpdate,
    responses((status = 200, description = "accepted (progress is coalesced)", body = JobView), (status = 403, description = "the caller is not an ADMIN (`forbidden`)", body = crate::openapi::ErrorBody),
        (status = 404, description = "no such job (`not_found`)", body = crate::openapi::ErrorBody), (status = 409, description = "the job is not a running external job (`invalid_state`)", body = crate::openapi::ErrorBody))
)]
async fn report_progress(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppPath(id): AppPath<i64>,
    AppJson(update): AppJson<ProgressUpdate>,
) -> Result<AppJson<JobView>> {
    Ok(AppJson(worker::report_progress(&state, id, update).await?))
}

#[utoipa::path(
    post, path = "/api/jobs/{id}/finish", tag = "jobs", params(("id" = i64, Path, description = "job id", example = 1)),
    request_body = FinishReport,
    responses((status = 200, description = "finished", body = JobView), (status = 403, description = "the caller is not an ADMIN (`forbidden`)", body = crate::openapi::ErrorBody),
        (status = 404, description = "no such job (`not_found`)", body = crate::openapi::ErrorBody), (status = 409, description = "the job is not a running external job (`invalid_state`)", body = crate::openapi::ErrorBody))
)]
async fn finish_job(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppPath(id): AppPath<i64>,
    AppJson(report): AppJson<FinishReport>,
) -> Result<AppJson<JobView>> {
    Ok(AppJson(worker::finish(&state, id, report).await?))
}

#[utoipa::path(
    post, path = "/api/jobs/{id}/cancel", tag = "jobs", params(("id" = i64, Path, description = "job id", example = 1)),
    responses((status = 200, description = "cancelled, or cancellation requested from its runner", body = JobView), (status = 403, description = "the caller is not an ADMIN (`forbidden`)", body = crate::openapi::ErrorBody),
        (status = 404, description = "no such job (`not_found`)", body = crate::openapi::ErrorBody), (status = 409, description = "the job has already finished (`invalid_state`)", body = crate::openapi::ErrorBody))
)]
async fn cancel_job(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppPath(id): AppPath<i64>,
) -> Result<AppJson<JobView>> {
    Ok(AppJson(service::cancel_job(&state, id).await?))
}

#[utoipa::path(
    post, path = "/api/jobs/{id}/retry", tag = "jobs", params(("id" = i64, Path, description = "job id", example = 1)),
    responses((status = 202, description = "the new job, started (the retried one stays as it was)", body = JobView), (status = 403, description = "the caller is not an ADMIN (`forbidden`)", body = crate::openapi::ErrorBody),
        (status = 400, description = "the file the import read is no longer in CATALOG_DIR (`validation_failed`)", body = crate::openapi::ErrorBody),
        (status = 404, description = "no such job (`not_found`)", body = crate::openapi::ErrorBody),
        (status = 409, description = "the job is not failed or cancelled, was run by an external worker, or its store is gone or inactive (`invalid_state`); the same job is running (`already_running`)", body = crate::openapi::ErrorBody),
        (status = 503, description = "the import lock cannot be taken (`unavailable`)", body = crate::openapi::ErrorBody))
)]
async fn retry_job(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    AppPath(id): AppPath<i64>,
) -> Result<(StatusCode, AppJson<JobView>)> {
    Ok((StatusCode::ACCEPTED, AppJson(retry::retry_job(&state, id, Some(admin.id)).await?)))
}

#[utoipa::path(
    delete, path = "/api/jobs/{id}", tag = "jobs", params(("id" = i64, Path, description = "job id", example = 1)),
    responses((status = 204, description = "deleted"), (status = 403, description = "the caller is not an ADMIN (`forbidden`)", body = crate::openapi::ErrorBody), (status = 404, description = "no such job (`not_found`)", body = crate::openapi::ErrorBody), (status = 409, description = "the job has not finished (`invalid_state`)", body = crate::openapi::ErrorBody))
)]
async fn delete_job(State(state): State<AppState>, _admin: AdminUser, AppPath(id): AppPath<i64>) -> Result<StatusCode> {
    service::delete_job(&state, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
