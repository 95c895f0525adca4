//! The example worker in `examples/worker.py`, run against a real server.

use std::process::Stdio;

use tokio::process::Command;

use crate::{helpers::*, scraping::job_end};

fn worker(app: &TestApp, items: &str, delay: &str) -> Command {
    let mut command = Command::new("python3");
    command
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/worker.py"))
        .env("TASKWIRE_URL", &app.address)
        .env("TASKWIRE_USER", ADMIN.0)
        .env("TASKWIRE_PASSWORD", ADMIN.1)
        .env("WORKER_ITEMS", items)
        .env("WORKER_DELAY", delay)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

#[tokio::test]
async fn the_example_worker_runs_a_job_to_completion() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let mut dashboard = app.ws_subscribed(&admin, &["jobs"], None).await;
    let output = worker(&app, "34", "0").output().await.expect("python3 runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let created = dashboard.expect_event("job.created").await;
    let end = job_end(&mut dashboard, created["data"]["id"].as_i64().unwrap()).await;
    assert_eq!(end["event"], "job.completed");
    assert_eq!(end["data"]["items_processed"], 34);
    assert_eq!(end["data"]["items_failed"], 2);
    assert_eq!(end["data"]["message"], "exported 32 items");
}

#[tokio::test]
async fn the_example_worker_stops_when_its_job_is_cancelled() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let mut dashboard = app.ws_subscribed(&admin, &["jobs"], None).await;
    let running = worker(&app, "1000", "0.02").spawn().expect("python3 runs");
    let created = dashboard.expect_event("job.created").await;
    let id = created["data"]["id"].as_i64().unwrap();
    let (status, _) = app.post(&format!("/api/jobs/{id}/cancel"), Some(&admin)).await;
    assert_eq!(status, reqwest::StatusCode::OK);
    let end = job_end(&mut dashboard, id).await;
    assert_eq!(end["event"], "job.cancelled");
    assert!(end["data"]["items_processed"].as_i64().unwrap() < 1000);
    let output = running.wait_with_output().await.unwrap();
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("cancelled after"));
}
