//! Job records: create, start, report, finish, cancel, delete, list, stats.
//! Job records change only through these functions — never by hand.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, Iterable,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Statement, sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use tracing::instrument;

use super::model::{JobStatus, JobView, can_transition, success_rate, transition_error};
use crate::{
    entity::{job, job_failure},
    error::{AppError, Result},
    events::{NewEvent, Topic, outbox::in_transaction},
    listing::{page_size, split_page, status_filter},
    state::AppState,
};

/// Who drives a job: the server's own runner, or an external worker over REST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runner {
    Server,
    External,
}

impl Runner {
    pub fn as_str(self) -> &'static str {
        match self {
            Runner::Server => "server",
            Runner::External => "external",
        }
    }
}

/// A job about to be created.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    pub name: String,
    pub scope: Option<String>,
    pub items_total: i64,
    pub runner: Runner,
    pub params: Option<String>,
    pub created_by: Option<i64>,
    /// External jobs start `running`; built-in ones `pending` until the runner picks them up.
    pub start_running: bool,
    /// Refuse with 409 while a job of the same kind and scope is pending or running.
    pub exclusive: bool,
}

/// Creates a job and announces it (`job.created`, plus `job.started` when it starts running).
#[instrument(skip(state, new), fields(kind = %new.kind))]
pub async fn create_job(state: &AppState, new: NewJob) -> Result<JobView> {
    in_transaction(&state.db, &*state.bus, async |txn| {
        if new.exclusive {
            lock_kind_and_scope(txn, &new.kind, new.scope.as_deref()).await?;
            if let Some(running) = active_job(txn, &new.kind, new.scope.as_deref()).await? {
                return Err(already_running(&running));
            }
        }
        let now = Utc::now();
        let status = if new.start_running { JobStatus::Running } else { JobStatus::Pending };
        let created = job::ActiveModel {
            kind: Set(new.kind),
            name: Set(super::model::fit_job_name(new.name)),
            scope: Set(new.scope),
            status: Set(status),
            runner: Set(new.runner.as_str().to_owned()),
            params: Set(new.params),
            items_total: Set(new.items_total),
            items_processed: Set(0),
            items_failed: Set(0),
            created_by: Set(new.created_by),
            created_at: Set(now),
            started_at: Set(new.start_running.then_some(now)),
            updated_at: Set(now),
            heartbeat_at: Set(Some(now)),
            cancel_requested: Set(false),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        let view = JobView::from_model(&created, now);
        let mut events = vec![job_event("job.created", &view)];
        if new.start_running {
            events.push(job_event("job.started", &view));
        }
        Ok((view, events))
    })
    .await
}

/// The 409 for an exclusive job that is already running, naming it and its start.
pub fn already_running(job: &job::Model) -> AppError {
    let since = job.started_at.unwrap_or(job.created_at);
    AppError::AlreadyRunning(format!(
        "{} job {} is already running (started {}); wait for it to finish or cancel it",
        job.kind,
        job.id,
        since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    ))
}

/// The pending or running job of a kind and scope, if any.
pub async fn active_job(db: &impl ConnectionTrait, kind: &str, scope: Option<&str>) -> Result<Option<job::Model>> {
    let mut query = job::Entity::find()
        .filter(job::Column::Kind.eq(kind))
        .filter(job::Column::Status.is_in([JobStatus::Pending, JobStatus::Running]));
    query = match scope {
        Some(scope) => query.filter(job::Column::Scope.eq(scope)),
        None => query.filter(job::Column::Scope.is_null()),
    };
    Ok(query.order_by_asc(job::Column::Id).one(db).await?)
}

/// Serializes exclusive creations of one kind and scope across instances (PostgreSQL; SQLite serializes writers).
async fn lock_kind_and_scope(txn: &DatabaseTransaction, kind: &str, scope: Option<&str>) -> Result<()> {
    Ok(crate::db::serialize_on(txn, &format!("job:{kind}:{}", scope.unwrap_or(""))).await?)
}

/// Moves a pending job to running; `None` if it is no longer pending (cancelled meanwhile).
pub async fn start_job(state: &AppState, job_id: i64) -> Result<Option<JobView>> {
    in_transaction(&state.db, &*state.bus, async |txn| {
        let now = Utc::now();
        let started = job::Entity::update_many()
            .col_expr(job::Column::Status, Expr::value(JobStatus::Running))
            .col_expr(job::Column::StartedAt, Expr::value(now))
            .col_expr(job::Column::UpdatedAt, Expr::value(now))
            .col_expr(job::Column::HeartbeatAt, Expr::value(now))
            .filter(job::Column::Id.eq(job_id))
            .filter(job::Column::Status.eq(JobStatus::Pending))
            .exec(txn)
            .await?;
        if started.rows_affected == 0 {
            return Ok((None, Vec::new()));
        }
        let view = load_view(txn, job_id).await?;
        let events = vec![job_event("job.started", &view)];
        Ok((Some(view), events))
    })
    .await
}

/// Finishes a job. Pending progress is written and published first, so the last
/// state before the finish always reaches the subscribers.
#[instrument(skip(state, error_message, message))]
pub async fn finish_job(
    state: &AppState,
    job_id: i64,
    to: JobStatus,
    error_message: Option<String>,
    message: Option<String>,
) -> Result<JobView> {
    state.jobs.progress.flush(state, job_id).await?;
    let from: Vec<JobStatus> = JobStatus::iter().filter(|from| can_transition(*from, to)).collect();
    let view = in_transaction(&state.db, &*state.bus, async |txn| {
        let now = Utc::now();
        let mut update = job::Entity::update_many()
            .col_expr(job::Column::Status, Expr::value(to))
            .col_expr(job::Column::FinishedAt, Expr::value(now))
            .col_expr(job::Column::UpdatedAt, Expr::value(now))
            .col_expr(job::Column::ErrorMessage, Expr::value(error_message.clone()));
        if let Some(message) = &message {
            update = update.col_expr(job::Column::Message, Expr::value(message.clone()));
        }
        let finished =
            update.filter(job::Column::Id.eq(job_id)).filter(job::Column::Status.is_in(from)).exec(txn).await?;
        let current = find_job(txn, job_id).await?;
        if finished.rows_affected == 0 {
            let status = current.status;
            return Err(transition_error(job_id, status, to));
        }
        let view = JobView::from_model(&current, now);
        let events = vec![job_event(to.event(), &view)];
        Ok((view, events))
    })
    .await?;
    state.jobs.progress.forget(job_id);
    Ok(view)
}

/// Cancels a job: a pending one at once; a running one is asked to stop
/// (`cancel_requested`) — built-in jobs stop within about a second, workers see the flag.
#[instrument(skip(state))]
pub async fn cancel_job(state: &AppState, job_id: i64) -> Result<JobView> {
    let current = find_job(&state.db, job_id).await?;
    let status = current.status;
    match status {
        JobStatus::Pending => {
            // Stop a task queued here first (it lets go of any lock it holds), then record.
            state.jobs.stop_local(job_id).await;
            match finish_job(state, job_id, JobStatus::Cancelled, None, Some("cancelled before it started".into()))
                .await
            {
                Err(AppError::InvalidState(_)) => {
                    // It started meanwhile: cancelled by its runner already, or cancel it running.
                    let current = find_job(&state.db, job_id).await?;
                    if current.status == JobStatus::Cancelled {
                        Ok(JobView::from_model(&current, Utc::now()))
                    } else {
                        Box::pin(cancel_job(state, job_id)).await
                    }
                }
                other => other,
            }
        }
        JobStatus::Running => {
            let view = in_transaction(&state.db, &*state.bus, async |txn| {
                job::Entity::update_many()
                    .col_expr(job::Column::CancelRequested, Expr::value(true))
                    .col_expr(job::Column::UpdatedAt, Expr::value(Utc::now()))
                    .filter(job::Column::Id.eq(job_id))
                    .filter(job::Column::Status.eq(JobStatus::Running))
                    .exec(txn)
                    .await?;
                let view = load_view(txn, job_id).await?;
                let events = vec![job_event("job.progress", &view)];
                Ok((view, events))
            })
            .await?;
            state.jobs.cancel_local(job_id);
            Ok(view)
        }
        finished => Err(AppError::InvalidState(format!("job {job_id} is already {}", finished))),
    }
}

/// Deletes a finished job and its failures; a pending or running one is 409.
pub async fn delete_job(state: &AppState, job_id: i64) -> Result<()> {
    let finished: Vec<JobStatus> = JobStatus::iter().filter(|s| s.is_finished()).collect();
    in_transaction(&state.db, &*state.bus, async |txn| {
        let current = find_job(txn, job_id).await?;
        let deleted = job::Entity::delete_many()
            .filter(job::Column::Id.eq(job_id))
            .filter(job::Column::Status.is_in(finished))
            .exec(txn)
            .await?;
        if deleted.rows_affected == 0 {
            return Err(AppError::InvalidState(format!(
                "job {job_id} is {}; only finished jobs can be deleted",
                current.status
            )));
        }
        job_failure::Entity::delete_many().filter(job_failure::Column::JobId.eq(job_id)).exec(txn).await?;
        let view = JobView::from_model(&current, Utc::now());
        Ok(((), vec![job_event("job.deleted", &view)]))
    })
    .await
}

/// Records one item a job could not process.
pub async fn record_failure(db: &impl ConnectionTrait, job_id: i64, item: &str, reason: &str) -> Result<()> {
    job_failure::ActiveModel {
        job_id: Set(job_id),
        item: Set(item.chars().take(500).collect()),
        reason: Set(reason.chars().take(1000).collect()),
        at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// One failed item, as the job detail shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FailureView {
    pub item: String,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// A job with its latest failures.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JobDetail {
    #[serde(flatten)]
    pub job: JobView,
    pub failures: Vec<FailureView>,
}

/// One job with its latest 100 failures.
pub async fn get_job(state: &AppState, job_id: i64) -> Result<JobDetail> {
    let job = current_view(state, job_id).await?;
    let failures = job_failure::Entity::find()
        .filter(job_failure::Column::JobId.eq(job_id))
        .order_by_desc(job_failure::Column::Id)
        .limit(100)
        .all(&state.reads)
        .await?
        .into_iter()
        .map(|f| FailureView { item: f.item, reason: f.reason, at: f.at })
        .collect();
    Ok(JobDetail { job, failures })
}

/// The job as it is right now: the stored row with the progress not yet written over it.
pub async fn current_view(state: &AppState, job_id: i64) -> Result<JobView> {
    Ok(state.jobs.progress.overlay(load_view(&state.reads, job_id).await?))
}

/// Query of the job lists.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobFilter {
    pub status: Option<String>,
    pub kind: Option<String>,
    pub scope: Option<String>,
    /// Only jobs created at or after this moment (RFC 3339).
    pub created_after: Option<DateTime<Utc>>,
    /// Only jobs created before this moment (RFC 3339).
    pub created_before: Option<DateTime<Utc>>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    pub before: Option<i64>,
}

/// A page of jobs, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JobPage {
    pub items: Vec<JobView>,
    pub next_before: Option<i64>,
}

/// Jobs matching the filter, newest first, a page at a time.
pub async fn list_jobs(state: &AppState, filter: JobFilter) -> Result<JobPage> {
    let limit = page_size(filter.limit)?;
    let mut query = job::Entity::find();
    if let Some(statuses) = status_filter::<JobStatus>(filter.status.as_deref())? {
        query = query.filter(job::Column::Status.is_in(statuses));
    }
    if let Some(kind) = filter.kind.filter(|k| !k.is_empty()) {
        query = query.filter(job::Column::Kind.eq(kind));
    }
    if let Some(scope) = filter.scope.filter(|s| !s.is_empty()) {
        query = query.filter(job::Column::Scope.eq(scope));
    }
    if let (Some(after), Some(before)) = (filter.created_after, filter.created_before)
        && after > before
    {
        return Err(AppError::field("created_after", "must not be later than created_before"));
    }
    if let Some(after) = filter.created_after {
        query = query.filter(job::Column::CreatedAt.gte(after));
    }
    if let Some(before) = filter.created_before {
        query = query.filter(job::Column::CreatedAt.lt(before));
    }
    if let Some(before) = filter.before {
        query = query.filter(job::Column::Id.lt(before));
    }
    let rows = query.order_by_desc(job::Column::Id).limit(limit + 1).all(&state.db).await?;
    let (jobs, next_before) = split_page(rows, limit, |j| j.id);
    let now = Utc::now();
    let items = jobs.iter().map(|j| state.jobs.progress.overlay(JobView::from_model(j, now))).collect();
    Ok(JobPage { items, next_before })
}

/// The dashboard's figures.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JobStats {
    pub total_jobs: u64,
    pub active_jobs: u64,
    pub completed_today: u64,
    pub failed_jobs: u64,
    pub total_items_processed: i64,
    /// Completed share of finished jobs (completed + failed), in percent; null before any finished.
    pub success_rate: Option<f64>,
    /// Mean run time of the jobs completed in the last 24 hours; null without any.
    pub avg_duration_ms: Option<i64>,
    /// Failed items / processed items of the jobs finished in the last 24 hours (0–1); null without items.
    pub error_rate: Option<f64>,
    /// Jobs finished in each of the last 24 hours, oldest hour first (the last entry is the current hour).
    pub finished_per_hour: Vec<u64>,
    /// The same figures per kind, by kind name.
    pub by_kind: Vec<KindStats>,
}

/// One kind's figures on the dashboard.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KindStats {
    pub kind: String,
    pub total_jobs: u64,
    pub active_jobs: u64,
    pub failed_jobs: u64,
    /// Over the last 24 hours, as for the totals.
    pub avg_duration_ms: Option<i64>,
    pub error_rate: Option<f64>,
}

/// Figures of the jobs finished within a window, for one kind or all.
#[derive(Default)]
struct Recent {
    completed_ms: Vec<i64>,
    processed: i64,
    failed_items: i64,
}

impl Recent {
    fn add(&mut self, status: JobStatus, duration_ms: Option<i64>, processed: i64, failed: i64) {
        if status == JobStatus::Completed
            && let Some(ms) = duration_ms
        {
            self.completed_ms.push(ms);
        }
        self.processed += processed;
        self.failed_items += failed;
    }

    fn avg_duration_ms(&self) -> Option<i64> {
        (!self.completed_ms.is_empty()).then(|| self.completed_ms.iter().sum::<i64>() / self.completed_ms.len() as i64)
    }

    fn error_rate(&self) -> Option<f64> {
        (self.processed > 0).then(|| (self.failed_items as f64 / self.processed as f64 * 1000.0).round() / 1000.0)
    }
}

/// Jobs and their processed items per status, in one grouped query.
pub async fn status_counts(db: &impl ConnectionTrait) -> Result<HashMap<JobStatus, (u64, i64)>> {
    let rows = db
        .query_all(Statement::from_string(
            db.get_database_backend(),
            "SELECT status, CAST(COUNT(*) AS BIGINT) AS jobs, CAST(COALESCE(SUM(items_processed), 0) AS BIGINT) AS items \
             FROM jobs GROUP BY status",
        ))
        .await?;
    let mut counts = HashMap::new();
    for row in rows {
        let status: JobStatus = row.try_get("", "status")?;
        let jobs: i64 = row.try_get("", "jobs")?;
        counts.insert(status, (jobs.max(0) as u64, row.try_get("", "items")?));
    }
    Ok(counts)
}

/// Counts across every job.
pub async fn job_stats(state: &AppState) -> Result<JobStats> {
    let counts = status_counts(&state.db).await?;
    let jobs = |status: JobStatus| counts.get(&status).map_or(0, |(jobs, _)| *jobs);
    let midnight = Utc::now().date_naive().and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
    let completed_today = job::Entity::find()
        .filter(job::Column::Status.eq(JobStatus::Completed))
        .filter(job::Column::FinishedAt.gte(midnight))
        .count(&state.db)
        .await?;
    let (completed, failed_jobs) = (jobs(JobStatus::Completed), jobs(JobStatus::Failed));
    let now = Utc::now();
    let day_ago = now - chrono::Duration::hours(24);
    type FinishedRow = (String, JobStatus, Option<DateTime<Utc>>, Option<DateTime<Utc>>, i64, i64);
    let finished: Vec<FinishedRow> = job::Entity::find()
        .select_only()
        .columns([
            job::Column::Kind,
            job::Column::Status,
            job::Column::StartedAt,
            job::Column::FinishedAt,
            job::Column::ItemsProcessed,
            job::Column::ItemsFailed,
        ])
        .filter(job::Column::FinishedAt.gte(day_ago))
        .into_tuple()
        .all(&state.db)
        .await?;
    let mut all = Recent::default();
    let mut per_kind: HashMap<String, Recent> = HashMap::new();
    let mut finished_per_hour = vec![0u64; 24];
    for (kind, status, started, finished_at, processed, failed) in finished {
        let duration = started.zip(finished_at).map(|(s, f)| (f - s).num_milliseconds().max(0));
        all.add(status, duration, processed, failed);
        per_kind.entry(kind).or_default().add(status, duration, processed, failed);
        if let Some(at) = finished_at {
            let hours_ago = (now - at).num_hours().clamp(0, 23) as usize;
            finished_per_hour[23 - hours_ago] += 1;
        }
    }
    let by_kind = kind_counts(&state.db)
        .await?
        .into_iter()
        .map(|(kind, counts)| {
            let recent = per_kind.remove(&kind).unwrap_or_default();
            KindStats {
                total_jobs: counts.values().sum(),
                active_jobs: [JobStatus::Pending, JobStatus::Running].iter().filter_map(|s| counts.get(s)).sum(),
                failed_jobs: counts.get(&JobStatus::Failed).copied().unwrap_or(0),
                avg_duration_ms: recent.avg_duration_ms(),
                error_rate: recent.error_rate(),
                kind,
            }
        })
        .collect();
    Ok(JobStats {
        avg_duration_ms: all.avg_duration_ms(),
        error_rate: all.error_rate(),
        finished_per_hour,
        by_kind,
        total_jobs: counts.values().map(|(jobs, _)| jobs).sum(),
        active_jobs: jobs(JobStatus::Pending) + jobs(JobStatus::Running),
        completed_today,
        failed_jobs,
        total_items_processed: counts.values().map(|(_, items)| items).sum(),
        success_rate: success_rate(completed as i64, failed_jobs as i64),
    })
}

/// Jobs per kind and status, in one grouped query, kinds in name order.
async fn kind_counts(db: &impl ConnectionTrait) -> Result<Vec<(String, HashMap<JobStatus, u64>)>> {
    let rows = db
        .query_all(Statement::from_string(
            db.get_database_backend(),
            "SELECT kind, status, CAST(COUNT(*) AS BIGINT) AS jobs FROM jobs GROUP BY kind, status ORDER BY kind",
        ))
        .await?;
    let mut kinds: Vec<(String, HashMap<JobStatus, u64>)> = Vec::new();
    for row in rows {
        let kind: String = row.try_get("", "kind")?;
        let status: JobStatus = row.try_get("", "status")?;
        let jobs: i64 = row.try_get("", "jobs")?;
        if kinds.last().is_none_or(|(last, _)| *last != kind) {
            kinds.push((kind, HashMap::new()));
        }
        if let Some((_, counts)) = kinds.last_mut() {
            counts.insert(status, jobs.max(0) as u64);
        }
    }
    Ok(kinds)
}

/// The job or 404.
pub async fn find_job(db: &impl ConnectionTrait, job_id: i64) -> Result<job::Model> {
    job::Entity::find_by_id(job_id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("job {job_id} does not exist")))
}

/// The job's current view.
pub async fn load_view(db: &impl ConnectionTrait, job_id: i64) -> Result<JobView> {
    Ok(JobView::from_model(&find_job(db, job_id).await?, Utc::now()))
}

/// A job event: jobs are seen by ADMINs only, so the audience is empty.
pub fn job_event(kind: &'static str, view: &JobView) -> NewEvent {
    NewEvent::of(Topic::Jobs, view.id, kind, view, Vec::new())
}
