//! Progress coalescing: however often a job reports, its row is written and
//! `job.progress` published at most once per interval; the rest is merged.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use dashmap::DashMap;
use serde::Deserialize;
use tracing::warn;

use super::{
    model::{JobStatus, JobView, progress},
    progress_write::ProgressWrite,
};
use crate::{
    error::{AppError, Result},
    state::AppState,
};

/// Absolute progress figures; absent fields stay as they are.
#[derive(Debug, Default, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgressUpdate {
    #[schema(minimum = 0, maximum = 1000000000000_i64)]
    pub items_processed: Option<i64>,
    #[schema(minimum = 0, maximum = 1000000000000_i64)]
    pub items_failed: Option<i64>,
    #[schema(minimum = 0, maximum = 1000000000000_i64)]
    pub items_total: Option<i64>,
    #[schema(max_length = 1000)]
    pub message: Option<String>,
}

impl ProgressUpdate {
    /// A newer update wins field by field.
    pub(super) fn merge(&mut self, newer: ProgressUpdate) {
        self.items_processed = newer.items_processed.or(self.items_processed);
        self.items_failed = newer.items_failed.or(self.items_failed);
        self.items_total = newer.items_total.or(self.items_total);
        self.message = newer.message.or(self.message.take());
    }

    /// Rejects counts outside 0 to `MAX_ITEMS` and an overlong message.
    pub fn validate(&self) -> Result<()> {
        for (field, value) in [
            ("items_processed", self.items_processed),
            ("items_failed", self.items_failed),
            ("items_total", self.items_total),
        ] {
            if let Some(value) = value {
                super::model::check_item_count(field, value)?;
            }
        }
        if self.message.as_ref().is_some_and(|m| m.chars().count() > 1000) {
            return Err(AppError::field("message", "must be at most 1000 characters long"));
        }
        Ok(())
    }

    /// Checks the figures against each other once merged with the job's current ones
    /// (including progress reported but not yet written).
    pub fn check_against(&self, job: &JobView) -> Result<()> {
        let total = self.items_total.unwrap_or(job.items_total);
        let processed = self.items_processed.unwrap_or(job.items_processed);
        let failed = self.items_failed.unwrap_or(job.items_failed);
        if total > 0 && processed > total {
            return Err(AppError::field("items_processed", &format!("{processed} exceeds items_total {total}")));
        }
        if failed > processed {
            return Err(AppError::field("items_failed", &format!("{failed} exceeds items_processed {processed}")));
        }
        Ok(())
    }

    /// The figures shown once this update is applied.
    pub(super) fn apply(&self, view: &mut JobView) {
        view.items_processed = self.items_processed.unwrap_or(view.items_processed);
        view.items_failed = self.items_failed.unwrap_or(view.items_failed);
        view.items_total = self.items_total.unwrap_or(view.items_total);
        if let Some(message) = &self.message {
            view.message = Some(message.clone());
        }
        (view.progress_percent, view.remaining_items) = progress(view.items_total, view.items_processed);
    }
}

#[derive(Default)]
struct Pending {
    /// Built-in jobs: figures not written yet.
    update: Option<ProgressUpdate>,
    /// When `update` last changed: the `updated_at` a read shows for unwritten figures.
    received_at: Option<DateTime<Utc>>,
    /// A `job.progress` event is owed for figures already written (worker reports).
    event_owed: bool,
    last_flush: Option<Instant>,
    timer_armed: bool,
}

/// When a job's next write or event may happen.
enum Slot {
    Now,
    Later(Duration),
    /// A timer is already armed; it will take care of it.
    Armed,
}

/// Per-job pending progress of this instance.
pub struct ProgressCoalescer {
    pending: DashMap<i64, Pending>,
    interval: Duration,
}

impl ProgressCoalescer {
    pub fn new(interval: Duration) -> Self {
        ProgressCoalescer { pending: DashMap::new(), interval }
    }

    /// An armed timer owns the next write even if it fires late; otherwise the
    /// write happens now if the last one is an interval old, or when it will be.
    fn slot(&self, entry: &mut Pending) -> Slot {
        if entry.timer_armed {
            return Slot::Armed;
        }
        match entry.last_flush.map(|t| t.elapsed()) {
            Some(since) if since < self.interval => {
                entry.timer_armed = true;
                Slot::Later(self.interval - since)
            }
            _ => Slot::Now,
        }
    }

    fn flush_later(&self, state: &AppState, job_id: i64, delay: Duration) {
        let state = state.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            if let Err(err) = state.jobs.progress.flush(&state, job_id).await {
                warn!(job_id, error = %err, "writing coalesced progress failed");
            }
        });
    }

    /// Built-in jobs: figures are merged here and written and published when the
    /// job's last write is an interval old, otherwise when the interval ends.
    pub async fn report(&self, state: &AppState, job_id: i64, update: ProgressUpdate) -> Result<()> {
        let slot = {
            let mut entry = self.pending.entry(job_id).or_default();
            match entry.update.as_mut() {
                Some(pending) => pending.merge(update),
                None => entry.update = Some(update),
            }
            entry.received_at = Some(Utc::now());
            self.slot(&mut entry)
        };
        match slot {
            Slot::Now => self.flush(state, job_id).await,
            Slot::Later(delay) => {
                self.flush_later(state, job_id, delay);
                Ok(())
            }
            Slot::Armed => Ok(()),
        }
    }

    /// Worker reports: the figures are written at once (with every other write
    /// waiting), so whichever instance finishes the job announces the final
    /// state; only `job.progress` events are coalesced. The job is checked in the
    /// write's transaction: 404 when it does not exist, 409 when it is not a
    /// running worker job, 400 when the figures disagree with its current ones.
    pub async fn record(&self, state: &AppState, job_id: i64, update: ProgressUpdate) -> Result<JobView> {
        let slot = {
            let mut entry = self.pending.entry(job_id).or_default();
            let slot = self.slot(&mut entry);
            // Announced by this write, or owed by a later one.
            entry.event_owed = !matches!(slot, Slot::Now);
            if matches!(slot, Slot::Now) {
                entry.last_flush = Some(Instant::now());
            }
            slot
        };
        let announce = matches!(slot, Slot::Now);
        let written = state.progress_writes.write(ProgressWrite { job_id, update, announce, from_worker: true }).await;
        match &written {
            // Nothing to coalesce for a job that does not exist or takes no reports
            // (a server job's own unwritten figures stay).
            Err(AppError::NotFound(_)) => {
                self.pending.remove(&job_id);
            }
            Err(AppError::InvalidState(_)) => self.forget_unless_unwritten(job_id),
            _ => {
                if let Slot::Later(delay) = slot {
                    self.flush_later(state, job_id, delay);
                }
            }
        }
        written?.ok_or_else(|| AppError::InvalidState(format!("job {job_id} is no longer running")))
    }

    /// Writes and publishes the job's pending figures, or publishes the event owed
    /// for figures already written. A job that is no longer running keeps its final figures.
    pub async fn flush(&self, state: &AppState, job_id: i64) -> Result<()> {
        let (update, event_owed) = match self.pending.get_mut(&job_id) {
            Some(mut entry) => {
                entry.last_flush = Some(Instant::now());
                entry.timer_armed = false;
                (entry.update.take(), std::mem::take(&mut entry.event_owed))
            }
            None => (None, false),
        };
        let written = match update {
            Some(update) => write(state, job_id, update).await?,
            None if event_owed => write(state, job_id, ProgressUpdate::default()).await?,
            None => return Ok(()),
        };
        if written.is_none() {
            // The job is no longer running: nothing more to coalesce.
            self.forget_unless_unwritten(job_id);
        }
        Ok(())
    }

    /// The view with this instance's not-yet-written progress applied.
    pub fn overlay(&self, mut view: JobView) -> JobView {
        if let Some(entry) = self.pending.get(&view.id)
            && let Some(update) = &entry.update
            && view.status == JobStatus::Running
        {
            update.apply(&mut view);
            view.updated_at = entry.received_at.unwrap_or(view.updated_at).max(view.updated_at);
        }
        view
    }

    /// Drops the job's state unless it holds figures not written yet (a server job's own).
    fn forget_unless_unwritten(&self, job_id: i64) {
        self.pending.remove_if(&job_id, |_, entry| entry.update.is_none());
    }

    /// Drops the job's state once it finished.
    pub fn forget(&self, job_id: i64) {
        self.pending.remove(&job_id);
    }
}

/// Writes figures to a running job (and its heartbeat) and publishes
/// `job.progress`, sharing a transaction with every other write waiting; `None`
/// when the job is no longer running.
async fn write(state: &AppState, job_id: i64, update: ProgressUpdate) -> Result<Option<JobView>> {
    state.progress_writes.write(ProgressWrite { job_id, update, announce: true, from_worker: false }).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_figures_win_field_by_field() {
        let mut update = ProgressUpdate { items_processed: Some(1), message: Some("a".into()), ..Default::default() };
        update.merge(ProgressUpdate { items_processed: Some(5), items_failed: Some(1), ..Default::default() });
        assert_eq!(update.items_processed, Some(5));
        assert_eq!(update.items_failed, Some(1));
        assert_eq!(update.message.as_deref(), Some("a"));
    }

    #[test]
    fn bad_figures_are_refused() {
        assert!(ProgressUpdate { items_total: Some(-1), ..Default::default() }.validate().is_err());
        assert!(ProgressUpdate { message: Some("x".repeat(1001)), ..Default::default() }.validate().is_err());
    }
}
