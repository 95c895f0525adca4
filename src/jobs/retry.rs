//! Retrying a failed or cancelled built-in job: a new job of the same kind and
//! scope. The domain that owns a kind says how to start it again through
//! [`Restart`], registered in `app.rs` — the jobs domain knows no other domain.

use std::{collections::HashMap, sync::Arc};

use async_trait::async_trait;

use super::{
    model::{JobStatus, JobView},
    service::{Runner, find_job},
};
use crate::{
    entity::job,
    error::{AppError, Result},
    state::AppState,
};

/// How one built-in kind is started again.
#[async_trait]
pub trait Restart: Send + Sync + 'static {
    /// Starts a new job with the kind and scope of `job`, on behalf of `created_by`;
    /// the kind's usual rules apply (exclusivity: `409 already_running`).
    async fn restart(&self, state: &AppState, job: &job::Model, created_by: Option<i64>) -> Result<JobView>;
}

/// The kinds that can be retried, each with its [`Restart`].
#[derive(Default, Clone)]
pub struct RestartableKinds {
    kinds: HashMap<&'static str, Arc<dyn Restart>>,
}

impl RestartableKinds {
    /// Adds a kind.
    pub fn with(mut self, kind: &'static str, restart: Arc<dyn Restart>) -> Self {
        self.kinds.insert(kind, restart);
        self
    }

    fn get(&self, kind: &str) -> Option<Arc<dyn Restart>> {
        self.kinds.get(kind).cloned()
    }

    /// The kinds, in name order (for messages).
    pub fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self.kinds.keys().copied().collect();
        names.sort_unstable();
        names
    }
}

/// Starts a failed or cancelled built-in job again as a new job; the old one stays as it was.
/// 409 `invalid_state` for any other status, for a worker's job, or a kind that cannot be retried.
pub async fn retry_job(state: &AppState, job_id: i64, created_by: Option<i64>) -> Result<JobView> {
    let job = find_job(&state.db, job_id).await?;
    if job.runner != Runner::Server.as_str() {
        return Err(AppError::InvalidState(format!(
            "job {job_id} was run by an external worker; only built-in jobs can be retried (the worker starts its own again)"
        )));
    }
    if !matches!(job.status, JobStatus::Failed | JobStatus::Cancelled) {
        return Err(AppError::InvalidState(format!(
            "job {job_id} is {}; only failed or cancelled jobs can be retried",
            job.status
        )));
    }
    let Some(restart) = state.restartable.get(&job.kind) else {
        return Err(AppError::InvalidState(format!(
            "{} jobs cannot be retried; retryable kinds: {}",
            job.kind,
            state.restartable.names().join(", ")
        )));
    };
    restart.restart(state, &job, created_by).await
}
