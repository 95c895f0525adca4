//! Scheduled scrapes: `scrape_every` on a store, validated; each run started by exactly one instance.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use taskwire::Config;

use crate::{helpers::*, scraping::create_store};

fn quick_schedules(c: &mut Config) {
    c.scrape_every_min = Duration::from_secs(1);
    c.scrape_schedule_interval = Duration::from_millis(50);
}

async fn patch_store(app: &TestApp, token: &str, id: i64, body: Value) -> (StatusCode, Value) {
    app.request(Method::PATCH, &format!("/api/stores/{id}"), Some(token), Some(&body)).await
}

#[tokio::test]
async fn a_schedule_is_set_shown_and_cleared_and_bad_ones_are_refused() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let store = create_store(&app, &admin, "Scheduled").await;
    let (_, stores) = app.get("/api/stores", Some(&admin)).await;
    assert_eq!(stores[0]["scrape_every"], Value::Null, "manual by default");
    assert_eq!(stores[0]["next_scrape_at"], Value::Null);

    let before = chrono::Utc::now();
    let (status, updated) = patch_store(&app, &admin, store, json!({"scrape_every": "6h"})).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["scrape_every"], "6h");
    let next: chrono::DateTime<chrono::Utc> = updated["next_scrape_at"].as_str().unwrap().parse().unwrap();
    assert!(next >= before + chrono::Duration::hours(6) - chrono::Duration::seconds(1), "{next}");
    // Other changes leave the schedule alone.
    let (_, renamed) = patch_store(&app, &admin, store, json!({"name": "Scheduled shop"})).await;
    assert_eq!(renamed["scrape_every"], "6h");

    for (bad, why) in
        [("30s", "at least 1m"), ("soon", "not a duration"), ("45d", "at most 30d"), ("", "not a duration")]
    {
        let refused = patch_store(&app, &admin, store, json!({"scrape_every": bad})).await;
        assert_error(&refused, StatusCode::BAD_REQUEST, "validation_failed");
        assert!(refused.1.to_string().contains(why), "{bad}: {}", refused.1);
    }
    let refused = patch_store(&app, &admin, store, json!({"scrape_every": 60})).await;
    assert_error(&refused, StatusCode::BAD_REQUEST, "validation_failed");

    let (_, cleared) = patch_store(&app, &admin, store, json!({"scrape_every": null})).await;
    assert_eq!(cleared["scrape_every"], Value::Null);
    assert_eq!(cleared["next_scrape_at"], Value::Null);

    // A schedule can be given at creation too.
    let (status, created) =
        app.post_json("/api/stores", Some(&admin), &json!({"name": "Hourly", "scrape_every": "1h 30m"})).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["scrape_every"], "1h 30m");
    let refused = app.post_json("/api/stores", Some(&admin), &json!({"name": "Too often", "scrape_every": "1s"})).await;
    assert_error(&refused, StatusCode::BAD_REQUEST, "validation_failed");
}

/// The scheduled scrape jobs of a store, oldest first, once there are `count`.
async fn scheduled_runs(app: &TestApp, token: &str, store: i64, count: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, page) = app.get(&format!("/api/stores/{store}/jobs"), Some(token)).await;
        let mut jobs = page["items"].as_array().unwrap().clone();
        if jobs.len() >= count {
            jobs.reverse();
            return jobs;
        }
        assert!(tokio::time::Instant::now() < deadline, "only {} scheduled runs", jobs.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn two_instances_start_each_scheduled_run_once() {
    let (database, url) = TestDatabase::create().await;
    let a = spawn_on(&url, quick_schedules).await;
    taskwire::users::service::create_user(&a.state.db, ADMIN.0, ADMIN.1, "ADMIN").await.unwrap();
    // Two instances share a PostgreSQL database; a SQLite file belongs to one.
    let postgres = std::env::var("TEST_DATABASE").as_deref() == Ok("postgres");
    let b = if postgres { Some(spawn_on(&url, quick_schedules).await) } else { None };
    let admin = a.token(ADMIN).await;
    let store = create_store(&a, &admin, "Every second").await;
    let (status, body) = patch_store(&a, &admin, store, json!({"scrape_every": "1s"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let runs = scheduled_runs(&a, &admin, store, 4).await;
    let created: Vec<chrono::DateTime<chrono::Utc>> =
        runs.iter().map(|job| job["created_at"].as_str().unwrap().parse().unwrap()).collect();
    // The card's next run moved on from the last run seen: a period after it. (Polled:
    // the instance that started that run sets the next one just after creating it.)
    let last_run = *created.last().unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    let next_run = loop {
        let (status, stores) = a.get("/api/stores", Some(&admin)).await;
        assert_eq!(status, StatusCode::OK, "{stores}");
        let card = stores.as_array().unwrap().iter().find(|s| s["id"] == store).expect("the store is listed").clone();
        assert_eq!(card["scrape_every"], "1s", "{card}");
        let next: chrono::DateTime<chrono::Utc> =
            card["next_scrape_at"].as_str().expect("a scheduled store shows its next run").parse().unwrap();
        if next > last_run {
            break next;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the next run stayed at {next}, not after the last run at {last_run}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(next_run - last_run >= chrono::Duration::milliseconds(900), "next {next_run}, last {last_run}");
    let (status, cleared) = patch_store(&a, &admin, store, json!({"scrape_every": null})).await;
    assert_eq!(status, StatusCode::OK, "{cleared}");
    assert_eq!(cleared["scrape_every"], Value::Null, "{cleared}");
    assert_eq!(cleared["next_scrape_at"], Value::Null, "{cleared}");
    for pair in created.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(gap >= chrono::Duration::milliseconds(900), "two runs {gap} apart: {runs:#?}");
    }
    for job in &runs {
        assert_eq!(job["kind"], "scrape_store");
        assert_eq!(job["created_by"], Value::Null, "started by the schedule");
    }
    // Cleared, the card shows no schedule.
    let (_, stores) = a.get("/api/stores", Some(&admin)).await;
    assert_eq!(stores[0]["scrape_every"], Value::Null, "{stores}");
    drop(b);
    drop(a);
    drop(database);
}

#[tokio::test]
async fn an_inactive_store_is_not_scraped_on_schedule() {
    let app = spawn_app_with(quick_schedules).await;
    let admin = app.token(ADMIN).await;
    let store = create_store(&app, &admin, "Paused").await;
    patch_store(&app, &admin, store, json!({"is_active": false, "scrape_every": "1s"})).await;
    let mut ws = app.ws_subscribed(&admin, &["jobs"], None).await;
    // Watched for well past one period: no run starts.
    ws.expect_silence().await;
    ws.expect_silence().await;
    let (_, page) = app.get(&format!("/api/stores/{store}/jobs"), Some(&admin)).await;
    assert_eq!(page["items"], json!([]));
    // Activated, it runs.
    patch_store(&app, &admin, store, json!({"is_active": true})).await;
    let created = ws.expect_event("job.created").await;
    assert_eq!(created["data"]["scope"], format!("store:{store}"));
}
