//! The external-worker protocol: what a worker may send when it creates,
//! reports on and finishes its own jobs, validated before any work is done.

use sea_orm::ActiveEnum;
use serde::Deserialize;

use super::{
    model::{JobStatus, JobView},
    progress::ProgressUpdate,
    service::{self, NewJob, Runner, find_job},
};
use crate::{
    auth::CurrentUser,
    entity::job,
    error::{AppError, Result},
    state::AppState,
};

/// Kinds the server runs itself; workers pick other names.
pub const BUILT_IN_KINDS: [&str; 2] = ["scrape_store", "catalog_import"];

/// The body of `POST /api/jobs`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewExternalJob {
    #[schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9_.:-]+$", example = "price_sync")]
    kind: String,
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    #[schema(max_length = 200)]
    scope: Option<String>,
    #[schema(minimum = 0, maximum = 1000000000000_i64)]
    items_total: Option<i64>,
    #[serde(default)]
    exclusive: bool,
}

impl NewExternalJob {
    /// The job to create, or a 400 naming the first field at fault.
    pub fn parse(self, created_by: i64) -> Result<NewJob> {
        let kind = self.kind.trim();
        let valid_kind = !kind.is_empty()
            && kind.len() <= 64
            && kind.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'));
        if !valid_kind {
            return Err(AppError::field("kind", "must be 1 to 64 characters of letters, digits, '_', '-', '.', ':'"));
        }
        if BUILT_IN_KINDS.contains(&kind) {
            return Err(AppError::field("kind", &format!("{kind} jobs are run by the server; use its own endpoint")));
        }
        let name = AppError::bounded_text("name", &self.name, 200)?;
        let scope = self.scope.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        if scope.as_ref().is_some_and(|s| s.chars().count() > 200) {
            return Err(AppError::field("scope", "must be at most 200 characters long"));
        }
        let items_total = super::model::check_item_count("items_total", self.items_total.unwrap_or(0))?;
        Ok(NewJob {
            kind: kind.to_owned(),
            name,
            scope,
            items_total,
            runner: Runner::External,
            params: None,
            created_by: Some(created_by),
            start_running: true,
            exclusive: self.exclusive,
        })
    }
}

/// The body of `POST /api/jobs/{id}/finish`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FinishReport {
    #[schema(value_type = String, pattern = "^(completed|failed|cancelled)$", example = "completed")]
    status: String,
    #[schema(max_length = 2000)]
    error_message: Option<String>,
    #[schema(max_length = 1000)]
    message: Option<String>,
}

/// A validated finish report: the end status and the texts to record.
struct Finish {
    status: JobStatus,
    error_message: Option<String>,
    message: Option<String>,
}

impl FinishReport {
    fn parse(self) -> Result<Finish> {
        let status = JobStatus::try_from_value(&self.status)
            .ok()
            .filter(|status| status.is_finished())
            .ok_or_else(|| AppError::field("status", "must be completed, failed or cancelled"))?;
        if self.error_message.as_ref().is_some_and(|m| m.chars().count() > 2000) {
            return Err(AppError::field("error_message", "must be at most 2000 characters long"));
        }
        if self.message.as_ref().is_some_and(|m| m.chars().count() > 1000) {
            return Err(AppError::field("message", "must be at most 1000 characters long"));
        }
        let error_message = match status {
            JobStatus::Failed => Some(self.error_message.unwrap_or_else(|| "the worker reported a failure".into())),
            _ => self.error_message,
        };
        Ok(Finish { status, error_message, message: self.message })
    }
}

/// `POST /api/jobs`: a worker's job, running from the start.
pub async fn create(state: &AppState, admin: &CurrentUser, request: NewExternalJob) -> Result<JobView> {
    service::create_job(state, request.parse(admin.id)?).await
}

/// `POST /api/jobs/{id}/progress`: absolute figures, written at once (events coalesced).
pub async fn report_progress(state: &AppState, job_id: i64, update: ProgressUpdate) -> Result<JobView> {
    update.validate()?;
    state.jobs.progress.record(state, job_id, update).await
}

/// `POST /api/jobs/{id}/finish`: the worker's outcome.
pub async fn finish(state: &AppState, job_id: i64, report: FinishReport) -> Result<JobView> {
    let finish = report.parse()?;
    running_external_job(state, job_id).await?;
    service::finish_job(state, job_id, finish.status, finish.error_message, finish.message).await
}

/// An external job that is running, or the error saying why not.
async fn running_external_job(state: &AppState, id: i64) -> Result<job::Model> {
    let job = find_job(&state.db, id).await?;
    if job.runner != Runner::External.as_str() {
        return Err(AppError::InvalidState(format!("job {id} is run by the server, not by a worker")));
    }
    if job.status != JobStatus::Running {
        return Err(AppError::InvalidState(format!("job {id} is {}, not running", job.status)));
    }
    Ok(job)
}
