//! `JOB_RETENTION`: finished jobs older than it are pruned with their failures; nothing else is.

use std::time::Duration;

use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, sea_query::Expr};
use serde_json::json;
use taskwire::{
    entity::{job, job_failure},
    jobs::{retention::prune_finished_jobs, service::record_failure},
};

use crate::{
    helpers::*,
    jobs::{create_job, finish},
};

async fn worker_job(app: &TestApp, token: &str, name: &str) -> i64 {
    create_job(app, token, json!({"kind": "export", "name": name})).await["id"].as_i64().unwrap()
}

async fn set_times(app: &TestApp, id: i64, column: job::Column, at: chrono::DateTime<chrono::Utc>) {
    job::Entity::update_many()
        .col_expr(column, Expr::value(at))
        .filter(job::Column::Id.eq(id))
        .exec(&app.state.db)
        .await
        .unwrap();
}

#[tokio::test]
async fn finished_jobs_past_the_retention_are_pruned_with_their_failures() {
    let app = spawn_app_with(|c| c.job_retention = Duration::from_secs(2)).await;
    let admin = app.token(ADMIN).await;
    let now = chrono::Utc::now();

    // Finished long ago, with failures: pruned.
    let old = worker_job(&app, &admin, "Old").await;
    record_failure(&app.state.db, old, "row 1", "bad").await.unwrap();
    assert_eq!(finish(&app, &admin, old, json!({"status": "failed"})).await["status"], "failed");
    set_times(&app, old, job::Column::FinishedAt, now - chrono::Duration::minutes(10)).await;
    // Running, created long ago: kept.
    let running = worker_job(&app, &admin, "Still running").await;
    set_times(&app, running, job::Column::CreatedAt, now - chrono::Duration::minutes(10)).await;
    // Finished within the retention (for the whole test): kept.
    let recent = worker_job(&app, &admin, "Recent").await;
    assert_eq!(finish(&app, &admin, recent, json!({"status": "completed"})).await["status"], "completed");
    set_times(&app, recent, job::Column::FinishedAt, now + chrono::Duration::minutes(10)).await;

    // The pruner (every 500 ms with a 2 s retention) removes the old job.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, _) = app.get(&format!("/api/jobs/{old}"), Some(&admin)).await;
        if status == StatusCode::NOT_FOUND {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the old job was not pruned");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let failures = job_failure::Entity::find().filter(job_failure::Column::JobId.eq(old)).count(&app.state.db).await;
    assert_eq!(failures.unwrap(), 0, "its failures went with it");
    for kept in [running, recent] {
        let (status, _) = app.get(&format!("/api/jobs/{kept}"), Some(&admin)).await;
        assert_eq!(status, StatusCode::OK, "job {kept} is kept");
    }
    let (_, stats) = app.get("/api/jobs/stats", Some(&admin)).await;
    assert_eq!(stats["total_jobs"], 2);
}

#[tokio::test]
async fn one_instance_prunes_at_a_time() {
    use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let old = worker_job(&app, &admin, "Old").await;
    assert_eq!(finish(&app, &admin, old, json!({"status": "completed"})).await["status"], "completed");
    set_times(&app, old, job::Column::FinishedAt, chrono::Utc::now() - chrono::Duration::days(100)).await;
    let retention = Duration::from_secs(90 * 86400);
    if app.state.db.get_database_backend() == DbBackend::Postgres {
        // Another instance holds the pruning lock: this one skips the round.
        let other = app.state.db.begin().await.unwrap();
        other
            .execute(Statement::from_string(
                DbBackend::Postgres,
                "SELECT pg_advisory_xact_lock(hashtext('job_retention'))",
            ))
            .await
            .unwrap();
        assert_eq!(prune_finished_jobs(&app.state.db, retention).await.unwrap(), None);
        other.rollback().await.unwrap();
    }
    assert_eq!(prune_finished_jobs(&app.state.db, retention).await.unwrap(), Some(1));
    assert_eq!(prune_finished_jobs(&app.state.db, retention).await.unwrap(), Some(0));
    let (status, _) = app.get(&format!("/api/jobs/{old}"), Some(&admin)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
