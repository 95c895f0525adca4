//! `POST /api/jobs/{id}/retry`: a failed or cancelled built-in job starts again as a new job.

use reqwest::StatusCode;
use serde_json::json;

use crate::{
    helpers::*,
    jobs::{create_job, finish},
    scraping::{add_item, create_store, job_end, spawn_with_catalog},
    shop::FakeShop,
};

/// A store whose only page takes 5 s, and a scrape of it that was cancelled.
async fn cancelled_scrape(app: &TestApp, admin: &str, shop: &FakeShop, ws: &mut WsClient) -> (i64, i64) {
    let store = create_store(app, admin, "Slow shop").await;
    add_item(app, admin, store, json!({"name": "Slow", "url": shop.url("/slow")})).await;
    let (status, job) = app.post(&format!("/api/stores/{store}/scrape"), Some(admin)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    let id = job["id"].as_i64().unwrap();
    app.post(&format!("/api/jobs/{id}/cancel"), Some(admin)).await;
    assert_eq!(job_end(ws, id).await["event"], "job.cancelled");
    (store, id)
}

#[tokio::test]
async fn a_cancelled_scrape_is_retried_as_a_new_job_with_the_same_kind_and_scope() {
    let shop = FakeShop::start().await;
    let app = spawn_app_with(|c| c.scrape_allowed_hosts = vec![shop.host()]).await;
    let admin = app.token(ADMIN).await;
    let mut dashboard = app.ws_subscribed(&admin, &["jobs"], None).await;
    let (store, old) = cancelled_scrape(&app, &admin, &shop, &mut dashboard).await;

    let (status, retried) = app.post(&format!("/api/jobs/{old}/retry"), Some(&admin)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{retried}");
    let new = retried["id"].as_i64().unwrap();
    assert!(new > old);
    assert_eq!(retried["kind"], "scrape_store");
    assert_eq!(retried["scope"], format!("store:{store}"));
    let created = dashboard.expect_event("job.created").await;
    assert_eq!(created["data"]["id"], new);
    let (_, me) = app.get("/api/me", Some(&admin)).await;
    assert_eq!(retried["created_by"], me["id"]);
    // The retried job is left as it was.
    let (_, original) = app.get(&format!("/api/jobs/{old}"), Some(&admin)).await;
    assert_eq!(original["status"], "cancelled");

    // While the new one runs, the old one cannot be retried again (exclusivity), nor the running one.
    assert_error(
        &app.post(&format!("/api/jobs/{old}/retry"), Some(&admin)).await,
        StatusCode::CONFLICT,
        "already_running",
    );
    assert_error(
        &app.post(&format!("/api/jobs/{new}/retry"), Some(&admin)).await,
        StatusCode::CONFLICT,
        "invalid_state",
    );
    app.post(&format!("/api/jobs/{new}/cancel"), Some(&admin)).await;
    assert_eq!(job_end(&mut dashboard, new).await["event"], "job.cancelled");

    // An inactive or deleted store's scrape is not retried.
    let (status, _) = app
        .request(
            reqwest::Method::PATCH,
            &format!("/api/stores/{store}"),
            Some(&admin),
            Some(&json!({"is_active": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let refused = app.post(&format!("/api/jobs/{old}/retry"), Some(&admin)).await;
    assert_error(&refused, StatusCode::CONFLICT, "invalid_state");
    assert!(refused.1["error"]["message"].as_str().unwrap().contains("inactive"), "{}", refused.1);
}

#[tokio::test]
async fn ten_simultaneous_retries_of_one_job_start_exactly_one() {
    let shop = FakeShop::start().await;
    let app = spawn_app_with(|c| c.scrape_allowed_hosts = vec![shop.host()]).await;
    let admin = app.token(ADMIN).await;
    let mut dashboard = app.ws_subscribed(&admin, &["jobs"], None).await;
    let (store, old) = cancelled_scrape(&app, &admin, &shop, &mut dashboard).await;

    let path = format!("/api/jobs/{old}/retry");
    let answers = futures_util::future::join_all((0..10).map(|_| app.post(&path, Some(&admin)))).await;
    let started: Vec<_> = answers.iter().filter(|(status, _)| *status == StatusCode::ACCEPTED).collect();
    assert_eq!(started.len(), 1, "{answers:?}");
    for answer in answers.iter().filter(|(status, _)| *status != StatusCode::ACCEPTED) {
        assert_error(answer, StatusCode::CONFLICT, "already_running");
    }
    let (_, page) = app.get(&format!("/api/jobs?scope=store:{store}"), Some(&admin)).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2, "the cancelled job and one new job: {page}");
    let new = started[0].1["id"].as_i64().unwrap();
    app.post(&format!("/api/jobs/{new}/cancel"), Some(&admin)).await;
    assert_eq!(job_end(&mut dashboard, new).await["event"], "job.cancelled");
}

#[tokio::test]
async fn a_failed_import_is_retried_with_the_same_file() {
    let (app, dir) = spawn_with_catalog(&[("bad.csv", "id,title\n1,Ball\n")]).await;
    let admin = app.token(ADMIN).await;
    let mut dashboard = app.ws_subscribed(&admin, &["jobs"], None).await;
    let (_, job) = app.post_json("/api/imports/catalog", Some(&admin), &json!({"file": "bad.csv"})).await;
    let old = job["id"].as_i64().unwrap();
    assert_eq!(job_end(&mut dashboard, old).await["event"], "job.failed");
    // Fixed in place, the file imports on retry.
    std::fs::write(dir.join("bad.csv"), "sku,name\nB-1,Ball\n").unwrap();
    let (status, retried) = app.post(&format!("/api/jobs/{old}/retry"), Some(&admin)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{retried}");
    assert_eq!(retried["kind"], "catalog_import");
    assert_eq!(retried["name"], "Import bad.csv");
    let new = retried["id"].as_i64().unwrap();
    assert_eq!(job_end(&mut dashboard, new).await["event"], "job.completed");
    // A completed job is not retried; nor a file that has gone.
    assert_error(
        &app.post(&format!("/api/jobs/{new}/retry"), Some(&admin)).await,
        StatusCode::CONFLICT,
        "invalid_state",
    );
    std::fs::remove_file(dir.join("bad.csv")).unwrap();
    assert_error(
        &app.post(&format!("/api/jobs/{old}/retry"), Some(&admin)).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn worker_jobs_unknown_jobs_and_non_admins_cannot_retry() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let job = create_job(&app, &admin, json!({"kind": "export", "name": "Export"})).await;
    let id = job["id"].as_i64().unwrap();
    let failed = finish(&app, &admin, id, json!({"status": "failed", "error_message": "boom"})).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    let refused = app.post(&format!("/api/jobs/{id}/retry"), Some(&admin)).await;
    assert_error(&refused, StatusCode::CONFLICT, "invalid_state");
    assert!(refused.1["error"]["message"].as_str().unwrap().contains("external worker"), "{}", refused.1);
    assert_error(&app.post("/api/jobs/999999/retry", Some(&admin)).await, StatusCode::NOT_FOUND, "not_found");
    assert_error(&app.post("/api/jobs/x/retry", Some(&admin)).await, StatusCode::BAD_REQUEST, "validation_failed");
    let ann = app.token(ANN).await;
    assert_error(&app.post(&format!("/api/jobs/{id}/retry"), Some(&ann)).await, StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn a_failed_server_job_of_a_kind_without_a_restart_is_refused_naming_the_retryable_kinds() {
    use taskwire::jobs::{
        JobStatus,
        service::{Runner, finish_job},
    };
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    // A job the server itself ran (not a worker's), of a kind no domain restarts, that failed.
    let job = crate::jobs::stored_job(&app, "reindex", Some("catalog"), Runner::Server, false).await;
    let failed = finish_job(&app.state, job.id, JobStatus::Failed, Some("index gone".into()), None).await.unwrap();
    assert_eq!(failed.status, JobStatus::Failed);
    let (_, shown) = app.get(&format!("/api/jobs/{}", job.id), Some(&admin)).await;
    assert_eq!(shown["status"], "failed", "{shown}");

    let refused = app.post(&format!("/api/jobs/{}/retry", job.id), Some(&admin)).await;
    assert_error(&refused, StatusCode::CONFLICT, "invalid_state");
    let message = refused.1["error"]["message"].as_str().unwrap();
    assert!(message.contains("reindex jobs cannot be retried"), "{message}");
    let kinds = app.state.restartable.names();
    for built_in in ["catalog_import", "scrape_store"] {
        assert!(kinds.contains(&built_in), "{built_in} is retryable: {kinds:?}");
    }
    assert!(message.contains(&format!("retryable kinds: {}", kinds.join(", "))), "{message}");

    // Nothing was started, and the failed job stays as it was.
    let (_, page) = app.get("/api/jobs", Some(&admin)).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
    let (_, after) = app.get(&format!("/api/jobs/{}", job.id), Some(&admin)).await;
    assert_eq!(after["status"], "failed", "{after}");
    assert_eq!(after["error_message"], "index gone", "{after}");
}

#[tokio::test]
async fn a_failed_import_that_names_no_file_is_not_retried_with_whatever_file_is_the_default() {
    use taskwire::jobs::{
        JobStatus,
        service::{Runner, finish_job},
    };
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    // An import job stored without parameters (as an old version wrote them).
    let job = crate::jobs::stored_job(&app, "catalog_import", None, Runner::Server, false).await;
    finish_job(&app.state, job.id, JobStatus::Failed, Some("the file was unreadable".into()), None).await.unwrap();

    let refused = app.post(&format!("/api/jobs/{}/retry", job.id), Some(&admin)).await;
    assert_error(&refused, StatusCode::CONFLICT, "invalid_state");
    let message = refused.1["error"]["message"].as_str().unwrap();
    assert!(message.contains(&format!("job {} names no file to import", job.id)), "{message}");
    let (_, page) = app.get("/api/jobs", Some(&admin)).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "no import was started: {page}");
}
