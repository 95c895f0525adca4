//! Jobs: the external-worker protocol, coalesced progress, stats, roles, zombies.

use std::time::Instant;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// A job written straight through the library, as the server writes its own runs
/// (no HTTP route makes a server-run job), started at once.
pub async fn stored_job(
    app: &TestApp,
    kind: &str,
    scope: Option<&str>,
    runner: taskwire::jobs::service::Runner,
    exclusive: bool,
) -> taskwire::jobs::JobView {
    let new = taskwire::jobs::service::NewJob {
        kind: kind.into(),
        name: format!("{kind} job"),
        scope: scope.map(str::to_owned),
        items_total: 0,
        runner,
        params: None,
        created_by: None,
        start_running: true,
        exclusive,
    };
    taskwire::jobs::service::create_job(&app.state, new).await.unwrap()
}

/// Creates a job through the worker API (asserting 201) and returns it.
pub async fn create_job(app: &TestApp, token: &str, body: Value) -> Value {
    let (status, job) = app.post_json("/api/jobs", Some(token), &body).await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    job
}

/// Finishes a job through the worker API (asserting 200) and returns it.
pub async fn finish(app: &TestApp, token: &str, id: i64, body: Value) -> Value {
    let (status, job) = app.post_json(&format!("/api/jobs/{id}/finish"), Some(token), &body).await;
    assert_eq!(status, StatusCode::OK, "{job}");
    job
}

/// Reads frames until `kind` arrives for the job; returns it and every job frame before it.
async fn until_event(ws: &mut WsClient, job_id: i64, kind: &str) -> (Value, Vec<Value>) {
    let mut before = Vec::new();
    loop {
        let frame = ws.next_json().await;
        if frame["data"]["id"] != job_id {
            continue;
        }
        if frame["event"] == kind {
            return (frame, before);
        }
        before.push(frame);
    }
}

#[tokio::test]
async fn an_external_worker_reports_and_dashboards_follow_live() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let mut dashboard = app.ws_subscribed(&admin, &["jobs"], None).await;
    let job = create_job(
        &app,
        &admin,
        json!({"kind": "export", "name": "Nightly export", "scope": "shop:1", "items_total": 100}),
    )
    .await;
    let id = job["id"].as_i64().unwrap();
    assert_eq!(job["status"], "running");
    assert_eq!(job["progress_percent"], 0.0);
    assert_eq!(job["cancel_requested"], false);
    assert_eq!(dashboard.expect_event("job.created").await["data"]["id"], id);
    assert_eq!(dashboard.expect_event("job.started").await["data"]["status"], "running");

    let (status, reported) = app
        .post_json(
            &format!("/api/jobs/{id}/progress"),
            Some(&admin),
            &json!({"items_processed": 40, "items_failed": 2, "message": "halfway"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reported}");
    assert_eq!(reported["items_processed"], 40);
    assert_eq!(reported["progress_percent"], 40.0);
    assert_eq!(reported["remaining_items"], 60);
    let progress = dashboard.expect_event("job.progress").await;
    assert_eq!(progress["data"]["items_failed"], 2);
    assert_eq!(progress["data"]["message"], "halfway");

    let done = finish(&app, &admin, id, json!({"status": "completed"})).await;
    assert_eq!(done["status"], "completed");
    assert!(done["duration_ms"].as_i64().unwrap() >= 0);
    assert!(done["finished_at"].is_string());
    let completed = dashboard.expect_event("job.completed").await;
    assert_eq!(completed["data"]["items_processed"], 40);

    let again = app.post_json(&format!("/api/jobs/{id}/progress"), Some(&admin), &json!({"items_processed": 41})).await;
    assert_error(&again, StatusCode::CONFLICT, "invalid_state");
    let (status, detail) = app.get(&format!("/api/jobs/{id}"), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["status"], "completed");
    assert_eq!(detail["failures"], json!([]));
}

#[tokio::test]
async fn progress_events_are_coalesced_and_the_last_state_arrives() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let mut dashboard = app.ws_subscribed(&admin, &["job:1", "jobs"], None).await;
    let job = create_job(&app, &admin, json!({"kind": "sync", "name": "Sync", "items_total": 200})).await;
    let id = job["id"].as_i64().unwrap();
    let started = Instant::now();
    for n in 1..=200 {
        let (status, _) =
            app.post_json(&format!("/api/jobs/{id}/progress"), Some(&admin), &json!({"items_processed": n})).await;
        assert_eq!(status, StatusCode::OK);
    }
    let elapsed = started.elapsed();
    finish(&app, &admin, id, json!({"status": "completed"})).await;
    let (completed, before) = until_event(&mut dashboard, id, "job.completed").await;
    let progress: Vec<&Value> = before.iter().filter(|f| f["event"] == "job.progress").collect();
    let allowed = (elapsed.as_millis() / 200) as usize + 2;
    assert!(progress.len() <= allowed, "{} progress events in {elapsed:?} (at most {allowed})", progress.len());
    assert!(progress.len() < 200, "200 reports were coalesced");
    assert_eq!(
        progress.last().unwrap()["data"]["items_processed"],
        200,
        "the last state before the finish is delivered"
    );
    assert_eq!(completed["data"]["items_processed"], 200);
    assert_eq!(completed["data"]["progress_percent"], 100.0);
    let (_, stored) = app.get(&format!("/api/jobs/{id}"), Some(&admin)).await;
    assert_eq!(stored["items_processed"], 200);
}

#[tokio::test]
async fn cancel_delete_and_exclusive_jobs() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let job =
        create_job(&app, &admin, json!({"kind": "backup", "name": "Backup", "scope": "db", "exclusive": true})).await;
    let id = job["id"].as_i64().unwrap();
    let second = app
        .post_json(
            "/api/jobs",
            Some(&admin),
            &json!({"kind": "backup", "name": "Backup again", "scope": "db", "exclusive": true}),
        )
        .await;
    assert_error(&second, StatusCode::CONFLICT, "already_running");
    let message = second.1["error"]["message"].as_str().unwrap();
    assert!(message.contains(&format!("job {id}")) && message.contains("started"), "{message}");
    create_job(&app, &admin, json!({"kind": "backup", "name": "Other scope", "scope": "files", "exclusive": true}))
        .await;

    assert_error(
        &app.request(Method::DELETE, &format!("/api/jobs/{id}"), Some(&admin), None).await,
        StatusCode::CONFLICT,
        "invalid_state",
    );
    let (status, cancelled) = app.post(&format!("/api/jobs/{id}/cancel"), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cancelled["cancel_requested"], true);
    assert_eq!(cancelled["status"], "running", "a worker's job runs until the worker stops it");
    let (_, seen) =
        app.post_json(&format!("/api/jobs/{id}/progress"), Some(&admin), &json!({"items_processed": 1})).await;
    assert_eq!(seen["cancel_requested"], true, "the worker learns it should stop");
    let stopped = finish(&app, &admin, id, json!({"status": "cancelled"})).await;
    assert_eq!(stopped["status"], "cancelled");
    assert_error(
        &app.post(&format!("/api/jobs/{id}/cancel"), Some(&admin)).await,
        StatusCode::CONFLICT,
        "invalid_state",
    );
    let (status, _) = app.request(Method::DELETE, &format!("/api/jobs/{id}"), Some(&admin), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_error(&app.get(&format!("/api/jobs/{id}"), Some(&admin)).await, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn stats_match_the_jobs() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    // The figures this test is about; the 24-hour ones have a test of their own.
    let totals = |stats: &Value| {
        let keys =
            ["total_jobs", "active_jobs", "completed_today", "failed_jobs", "total_items_processed", "success_rate"];
        Value::Object(keys.iter().map(|k| ((*k).to_owned(), stats[*k].clone())).collect())
    };
    let (_, empty) = app.get("/api/jobs/stats", Some(&admin)).await;
    assert_eq!(
        totals(&empty),
        json!({"total_jobs": 0, "active_jobs": 0, "completed_today": 0, "failed_jobs": 0, "total_items_processed": 0, "success_rate": null})
    );
    for (processed, outcome) in [(10, Some("completed")), (5, Some("completed")), (3, Some("failed")), (7, None)] {
        let job = create_job(&app, &admin, json!({"kind": "count", "name": "Counting", "items_total": 10})).await;
        let id = job["id"].as_i64().unwrap();
        app.post_json(&format!("/api/jobs/{id}/progress"), Some(&admin), &json!({"items_processed": processed})).await;
        if let Some(status) = outcome {
            finish(&app, &admin, id, json!({"status": status, "error_message": "disk full"})).await;
        }
    }
    let (status, stats) = app.get("/api/jobs/stats", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        totals(&stats),
        json!({"total_jobs": 4, "active_jobs": 1, "completed_today": 2, "failed_jobs": 1, "total_items_processed": 25, "success_rate": 66.7})
    );

    let (_, failed) = app.get("/api/jobs?status=failed", Some(&admin)).await;
    assert_eq!(failed["items"].as_array().unwrap().len(), 1);
    assert_eq!(failed["items"][0]["error_message"], "disk full");
    let (_, page) = app.get("/api/jobs?kind=count&limit=3", Some(&admin)).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    let next = page["next_before"].as_i64().unwrap();
    let (_, rest) = app.get(&format!("/api/jobs?kind=count&limit=3&before={next}"), Some(&admin)).await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert!(rest["next_before"].is_null());
    assert_error(
        &app.get("/api/jobs?status=sleeping", Some(&admin)).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    );
}

#[tokio::test]
async fn only_admins_see_or_touch_jobs() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let ann = app.token(ANN).await;
    let job = create_job(&app, &admin, json!({"kind": "x", "name": "Secret"})).await;
    let id = &job["id"];
    for (method, path) in [
        (Method::GET, "/api/jobs".to_owned()),
        (Method::GET, "/api/jobs/stats".to_owned()),
        (Method::GET, format!("/api/jobs/{id}")),
        (Method::POST, format!("/api/jobs/{id}/cancel")),
        (Method::DELETE, format!("/api/jobs/{id}")),
        (Method::POST, "/api/jobs".to_owned()),
        (Method::POST, format!("/api/jobs/{id}/progress")),
        (Method::POST, format!("/api/jobs/{id}/finish")),
        (Method::GET, "/api/stores/1/jobs".to_owned()),
        (Method::POST, "/api/stores/scrape".to_owned()),
        (Method::GET, "/api/stores".to_owned()),
        (Method::POST, "/api/imports/catalog".to_owned()),
        (Method::GET, "/api/products".to_owned()),
    ] {
        let response = app.request(method.clone(), &path, Some(&ann), Some(&json!({}))).await;
        assert_error(&response, StatusCode::FORBIDDEN, "forbidden");
    }
    let mut ws = app.ws(&ann).await;
    for channel in ["jobs", &format!("job:{id}")] {
        ws.send_json(json!({"type": "subscribe", "channels": [channel]})).await;
        assert_eq!(ws.next_json().await["code"], "forbidden");
    }
}

#[tokio::test]
async fn bad_worker_input_is_refused() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    for (body, field) in [
        (json!({"name": "No kind"}), "kind"),
        (json!({"kind": "has space", "name": "x"}), "kind"),
        (json!({"kind": "scrape_store", "name": "x"}), "kind"),
        (json!({"kind": "k", "name": ""}), "name"),
        (json!({"kind": "k", "name": "x", "items_total": -1}), "items_total"),
    ] {
        let response = app.post_json("/api/jobs", Some(&admin), &body).await;
        assert_error(&response, StatusCode::BAD_REQUEST, "validation_failed");
        assert!(response.1["error"]["message"].as_str().unwrap().contains(field), "{field}: {}", response.1);
    }
    let job = create_job(&app, &admin, json!({"kind": "k", "name": "x", "items_total": 10})).await;
    let path = format!("/api/jobs/{}/progress", job["id"]);
    for (body, field) in [
        (json!({"items_processed": -1}), "items_processed"),
        (json!({"items_processed": 11}), "items_processed"),
        (json!({"items_processed": 2, "items_failed": 3}), "items_failed"),
        (json!({"percent": 3}), "percent"),
    ] {
        let response = app.post_json(&path, Some(&admin), &body).await;
        assert_error(&response, StatusCode::BAD_REQUEST, "validation_failed");
        assert!(response.1["error"]["message"].as_str().unwrap().contains(field), "{field}: {}", response.1);
    }
    let finish =
        app.post_json(&format!("/api/jobs/{}/finish", job["id"]), Some(&admin), &json!({"status": "done"})).await;
    assert_error(&finish, StatusCode::BAD_REQUEST, "validation_failed");
    assert_error(
        &app.post_json("/api/jobs/9999/progress", Some(&admin), &json!({})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

#[tokio::test]
async fn jobs_left_running_by_a_dead_process_fail_at_the_next_start() {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    let (database, url) = TestDatabase::create().await;
    let mut first = spawn_on(&url, |_| {}).await;
    let now = chrono::Utc::now();
    let left_running = |runner: &str, kind: &str| taskwire::entity::job::ActiveModel {
        kind: Set(kind.into()),
        name: Set(format!("{kind} left behind")),
        status: Set(taskwire::jobs::JobStatus::Running),
        runner: Set(runner.into()),
        items_total: Set(10),
        items_processed: Set(4),
        items_failed: Set(0),
        created_at: Set(now),
        started_at: Set(Some(now)),
        updated_at: Set(now),
        heartbeat_at: Set(Some(now - chrono::Duration::minutes(5))),
        cancel_requested: Set(false),
        ..Default::default()
    };
    let zombie = left_running("server", "scrape_store").insert(&first.state.db).await.unwrap();
    let external = left_running("external", "export").insert(&first.state.db).await.unwrap();
    first.stop().await;

    let second = spawn_on(&url, |_| {}).await;
    taskwire::users::service::create_user(&second.state.db, ADMIN.0, ADMIN.1, "ADMIN").await.unwrap();
    let admin = second.token(ADMIN).await;
    let (_, job) = second.get(&format!("/api/jobs/{}", zombie.id), Some(&admin)).await;
    assert_eq!(job["status"], "failed");
    assert_eq!(job["error_message"], "interrupted by restart");
    assert_eq!(job["items_processed"], 4);
    let (_, job) = second.get(&format!("/api/jobs/{}", external.id), Some(&admin)).await;
    assert_eq!(job["status"], "running", "a worker's job does not depend on the server process");
    drop(second);
    drop(database);
}

#[tokio::test]
async fn workers_cannot_drive_a_job_the_server_runs() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let job = stored_job(&app, "scrape_store", Some("store:1"), taskwire::jobs::service::Runner::Server, false).await;
    let progress =
        app.post_json(&format!("/api/jobs/{}/progress", job.id), Some(&admin), &json!({"items_processed": 1})).await;
    assert_error(&progress, StatusCode::CONFLICT, "invalid_state");
    assert!(progress.1["error"]["message"].as_str().unwrap().contains("run by the server"));
    let finish =
        app.post_json(&format!("/api/jobs/{}/finish", job.id), Some(&admin), &json!({"status": "completed"})).await;
    assert_error(&finish, StatusCode::CONFLICT, "invalid_state");
    let (_, current) = app.get(&format!("/api/jobs/{}", job.id), Some(&admin)).await;
    assert_eq!((current["status"].as_str(), current["items_processed"].as_i64()), (Some("running"), Some(0)));
}

#[tokio::test]
async fn stats_show_durations_error_rate_per_kind_and_per_hour_and_lists_filter_by_creation_time() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let mut finished = Vec::new();
    for (kind, processed, failed, outcome) in
        [("export", 10, 2, "completed"), ("export", 10, 0, "completed"), ("sync", 5, 5, "failed")]
    {
        let job =
            create_job(&app, &admin, json!({"kind": kind, "name": format!("{kind} job"), "items_total": 10})).await;
        let id = job["id"].as_i64().unwrap();
        let figures = json!({"items_processed": processed, "items_failed": failed});
        assert_eq!(app.post_json(&format!("/api/jobs/{id}/progress"), Some(&admin), &figures).await.0, StatusCode::OK);
        finished.push(finish(&app, &admin, id, json!({"status": outcome})).await);
    }
    create_job(&app, &admin, json!({"kind": "sync", "name": "still running"})).await;

    let (status, stats) = app.get("/api/jobs/stats", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    let completed_ms: Vec<i64> =
        finished.iter().filter(|j| j["status"] == "completed").map(|j| j["duration_ms"].as_i64().unwrap()).collect();
    assert_eq!(stats["avg_duration_ms"], completed_ms.iter().sum::<i64>() / 2);
    assert_eq!(stats["error_rate"], 0.28, "7 failed of 25 processed");
    let per_hour = stats["finished_per_hour"].as_array().unwrap();
    assert_eq!(per_hour.len(), 24);
    assert_eq!(per_hour[23], 3, "all three finished this hour");
    let by_kind = stats["by_kind"].as_array().unwrap();
    let kinds: Vec<&str> = by_kind.iter().map(|k| k["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["export", "sync"]);
    assert_eq!((by_kind[1]["total_jobs"].as_u64(), by_kind[1]["active_jobs"].as_u64()), (Some(2), Some(1)));
    assert_eq!(by_kind[1]["failed_jobs"], 1);
    assert_eq!(by_kind[1]["error_rate"], 1.0);
    assert_eq!(by_kind[1]["avg_duration_ms"], Value::Null, "no completed sync job");
    assert_eq!(by_kind[0]["error_rate"], 0.1);

    let first_created = finished[0]["created_at"].as_str().unwrap();
    let encode = |t: &str| t.replace('+', "%2B").replace(':', "%3A");
    let (_, all) = app.get(&format!("/api/jobs?created_after={}", encode(first_created)), Some(&admin)).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 4);
    let (_, none) = app.get(&format!("/api/jobs?created_before={}", encode(first_created)), Some(&admin)).await;
    assert_eq!(none["items"].as_array().unwrap().len(), 0);
    let later = "2999-01-01T00:00:00Z";
    let (_, future) = app.get(&format!("/api/jobs?created_after={}", encode(later)), Some(&admin)).await;
    assert_eq!(future["items"].as_array().unwrap().len(), 0);
    let reversed = format!("/api/jobs?created_after={}&created_before={}", encode(later), encode(first_created));
    assert_error(&app.get(&reversed, Some(&admin)).await, StatusCode::BAD_REQUEST, "validation_failed");
    assert_error(
        &app.get("/api/jobs?created_after=yesterday", Some(&admin)).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    );
}

/// Reports from many workers at once share transactions (each job written once
/// per batch); every report must still be answered on its own, bad ones refused
/// without touching anything, and the dashboards must end on the stored figures.
#[tokio::test]
async fn simultaneous_reports_are_each_answered_and_the_stored_figures_are_announced_last() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let mut dashboard = app.ws_subscribed(&admin, &["jobs"], None).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let job =
            create_job(&app, &admin, json!({"kind": "sync", "name": format!("Sync {n}"), "items_total": 100})).await;
        ids.push(job["id"].as_i64().unwrap());
    }
    let done = create_job(&app, &admin, json!({"kind": "sync", "name": "Done"})).await["id"].as_i64().unwrap();
    finish(&app, &admin, done, json!({"status": "completed"})).await;

    // 40 good reports per job, and for each job 5 whose figures contradict each other,
    // plus reports to a finished job and to one that does not exist: all at once.
    let mut requests: Vec<(i64, Value, StatusCode)> = Vec::new();
    for n in 1..=40 {
        for &id in &ids {
            requests.push((id, json!({"items_processed": n, "items_failed": n / 4}), StatusCode::OK));
        }
    }
    for &id in &ids {
        for _ in 0..5 {
            requests.push((id, json!({"items_processed": 1, "items_failed": 2}), StatusCode::BAD_REQUEST));
        }
    }
    requests.push((done, json!({"items_processed": 1}), StatusCode::CONFLICT));
    requests.push((999_999, json!({"items_processed": 1}), StatusCode::NOT_FOUND));
    let paths: Vec<String> = requests.iter().map(|(id, _, _)| format!("/api/jobs/{id}/progress")).collect();
    let answers = futures_util::future::join_all(
        requests.iter().zip(&paths).map(|((_, body, _), path)| app.post_json(path, Some(&admin), body)),
    )
    .await;
    for ((id, body, expected), (status, reply)) in requests.iter().zip(&answers) {
        assert_eq!(status, expected, "job {id} {body}: {reply}");
        if *status == StatusCode::OK {
            assert_eq!(reply["id"], *id);
            assert_eq!(reply["items_processed"], body["items_processed"], "the answer shows its own report");
        }
    }

    let mut stored = std::collections::HashMap::new();
    for &id in &ids {
        let (_, job) = app.get(&format!("/api/jobs/{id}"), Some(&admin)).await;
        let processed = job["items_processed"].as_i64().unwrap();
        assert!((1..=40).contains(&processed), "{job}");
        assert_eq!(job["items_failed"], processed / 4, "the figures of one report, not a mix: {job}");
        assert_eq!(job["status"], "running");
        stored.insert(id, processed);
    }
    for &id in &ids {
        finish(&app, &admin, id, json!({"status": "completed"})).await;
    }
    // Every frame of the three jobs, in order, until all three completed: the
    // last progress event of each carries exactly what is stored.
    let mut last_progress = std::collections::HashMap::new();
    let mut completed = 0;
    while completed < ids.len() {
        let frame = dashboard.next_json().await;
        let Some(id) = frame["data"]["id"].as_i64().filter(|id| ids.contains(id)) else { continue };
        match frame["event"].as_str() {
            Some("job.progress") => {
                last_progress.insert(id, frame["data"]["items_processed"].as_i64().unwrap());
            }
            Some("job.completed") => {
                completed += 1;
                assert_eq!(
                    last_progress.get(&id),
                    stored.get(&id),
                    "job {id}: the last progress event shows the stored figures"
                );
                assert_eq!(frame["data"]["items_processed"].as_i64(), stored.get(&id).copied());
            }
            _ => {}
        }
    }
    let (_, finished) = app.get(&format!("/api/jobs/{done}"), Some(&admin)).await;
    assert_eq!(finished["items_processed"], 0, "a finished job takes no figures");
}
