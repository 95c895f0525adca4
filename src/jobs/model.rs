//! Job statuses, their transitions and the job as the API shows it — no I/O.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::{entity::job, error::AppError};

pub use crate::entity::job::JobStatus;

impl JobStatus {
    /// Finished jobs never change again, and only they may be deleted.
    pub fn is_finished(self) -> bool {
        matches!(self, JobStatus::Completed | JobStatus::Failed | JobStatus::Cancelled)
    }

    /// The event announcing that a job reached this status.
    pub fn event(self) -> &'static str {
        match self {
            JobStatus::Pending => "job.created",
            JobStatus::Running => "job.started",
            JobStatus::Completed => "job.completed",
            JobStatus::Failed => "job.failed",
            JobStatus::Cancelled => "job.cancelled",
        }
    }
}

/// The largest item count a job may report (10^12): figures stay exact in the
/// pages' JavaScript numbers, and the dashboard's sum over every job cannot overflow.
pub const MAX_ITEMS: i64 = 1_000_000_000_000;

/// One reported item count: 0 to [`MAX_ITEMS`], or a 400 naming the field.
pub fn check_item_count(field: &str, value: i64) -> Result<i64, AppError> {
    if value < 0 {
        return Err(AppError::field(field, "must not be negative"));
    }
    if value > MAX_ITEMS {
        return Err(AppError::field(field, &format!("must be at most {MAX_ITEMS}")));
    }
    Ok(value)
}

/// The longest job name the database holds (characters).
pub const MAX_JOB_NAME: usize = 200;

/// A job name that fits: names the server builds from other names (`Scrape <store>`,
/// `Import <file>`) can be longer than a job name may be, so they are shortened with `…`.
pub fn fit_job_name(name: String) -> String {
    if name.chars().count() <= MAX_JOB_NAME {
        return name;
    }
    let mut short: String = name.chars().take(MAX_JOB_NAME - 1).collect();
    short.push('…');
    short
}

/// Whether a job may go from one status to another.
pub fn can_transition(from: JobStatus, to: JobStatus) -> bool {
    use JobStatus::*;
    matches!(
        (from, to),
        (Pending, Running)
            | (Pending, Cancelled)
            | (Pending, Failed)
            | (Running, Completed)
            | (Running, Failed)
            | (Running, Cancelled)
    )
}

/// A 409 naming the job's current status.
pub fn transition_error(job_id: i64, from: JobStatus, to: JobStatus) -> AppError {
    AppError::InvalidState(format!("job {job_id} is {from} and cannot become {to}"))
}

/// A job as the API and the events show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobView {
    pub id: i64,
    pub kind: String,
    pub name: String,
    pub scope: Option<String>,
    pub status: JobStatus,
    pub items_total: i64,
    /// Every handled item, failed ones included.
    pub items_processed: i64,
    pub items_failed: i64,
    pub progress_percent: Option<f64>,
    pub remaining_items: Option<i64>,
    pub message: Option<String>,
    pub error_message: Option<String>,
    pub created_by: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub cancel_requested: bool,
    /// When anything shown here last changed; pages keep the newest view they saw.
    pub updated_at: DateTime<Utc>,
}

impl JobView {
    pub fn from_model(job: &job::Model, now: DateTime<Utc>) -> Self {
        let (progress_percent, remaining_items) = progress(job.items_total, job.items_processed);
        let duration_ms =
            job.started_at.map(|started| (job.finished_at.unwrap_or(now) - started).num_milliseconds().max(0));
        JobView {
            id: job.id,
            kind: job.kind.clone(),
            name: job.name.clone(),
            scope: job.scope.clone(),
            status: job.status,
            items_total: job.items_total,
            items_processed: job.items_processed,
            items_failed: job.items_failed,
            progress_percent,
            remaining_items,
            message: job.message.clone(),
            error_message: job.error_message.clone(),
            created_by: job.created_by,
            created_at: job.created_at,
            started_at: job.started_at,
            finished_at: job.finished_at,
            duration_ms,
            cancel_requested: job.cancel_requested,
            updated_at: job.updated_at,
        }
    }
}

/// Percent done (one decimal) and items left; unknown while the total is 0.
pub fn progress(total: i64, processed: i64) -> (Option<f64>, Option<i64>) {
    if total <= 0 {
        return (None, None);
    }
    let percent = (processed.min(total) as f64 * 1000.0 / total as f64).round() / 10.0;
    (Some(percent), Some((total - processed).max(0)))
}

/// Completed share of finished (completed + failed) jobs, in percent with one decimal.
pub fn success_rate(completed: i64, failed: i64) -> Option<f64> {
    let finished = completed + failed;
    (finished > 0).then(|| (completed as f64 * 1000.0 / finished as f64).round() / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_job_names_are_shortened_to_fit() {
        assert_eq!(fit_job_name("Scrape shop".into()), "Scrape shop");
        let long = fit_job_name(format!("Scrape {}", "ы".repeat(200)));
        assert_eq!(long.chars().count(), MAX_JOB_NAME);
        assert!(long.starts_with("Scrape ыы") && long.ends_with('…'));
    }

    #[test]
    fn item_counts_are_bounded() {
        assert_eq!(check_item_count("items_total", 0).unwrap(), 0);
        assert_eq!(check_item_count("items_total", MAX_ITEMS).unwrap(), MAX_ITEMS);
        assert!(check_item_count("items_total", -1).is_err());
        assert!(check_item_count("items_total", MAX_ITEMS + 1).is_err());
    }
    use JobStatus::*;
    use sea_orm::Iterable;

    #[test]
    fn jobs_move_forward_only() {
        assert!(can_transition(Pending, Running));
        assert!(can_transition(Pending, Cancelled));
        assert!(can_transition(Running, Completed));
        assert!(can_transition(Running, Failed));
        assert!(can_transition(Running, Cancelled));
        for finished in [Completed, Failed, Cancelled] {
            assert!(finished.is_finished());
            for to in JobStatus::iter() {
                assert!(!can_transition(finished, to), "{finished:?} → {to:?}");
            }
        }
        assert!(!can_transition(Running, Pending));
        assert!(!Running.is_finished());
    }

    #[test]
    fn progress_and_remaining() {
        assert_eq!(progress(0, 0), (None, None));
        assert_eq!(progress(3, 1), (Some(33.3), Some(2)));
        assert_eq!(progress(120, 120), (Some(100.0), Some(0)));
        assert_eq!(progress(10, 12), (Some(100.0), Some(0)));
    }

    #[test]
    fn success_rate_counts_finished_jobs_only() {
        assert_eq!(success_rate(0, 0), None);
        assert_eq!(success_rate(3, 1), Some(75.0));
        assert_eq!(success_rate(2, 1), Some(66.7));
    }

    #[test]
    fn statuses_name_their_events() {
        assert_eq!(Completed.event(), "job.completed");
        assert_eq!(Cancelled.event(), "job.cancelled");
    }
}
