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
}

async fn list_jobs(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppQuery(filter): AppQuery<JobFilter>,
) -> Result<AppJson<JobPage>> {
    Ok(AppJson(service::list_jobs(&state, filter).await?))
}

async fn job_stats(State(state): State<AppState>, _admin: AdminUser) -> Result<AppJson<JobStats>> {
    Ok(AppJson(service::job_stats(&state).await?))
}

async fn get_job(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppPath(id): AppPath<i64>,
) -> Result<AppJson<JobDetail>> {
    Ok(AppJson(service::get_job(&state, id).await?))
}

async fn create_job(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    AppJson(request): AppJson<NewExternalJob>,
) -> Result<(StatusCode, AppJson<JobView>)> {
    Ok((StatusCode::CREATED, AppJson(worker::create(&state, &admin, request).await?)))
}

async fn report_progress(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppPath(id): AppPath<i64>,
    AppJson(update): AppJson<ProgressUpdate>,
) -> Result<AppJson<JobView>> {
    Ok(AppJson(worker::report_progress(&state, id, update).await?))
}

async fn finish_job(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppPath(id): AppPath<i64>,
    AppJson(report): AppJson<FinishReport>,
) -> Result<AppJson<JobView>> {
    Ok(AppJson(worker::finish(&state, id, report).await?))
}

async fn cancel_job(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppPath(id): AppPath<i64>,
) -> Result<AppJson<JobView>> {
    Ok(AppJson(service::cancel_job(&state, id).await?))
}

async fn delete_job(State(state): State<AppState>, _admin: AdminUser, AppPath(id): AppPath<i64>) -> Result<StatusCode> {
    service::delete_job(&state, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
