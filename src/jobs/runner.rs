//! The runner for built-in jobs: bounded concurrency, cancellation within about
//! a second, panics and errors turned into `failed`, heartbeats, and the sweep
//! that fails jobs whose instance died (no zombie jobs).

use std::{future::Future, sync::Arc, time::Duration};

use chrono::Utc;
use dashmap::DashMap;
use sea_orm::{ColumnTrait, EntityTrait, Iterable, QueryFilter, QuerySelect, sea_query::Expr};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::{
    model::JobStatus,
    progress::{ProgressCoalescer, ProgressUpdate},
    service::{self, finish_job, record_failure, start_job},
};
use crate::{entity::job, error::Result, lock::LockGuard, state::AppState};

/// What built-in job work returns: a closing message, or why it failed.
pub type JobOutcome = std::result::Result<String, JobFailure>;

/// Why built-in job work failed; the text becomes the job's `error_message` (seen by ADMINs only).
#[derive(Debug)]
pub struct JobFailure(pub String);

impl From<String> for JobFailure {
    fn from(reason: String) -> Self {
        JobFailure(reason)
    }
}

impl From<crate::error::AppError> for JobFailure {
    fn from(err: crate::error::AppError) -> Self {
        JobFailure(err.to_string())
    }
}

impl From<sea_orm::DbErr> for JobFailure {
    fn from(err: sea_orm::DbErr) -> Self {
        JobFailure(err.to_string())
    }
}

/// Runs built-in jobs of this instance.
pub struct JobRunner {
    permits: Arc<Semaphore>,
    /// Jobs queued or running here, with the token that cancels each.
    local: DashMap<i64, CancellationToken>,
    /// Set at shutdown: jobs stopped then are failed as interrupted, not cancelled.
    shutting_down: CancellationToken,
    pub progress: ProgressCoalescer,
}

impl JobRunner {
    pub fn new(concurrency: usize, progress_interval: Duration) -> Self {
        JobRunner {
            permits: Arc::new(Semaphore::new(concurrency)),
            local: DashMap::new(),
            shutting_down: CancellationToken::new(),
            progress: ProgressCoalescer::new(progress_interval),
        }
    }

    /// Runs `work` for a pending job once a slot is free. The job ends `completed`,
    /// `failed` (error or panic, with the message) or `cancelled`; `lock`, if any,
    /// is released whatever happened, before the end is announced.
    pub fn spawn<F, Fut>(&self, state: &AppState, job_id: i64, lock: Option<LockGuard>, work: F)
    where
        F: FnOnce(JobContext) -> Fut + Send + 'static,
        Fut: Future<Output = JobOutcome> + Send + 'static,
    {
        let cancel = CancellationToken::new();
        self.local.insert(job_id, cancel.clone());
        let (state, permits, shutting_down) = (state.clone(), self.permits.clone(), self.shutting_down.clone());
        tokio::spawn(async move {
            let lost_lock = lock.as_ref().map(|l| l.lost.clone()).unwrap_or_default();
            // The slot is held until the job's end is recorded, so the next job
            // never starts before this one is seen to finish.
            let mut slot = None;
            let outcome = async {
                slot = tokio::select! {
                    permit = permits.acquire_owned() => permit.ok(),
                    _ = cancel.cancelled() => None,
                };
                if cancel.is_cancelled() {
                    // Cancelled while queued: `cancel_job` recorded that itself; a shutdown did not.
                    return shutting_down
                        .is_cancelled()
                        .then(|| (JobStatus::Failed, Some("interrupted by shutdown".to_owned()), None));
                }
                match start_job(&state, job_id).await {
                    Ok(Some(_)) => {}
                    Ok(None) => return None,
                    Err(err) => return Some((JobStatus::Failed, Some(format!("could not start: {err}")), None)),
                }
                let context = JobContext::new(state.clone(), job_id, cancel.clone());
                let stop_on_lost_lock = {
                    let (cancel, lost) = (cancel.clone(), lost_lock.clone());
                    tokio::spawn(async move {
                        lost.cancelled().await;
                        cancel.cancel();
                    })
                };
                let result = tokio::spawn(work(context)).await;
                stop_on_lost_lock.abort();
                Some(match result {
                    _ if shutting_down.is_cancelled() => {
                        (JobStatus::Failed, Some("interrupted by shutdown".to_owned()), None)
                    }
                    _ if lost_lock.is_cancelled() => {
                        (JobStatus::Failed, Some("lost its exclusive lock".to_owned()), None)
                    }
                    _ if cancel.is_cancelled() => (JobStatus::Cancelled, None, Some("cancelled".to_owned())),
                    Ok(Ok(message)) => (JobStatus::Completed, None, Some(message)),
                    Ok(Err(JobFailure(reason))) => (JobStatus::Failed, Some(reason), None),
                    Err(join) => (JobStatus::Failed, Some(format!("the job crashed: {}", panic_message(join))), None),
                })
            }
            .await;
            // Release first: whoever sees the job finish may start the next one at once.
            if let Some(lock) = lock {
                lock.release().await;
            }
            if let Some((status, error_message, message)) = outcome
                && let Err(err) = finish_job(&state, job_id, status, error_message, message).await
            {
                warn!(job_id, error = %err, "could not record the end of a job");
            }
            state.jobs.local.remove(&job_id);
            drop(slot);
        });
    }

    /// Cancels a job queued or running here and waits (briefly) until its task has
    /// let go of everything it held.
    pub async fn stop_local(&self, job_id: i64) {
        self.cancel_local(job_id);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while self.local.contains_key(&job_id) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Cancels a job if this instance runs it.
    pub fn cancel_local(&self, job_id: i64) {
        if let Some(token) = self.local.get(&job_id) {
            token.cancel();
        }
    }

    /// Stops every local job (they end `failed`, interrupted) and waits a few seconds for them.
    pub async fn shut_down(&self) {
        self.shutting_down.cancel();
        for token in self.local.iter() {
            token.cancel();
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !self.local.is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn local_ids(&self) -> Vec<i64> {
        self.local.iter().map(|entry| *entry.key()).collect()
    }
}

fn panic_message(join: tokio::task::JoinError) -> String {
    match join.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".to_owned()),
        Err(join) => join.to_string(),
    }
}

/// What a running built-in job uses to report and to notice cancellation.
pub struct JobContext {
    pub state: AppState,
    pub job_id: i64,
    pub cancel: CancellationToken,
    total: i64,
    processed: i64,
    failed: i64,
}

impl JobContext {
    fn new(state: AppState, job_id: i64, cancel: CancellationToken) -> Self {
        JobContext { state, job_id, cancel, total: 0, processed: 0, failed: 0 }
    }

    /// True once the job should stop.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Announces how many items the job will handle.
    pub async fn set_total(&mut self, total: i64, message: impl Into<String>) -> Result<()> {
        self.total = total;
        self.report(Some(message.into())).await
    }

    /// Counts one handled item.
    pub async fn item_done(&mut self) -> Result<()> {
        self.processed += 1;
        self.report(None).await
    }

    /// Counts one failed item and records why.
    pub async fn item_failed(&mut self, item: &str, reason: &str) -> Result<()> {
        self.processed += 1;
        self.failed += 1;
        record_failure(&self.state.db, self.job_id, item, reason).await?;
        self.report(None).await
    }

    pub fn counts(&self) -> (i64, i64, i64) {
        (self.total, self.processed, self.failed)
    }

    async fn report(&self, message: Option<String>) -> Result<()> {
        let update = ProgressUpdate {
            items_total: Some(self.total),
            items_processed: Some(self.processed),
            items_failed: Some(self.failed),
            message,
        };
        self.state.jobs.progress.report(&self.state, self.job_id, update).await
    }
}

/// Every second: refreshes the heartbeat of this instance's jobs and honours
/// cancellations requested through another instance.
pub async fn run_heartbeat(state: AppState, shutdown: CancellationToken) {
    crate::periodic::every(Duration::from_secs(1), shutdown, || heartbeat(&state)).await
}

/// One beat: marks this instance's running jobs alive and stops those whose cancel was requested elsewhere.
async fn heartbeat(state: &AppState) {
    let ids = state.jobs.local_ids();
    if ids.is_empty() {
        return;
    }
    let beat = job::Entity::update_many()
        .col_expr(job::Column::HeartbeatAt, Expr::value(Utc::now()))
        .filter(job::Column::Id.is_in(ids.clone()))
        .exec(&state.db)
        .await;
    if let Err(err) = beat {
        warn!(error = %err, "job heartbeat failed");
    }
    let cancelled: Vec<i64> = job::Entity::find()
        .select_only()
        .column(job::Column::Id)
        .filter(job::Column::Id.is_in(ids))
        .filter(job::Column::CancelRequested.eq(true))
        .into_tuple()
        .all(&state.db)
        .await
        .unwrap_or_default();
    for id in cancelled {
        state.jobs.cancel_local(id);
    }
}

/// Fails built-in jobs left pending or running by an instance that stopped
/// heart-beating for `stale_after` (zero: every such job, for a single instance at start).
pub async fn sweep_zombies(state: &AppState, stale_after: Duration) -> Result<usize> {
    let cutoff = Utc::now() - chrono::Duration::from_std(stale_after).unwrap_or_default();
    let local = state.jobs.local_ids();
    let zombies: Vec<i64> = job::Entity::find()
        .select_only()
        .column(job::Column::Id)
        .filter(job::Column::Runner.eq("server"))
        .filter(job::Column::Status.is_in([JobStatus::Pending, JobStatus::Running]))
        .filter(job::Column::HeartbeatAt.is_null().or(job::Column::HeartbeatAt.lte(cutoff)))
        .into_tuple()
        .all(&state.db)
        .await?;
    let mut failed = 0;
    for id in zombies.into_iter().filter(|id| !local.contains(id)) {
        match finish_job(state, id, JobStatus::Failed, Some("interrupted by restart".into()), None).await {
            Ok(_) => failed += 1,
            Err(err) => warn!(job_id = id, error = %err, "could not fail an interrupted job"),
        }
    }
    if failed > 0 {
        info!(failed, "failed jobs interrupted by a restart");
    }
    Ok(failed)
}

/// Sweeps for zombie jobs every 30 seconds.
pub async fn run_zombie_sweeper(state: AppState, shutdown: CancellationToken) {
    // The start-up sweep has just run.
    crate::periodic::every_after(Duration::from_secs(30), shutdown, || async {
        if let Err(err) = sweep_zombies(&state, Duration::from_secs(30)).await {
            error!(error = %err, "the zombie-job sweep failed");
        }
    })
    .await
}

/// Refreshes the `taskwire_jobs{status}` gauge (left as it was if the database does not answer).
pub async fn refresh_job_gauges(state: &AppState) {
    let Ok(counts) = service::status_counts(&state.db).await else { return };
    for status in JobStatus::iter() {
        let jobs = counts.get(&status).map_or(0, |(jobs, _)| *jobs);
        let labels = crate::metrics::StatusLabels { status: status.to_string() };
        state.metrics.jobs_by_status.get_or_create(&labels).set(jobs as i64);
    }
}
