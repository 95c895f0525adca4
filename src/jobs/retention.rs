//! Pruning finished jobs older than `JOB_RETENTION`, with their failures, so the
//! job log does not grow forever. One instance prunes at a time.

use std::time::Duration;

use chrono::Utc;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, Iterable, QueryFilter, QuerySelect, TransactionTrait};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::model::JobStatus;
use crate::{
    entity::{job, job_failure},
    error::Result,
};

/// Jobs deleted per transaction, so one prune never holds a long transaction.
const BATCH: u64 = 500;

/// The advisory lock that lets one instance prune at a time.
const PRUNE_LOCK: &str = "job_retention";

/// How often the pruner looks: hourly, or a quarter of the retention when that is shorter.
pub fn prune_interval(retention: Duration) -> Duration {
    (retention / 4).clamp(Duration::from_millis(100), Duration::from_secs(3600))
}

/// Deletes every finished job that finished before `retention` ago, and its failures.
/// `None` when another instance is pruning right now (it will do the work).
pub async fn prune_finished_jobs(db: &DatabaseConnection, retention: Duration) -> Result<Option<u64>> {
    let cutoff = Utc::now() - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::days(90));
    let finished: Vec<JobStatus> = JobStatus::iter().filter(|s| s.is_finished()).collect();
    let mut pruned = 0;
    loop {
        let txn = db.begin().await?;
        if !crate::db::try_serialize_on(&txn, PRUNE_LOCK).await? {
            return Ok(None);
        }
        let ids: Vec<i64> = job::Entity::find()
            .select_only()
            .column(job::Column::Id)
            .filter(job::Column::Status.is_in(finished.clone()))
            .filter(job::Column::FinishedAt.lt(cutoff))
            .limit(BATCH)
            .into_tuple()
            .all(&txn)
            .await?;
        if !ids.is_empty() {
            job_failure::Entity::delete_many().filter(job_failure::Column::JobId.is_in(ids.clone())).exec(&txn).await?;
            job::Entity::delete_many().filter(job::Column::Id.is_in(ids.clone())).exec(&txn).await?;
        }
        txn.commit().await?;
        pruned += ids.len() as u64;
        if (ids.len() as u64) < BATCH {
            return Ok(Some(pruned));
        }
    }
}

/// Prunes old finished jobs every [`prune_interval`] until shutdown.
pub async fn run_pruner(db: DatabaseConnection, retention: Duration, shutdown: CancellationToken) {
    crate::periodic::every(prune_interval(retention), shutdown, || async {
        match prune_finished_jobs(&db, retention).await {
            Ok(Some(pruned)) if pruned > 0 => info!(pruned, "pruned finished jobs past JOB_RETENTION"),
            Ok(_) => {}
            Err(err) => warn!(error = %err, "pruning old jobs failed"),
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pruner_looks_hourly_or_faster_for_short_retentions() {
        assert_eq!(prune_interval(Duration::from_secs(90 * 86400)), Duration::from_secs(3600));
        assert_eq!(prune_interval(Duration::from_secs(2)), Duration::from_millis(500));
        assert_eq!(prune_interval(Duration::ZERO), Duration::from_millis(100));
    }
}
