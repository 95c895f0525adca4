//! Progress figures written in batches: every report waiting for the database
//! shares one transaction (see `events::group_commit`), and the jobs it touches
//! are read with one query and written with one multi-row statement. A worker's
//! figures are still in the database when its report is answered, so whichever
//! instance finishes the job announces the final figures.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveEnum, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement, Value,
};

use super::{
    model::{JobStatus, JobView},
    progress::ProgressUpdate,
    service::{Runner, job_event},
};
use crate::{
    entity::job,
    error::{AppError, Result},
    events::group_commit::{BatchWrite, ItemOutcome},
};

/// One report (or one coalesced flush) to write.
#[derive(Debug)]
pub struct ProgressWrite {
    pub job_id: i64,
    pub update: ProgressUpdate,
    /// Publish `job.progress` with the figures written.
    pub announce: bool,
    /// A worker's report: the job must be a running external job, and the
    /// figures must agree with each other once merged (else 404/409/400).
    /// Otherwise (the server's own jobs) a job no longer running is `None`.
    pub from_worker: bool,
}

impl BatchWrite for ProgressWrite {
    type Output = Option<JobView>;

    async fn write_batch(txn: &DatabaseTransaction, items: &[Self]) -> Result<Vec<ItemOutcome<Option<JobView>>>> {
        let now = Utc::now();
        let mut jobs = running_jobs(txn, items, now).await?;
        // Each report applies on top of the ones before it in the batch.
        let mut written: HashMap<i64, ProgressUpdate> = HashMap::new();
        // Each job announced: the last accepted report that asked for it.
        let mut announced: HashMap<i64, usize> = HashMap::new();
        let mut outcomes = Vec::with_capacity(items.len());
        for (n, item) in items.iter().enumerate() {
            let outcome = match jobs.get_mut(&item.job_id) {
                Some(found) if item.from_worker && !found.external => {
                    Err(AppError::InvalidState(format!("job {} is run by the server, not by a worker", item.job_id)))
                }
                Some(Found { state: Err(status), .. }) if item.from_worker => {
                    Err(AppError::InvalidState(format!("job {} is {status}, not running", item.job_id)))
                }
                Some(Found { state: Ok(view), .. }) => {
                    match item.from_worker.then(|| item.update.check_against(view)) {
                        Some(Err(refused)) => Err(refused),
                        _ => {
                            item.update.apply(view);
                            view.updated_at = now;
                            written.entry(item.job_id).or_default().merge(item.update.clone());
                            if item.announce {
                                announced.insert(item.job_id, n);
                            }
                            Ok(Some(view.clone()))
                        }
                    }
                }
                None if item.from_worker => Err(AppError::NotFound(format!("job {} does not exist", item.job_id))),
                _ => Ok(None),
            };
            outcomes.push(outcome.map(|view| (view, Vec::new())));
        }
        if !written.is_empty() {
            write_figures(txn, &written, now).await?;
        }
        // One event per job announced, with its figures after the whole batch,
        // carried by its last accepted report (so events keep the reports' order).
        let mut announced: Vec<(usize, i64)> = announced.into_iter().map(|(job_id, n)| (n, job_id)).collect();
        announced.sort_unstable();
        for (n, job_id) in announced {
            if let (Some(Found { state: Ok(view), .. }), Ok((_, events))) = (jobs.get(&job_id), &mut outcomes[n]) {
                events.push(job_event("job.progress", view));
            }
        }
        Ok(outcomes)
    }
}

/// A job the batch names: whether a worker runs it, and its view if it is running.
struct Found {
    external: bool,
    state: std::result::Result<JobView, JobStatus>,
}

/// The jobs the batch names. On PostgreSQL their rows stay locked until commit,
/// so no instance finishes a job between this read and the write.
async fn running_jobs(
    txn: &DatabaseTransaction,
    items: &[ProgressWrite],
    now: DateTime<Utc>,
) -> Result<HashMap<i64, Found>> {
    let mut ids: Vec<i64> = items.iter().map(|i| i.job_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut query = job::Entity::find().filter(job::Column::Id.is_in(ids)).order_by_asc(job::Column::Id);
    if txn.get_database_backend() == DbBackend::Postgres {
        query = query.lock_exclusive();
    }
    Ok(query
        .all(txn)
        .await?
        .into_iter()
        .map(|job| {
            let external = job.runner == Runner::External.as_str();
            let state =
                if job.status == JobStatus::Running { Ok(JobView::from_model(&job, now)) } else { Err(job.status) };
            (job.id, Found { external, state })
        })
        .collect())
}

/// One statement for every job of the batch: the figures given, the others kept.
async fn write_figures(
    txn: &DatabaseTransaction,
    jobs: &HashMap<i64, ProgressUpdate>,
    now: DateTime<Utc>,
) -> Result<()> {
    let backend = txn.get_database_backend();
    let mut values: Vec<Value> = Vec::with_capacity(jobs.len() * 5 + 2);
    let mut rows = Vec::with_capacity(jobs.len());
    let mut next = |value: Value, cast: &str| {
        values.push(value);
        match backend {
            DbBackend::Postgres => format!("${}::{cast}", values.len()),
            _ => "?".to_owned(),
        }
    };
    for (id, update) in jobs {
        let row = [
            next((*id).into(), "bigint"),
            next(update.items_processed.into(), "bigint"),
            next(update.items_failed.into(), "bigint"),
            next(update.items_total.into(), "bigint"),
            next(update.message.clone().into(), "text"),
        ];
        rows.push(format!("({})", row.join(", ")));
    }
    // Each placeholder its own value: SQLite's `?` are positional.
    let (updated_at, heartbeat_at) = (next(now.into(), "timestamptz"), next(now.into(), "timestamptz"));
    let running = next(JobStatus::Running.to_value().into(), "text");
    let sql = format!(
        "WITH figures (id, processed, failed, total, message) AS (VALUES {rows}) \
         UPDATE jobs SET \
           items_processed = COALESCE(figures.processed, jobs.items_processed), \
           items_failed = COALESCE(figures.failed, jobs.items_failed), \
           items_total = COALESCE(figures.total, jobs.items_total), \
           message = COALESCE(figures.message, jobs.message), \
           updated_at = {updated_at}, heartbeat_at = {heartbeat_at} \
         FROM figures WHERE jobs.id = figures.id AND jobs.status = {running}",
        rows = rows.join(", ")
    );
    txn.execute(Statement::from_sql_and_values(backend, sql, values)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, TransactionTrait};

    use super::*;

    async fn job(db: &sea_orm::DatabaseConnection, runner: Runner, status: JobStatus) -> i64 {
        let now = Utc::now();
        job::ActiveModel {
            kind: Set("sync".into()),
            name: Set("Sync".into()),
            status: Set(status),
            runner: Set(runner.as_str().into()),
            items_total: Set(100),
            items_processed: Set(0),
            items_failed: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
            cancel_requested: Set(false),
            ..Default::default()
        }
        .insert(db)
        .await
        .unwrap()
        .id
    }

    fn report(job_id: i64, processed: i64, failed: Option<i64>) -> ProgressWrite {
        let update = ProgressUpdate { items_processed: Some(processed), items_failed: failed, ..Default::default() };
        ProgressWrite { job_id, update, announce: true, from_worker: true }
    }

    #[tokio::test]
    async fn one_batch_writes_each_job_once_and_refuses_what_does_not_fit() {
        let db = crate::db::connect("sqlite::memory:").await.unwrap();
        crate::db::migrate(&db).await.unwrap();
        let (a, b) = (
            job(&db, Runner::External, JobStatus::Running).await,
            job(&db, Runner::External, JobStatus::Running).await,
        );
        let done = job(&db, Runner::External, JobStatus::Completed).await;
        let server = job(&db, Runner::Server, JobStatus::Running).await;
        let items = [
            report(a, 10, None),
            report(b, 5, Some(1)),
            report(a, 20, Some(3)),
            report(a, 30, Some(40)),
            report(done, 1, None),
            report(server, 1, None),
            report(9999, 1, None),
        ];
        let txn = db.begin().await.unwrap();
        let outcomes = ProgressWrite::write_batch(&txn, &items).await.unwrap();
        txn.commit().await.unwrap();
        let processed = |n: usize| outcomes[n].as_ref().unwrap().0.as_ref().unwrap().items_processed;
        assert_eq!((processed(0), processed(1), processed(2)), (10, 5, 20), "each report sees its own figures");
        assert!(matches!(outcomes[3], Err(AppError::Validation(_))), "40 failed of 30 processed");
        assert!(matches!(outcomes[4], Err(AppError::InvalidState(_))));
        assert!(matches!(outcomes[5], Err(AppError::InvalidState(_))));
        assert!(matches!(outcomes[6], Err(AppError::NotFound(_))));
        let events: Vec<usize> = outcomes.iter().map(|o| o.as_ref().map_or(0, |(_, events)| events.len())).collect();
        assert_eq!(events, [0, 1, 1, 0, 0, 0, 0], "one event per job, on its last accepted report");
        let row = |id| {
            let db = db.clone();
            async move { job::Entity::find_by_id(id).one(&db).await.unwrap().unwrap() }
        };
        let (a, b) = (row(a).await, row(b).await);
        assert_eq!((a.items_processed, a.items_failed, a.items_total), (20, 3, 100));
        assert_eq!((b.items_processed, b.items_failed), (5, 1));
        assert!(a.heartbeat_at.is_some());
        assert_eq!(row(done).await.items_processed, 0, "a finished job keeps its figures");
    }
}
