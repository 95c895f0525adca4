//! Several instances as one system: PostgreSQL + Redis pub/sub, and faults.

use std::{
    collections::BTreeSet,
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::Duration,
};

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

/// A unique key prefix, so tests sharing one Redis never see each other's events.
fn prefix() -> String {
    format!("taskwire-test-{:016x}:", rand::random::<u64>())
}

/// Two apps on one fresh PostgreSQL database and one Redis, with the test users.
async fn two_instances(redis_url: &str) -> (TestDatabase, TestApp, TestApp) {
    two_instances_polling(redis_url, Duration::from_secs(1)).await
}

/// Like `two_instances`, with the hubs' periodic outbox read set to `catch_up`.
pub async fn two_instances_polling(redis_url: &str, catch_up: Duration) -> (TestDatabase, TestApp, TestApp) {
    let (database, url) = TestDatabase::create_postgres().await;
    let prefix = prefix();
    let configure = |c: &mut taskwire::Config| {
        c.redis_url = Some(redis_url.to_owned());
        c.redis_prefix = prefix.clone();
        c.outbox_catch_up = catch_up;
    };
    let a = spawn_on(&url, configure).await;
    let b = spawn_on(&url, configure).await;
    for (user, role) in [(ADMIN, "ADMIN"), (ANN, "ADMIN_LIMITED"), (BOB, "ADMIN_LIMITED")] {
        taskwire::users::service::create_user(&a.state.db, user.0, user.1, role).await.unwrap();
    }
    (database, a, b)
}

/// Reads `n` events and returns (event name, task title) pairs and the highest id.
pub async fn read_events(ws: &mut WsClient, n: usize) -> (Vec<(String, String)>, i64) {
    let mut seen = Vec::new();
    let mut last = 0;
    for _ in 0..n {
        let frame = ws.next_json().await;
        assert_eq!(frame["type"], "event", "{frame}");
        let id = frame["id"].as_i64().unwrap();
        assert!(id > last, "ids increase: {id} after {last}");
        last = id;
        seen.push((frame["event"].as_str().unwrap().to_owned(), frame["data"]["title"].as_str().unwrap().to_owned()));
    }
    (seen, last)
}

fn created(titles: &[&str]) -> Vec<(String, String)> {
    titles.iter().map(|t| ("task.created".to_owned(), (*t).to_owned())).collect()
}

#[tokio::test]
async fn a_change_on_one_instance_reaches_the_right_clients_on_another() {
    let (_database, a, b) = two_instances("redis://127.0.0.1:6379").await;
    let admin = a.token(ADMIN).await;
    let ann = a.token(ANN).await;
    let bob = b.token(BOB).await;
    let mut admin_on_b = b.ws_subscribed(&admin, &["tasks"], None).await;
    let mut ann_on_b = b.ws_subscribed(&ann, &["tasks"], None).await;
    let mut bob_on_b = b.ws_subscribed(&bob, &["tasks"], None).await;
    let mut ann_on_a = a.ws_subscribed(&ann, &["tasks"], None).await;

    let task = a.create_task(&ann, "Made on A").await;
    assert_eq!(admin_on_b.expect_event("task.created").await["data"]["title"], "Made on A");
    assert_eq!(ann_on_b.expect_event("task.created").await["data"]["id"], task["id"]);
    ann_on_a.expect_event("task.created").await;

    b.approve(&admin, task["id"].as_i64().unwrap()).await;
    assert_eq!(ann_on_a.expect_event("task.approved").await["data"]["status"], "approved");
    ann_on_b.expect_event("task.approved").await;
    admin_on_b.expect_event("task.approved").await;
    bob_on_b.expect_silence().await;

    let ready: Value = a.http.get(a.url("/ready")).send().await.unwrap().json().await.unwrap();
    assert_eq!(ready["checks"]["redis"], "up");
}

#[tokio::test]
async fn with_several_instances_no_user_row_is_kept() {
    // Another instance could change the account: each request reads it afresh.
    let (_database, a, b) = two_instances("redis://127.0.0.1:6379").await;
    let ann = a.token(ANN).await;
    let ann_id = b.get("/api/me", Some(&ann)).await.1["id"].as_i64().unwrap();
    assert_eq!(b.get("/api/me", Some(&ann)).await.0, StatusCode::OK);
    disable_in_the_database(&b, ann_id).await;
    assert_error(&b.get("/api/me", Some(&ann)).await, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_error(&a.get("/api/me", Some(&ann)).await, StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[tokio::test]
async fn a_client_moving_between_instances_misses_nothing() {
    let (_database, a, b) = two_instances("redis://127.0.0.1:6379").await;
    let admin = a.token(ADMIN).await;
    let ann = a.token(ANN).await;
    let mut on_a = a.ws_subscribed(&admin, &["tasks"], None).await;
    a.create_task(&ann, "one").await;
    b.create_task(&ann, "two").await;
    let (seen, last) = read_events(&mut on_a, 2).await;
    assert_eq!(seen, created(&["one", "two"]));
    drop(on_a);
    a.create_task(&ann, "three").await;
    b.create_task(&ann, "four").await;
    let mut on_b = b.ws_subscribed(&admin, &["tasks"], Some(last)).await;
    a.create_task(&ann, "five").await;
    let (seen, _) = read_events(&mut on_b, 3).await;
    assert_eq!(seen, created(&["three", "four", "five"]));
    on_b.expect_silence().await;
}

/// A redis-server of the test's own, on a port of its own, that the test can stop and restart.
struct OwnRedis {
    port: u16,
    process: Option<Child>,
}

impl OwnRedis {
    async fn start() -> OwnRedis {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut redis = OwnRedis { port, process: None };
        redis.restart().await;
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn restart(&mut self) {
        let process = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        self.process = Some(process);
        let client = redis::Client::open(self.url()).unwrap();
        let deadline = tokio::time::Instant::now() + WAIT;
        while client.get_multiplexed_async_connection().await.is_err() {
            assert!(tokio::time::Instant::now() < deadline, "redis-server did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

pub async fn ready_status(app: &TestApp) -> (StatusCode, Value) {
    app.get("/ready", None).await
}

pub async fn until_ready_is(app: &TestApp, status: StatusCode) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (current, body) = ready_status(app).await;
        if current == status {
            return body;
        }
        assert!(tokio::time::Instant::now() < deadline, "/ready never became {status}: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn with_redis_down_changes_succeed_and_every_instance_delivers_them() {
    let mut redis = OwnRedis::start().await;
    // The periodic outbox read is pushed out of the way: what was committed during
    // the outage must come through the relay (republish, and the catch-up every
    // hub runs when it re-subscribes).
    let (_database, a, b) = two_instances_polling(&redis.url(), Duration::from_secs(3600)).await;
    let admin = a.token(ADMIN).await;
    let ann = a.token(ANN).await;
    until_ready_is(&a, StatusCode::OK).await;
    until_ready_is(&b, StatusCode::OK).await;
    let mut on_a = a.ws_subscribed(&admin, &["tasks"], None).await;
    let mut on_b = b.ws_subscribed(&admin, &["tasks"], None).await;

    redis.stop();
    let body = until_ready_is(&a, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(body["checks"]["redis"], "down");
    assert_eq!(body["error"]["code"], "unavailable");
    for title in ["while down 1", "while down 2"] {
        a.create_task(&ann, title).await;
    }
    b.create_task(&ann, "while down 3").await;

    redis.restart().await;
    until_ready_is(&a, StatusCode::OK).await;
    until_ready_is(&b, StatusCode::OK).await;
    a.create_task(&ann, "after").await;
    let expected: BTreeSet<_> =
        created(&["while down 1", "while down 2", "while down 3", "after"]).into_iter().collect();
    for ws in [&mut on_a, &mut on_b] {
        let (seen, _) = read_events(ws, 4).await;
        assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), expected);
        ws.expect_silence().await;
    }
    let metrics = b.http.get(b.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let reconnects = metrics
        .lines()
        .find_map(|l| l.strip_prefix("taskwire_bus_reconnects_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .expect("the reconnect counter is exported");
    assert!(reconnects >= 1.0, "{metrics}");
}

/// A taskwire server process, for tests that kill one.
struct ServerProcess {
    process: Child,
    url: String,
}

impl ServerProcess {
    async fn start(database_url: &str, redis_url: &str, prefix: &str) -> ServerProcess {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let secret = taskwire::Config::for_tests("sqlite::memory:").jwt_secret;
        let process = Command::new(env!("CARGO_BIN_EXE_taskwire"))
            .arg("serve")
            .env("TASKWIRE_BIND", format!("127.0.0.1:{port}"))
            .env("DATABASE_URL", database_url)
            .env("REDIS_URL", redis_url)
            .env("REDIS_KEY_PREFIX", prefix)
            .env("JWT_SECRET", String::from_utf8(secret).unwrap())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the taskwire binary starts");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = tokio::time::Instant::now() + WAIT;
        while !reqwest::get(format!("{url}/ready")).await.is_ok_and(|r| r.status().is_success()) {
            assert!(tokio::time::Instant::now() < deadline, "the server process did not become ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        ServerProcess { process, url }
    }

    fn kill(&mut self) {
        // SIGKILL: no graceful anything.
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test]
async fn clients_of_a_killed_instance_resume_elsewhere_and_miss_nothing() {
    let (database, url) = TestDatabase::create_postgres().await;
    let prefix = prefix();
    let mut a = ServerProcess::start(&url, "redis://127.0.0.1:6379", &prefix).await;
    let b = ServerProcess::start(&url, "redis://127.0.0.1:6379", &prefix).await;
    let db = taskwire::db::connect(&url).await.unwrap();
    for (user, role) in [(ADMIN, "ADMIN"), (ANN, "ADMIN_LIMITED"), (BOB, "ADMIN_LIMITED")] {
        taskwire::users::service::create_user(&db, user.0, user.1, role).await.unwrap();
    }
    db.close().await.unwrap();
    let (view_a, view_b) = (Api::new(&a.url), Api::new(&b.url));
    let admin = view_b.token(ADMIN).await;
    let ann = view_b.token(ANN).await;

    let mut admin_ws = view_a.ws_subscribed(&admin, &["tasks"], None).await;
    let mut ann_ws = view_a.ws_subscribed(&ann, &["tasks"], None).await;
    view_b.create_task(&ann, "before the crash").await;
    let (seen, admin_last) = read_events(&mut admin_ws, 1).await;
    assert_eq!(seen, created(&["before the crash"]));
    let (_, ann_last) = read_events(&mut ann_ws, 1).await;

    a.kill();
    assert!(admin_ws.next_message(WAIT).await.is_none_or(|m| m.is_close()), "the connection to A dropped");
    view_b.create_task(&ann, "after the crash 1").await;
    view_b.create_task(&ann, "after the crash 2").await;

    let mut admin_ws = view_b.ws_subscribed(&admin, &["tasks"], Some(admin_last)).await;
    let mut ann_ws = view_b.ws_subscribed(&ann, &["tasks"], Some(ann_last)).await;
    view_b.create_task(&ann, "after the move").await;
    for ws in [&mut admin_ws, &mut ann_ws] {
        let (seen, _) = read_events(ws, 3).await;
        assert_eq!(seen, created(&["after the crash 1", "after the crash 2", "after the move"]));
        ws.expect_silence().await;
    }
    drop(b);
    drop(database);
}

#[tokio::test]
async fn concurrent_writes_on_two_instances_reach_every_client_in_id_order_without_gaps() {
    let (_database, a, b) = two_instances("redis://127.0.0.1:6379").await;
    let admin = a.token(ADMIN).await;
    let ann = a.token(ANN).await;
    let mut early = b.ws_subscribed(&admin, &["tasks"], None).await;
    // Four writers, two per instance, commit tasks concurrently.
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (http, url, token) =
                (a.http.clone(), if w % 2 == 0 { a.url("/api/tasks") } else { b.url("/api/tasks") }, ann.clone());
            tokio::spawn(async move {
                for n in 0..15 {
                    let body = serde_json::json!({"title": format!("w{w}-{n}"), "workflow": "vehicle_registration"});
                    let response = http.post(&url).bearer_auth(&token).json(&body).send().await.unwrap();
                    assert_eq!(response.status(), StatusCode::CREATED);
                }
            })
        })
        .collect();
    // A client joining mid-way replays from the start and hands over to live.
    tokio::time::sleep(Duration::from_millis(30)).await;
    let mut late = a.ws_subscribed(&admin, &["tasks"], Some(0)).await;
    for writer in writers {
        writer.await.unwrap();
    }
    let expected: BTreeSet<String> = (0..4).flat_map(|w| (0..15).map(move |n| format!("w{w}-{n}"))).collect();
    for ws in [&mut early, &mut late] {
        let mut titles = BTreeSet::new();
        let mut ids = Vec::new();
        for _ in 0..60 {
            let frame = ws.next_json().await;
            assert_eq!(frame["event"], "task.created", "{frame}");
            ids.push(frame["id"].as_i64().unwrap());
            titles.insert(frame["data"]["title"].as_str().unwrap().to_owned());
        }
        assert_eq!(titles, expected, "every task exactly once");
        assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "ids strictly consecutive: {ids:?}");
        ws.expect_silence().await;
    }
}

#[tokio::test]
async fn disabling_a_user_on_one_instance_ends_their_sessions_on_every_instance() {
    let (_database, a, b) = two_instances("redis://127.0.0.1:6379").await;
    let admin = a.token(ADMIN).await;
    let ann = a.token(ANN).await;
    let ann_id = a.get("/api/me", Some(&ann)).await.1["id"].as_i64().unwrap();
    let mut ann_on_b = b.ws_subscribed(&ann, &["tasks", "orders"], None).await;
    let mut admin_on_b = b.ws_subscribed(&admin, &["tasks"], None).await;
    let change = serde_json::json!({"is_active": false});
    let (status, _) =
        a.request(reqwest::Method::PATCH, &format!("/api/users/{ann_id}"), Some(&admin), Some(&change)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ann_on_b.expect_close().await, 4401);
    admin_on_b.expect_silence().await;
    // Nor can she come back with her old token.
    let mut again = {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = b.ws_url.as_str().into_client_request().unwrap();
        request.headers_mut().insert("authorization", format!("Bearer {ann}").parse().unwrap());
        WsClient::connect(request).await
    };
    assert_eq!(again.expect_close().await, 4401);
}

#[tokio::test]
async fn the_server_starts_and_serves_while_redis_is_down() {
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let catalog = crate::scraping::tempdir_with(&[("catalog.csv", "sku,name\nA-1,Ball\n")]);
    let dir = catalog.clone();
    let app = spawn_app_with(move |c| {
        c.redis_url = Some(format!("redis://127.0.0.1:{closed}"));
        c.redis_prefix = prefix();
        c.catalog_dir = dir;
    })
    .await;
    let body = until_ready_is(&app, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(body["checks"]["redis"], "down");
    assert_eq!(body["checks"]["database"], "up");
    let admin = app.token(ADMIN).await;
    let ann = app.token(ANN).await;
    let mut ws = app.ws_subscribed(&admin, &["tasks"], None).await;
    app.create_task(&ann, "Redis is down, work goes on").await;
    assert_eq!(ws.expect_event("task.created").await["data"]["title"], "Redis is down, work goes on");
    // An import needs its lock, which lives in Redis: refused clearly, nothing started.
    let refused = app.post_json("/api/imports/catalog", Some(&admin), &serde_json::json!({})).await;
    assert_error(&refused, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    assert_eq!(app.get("/api/jobs", Some(&admin)).await.1["items"], serde_json::json!([]));
    let _ = std::fs::remove_dir_all(catalog);
}

#[tokio::test]
async fn a_worker_reporting_to_one_instance_and_finishing_on_another_keeps_its_last_figures() {
    let (_database, a, b) = two_instances("redis://127.0.0.1:6379").await;
    let admin = a.token(ADMIN).await;
    let mut dashboard = b.ws_subscribed(&admin, &["jobs"], None).await;
    let body = serde_json::json!({"kind": "export", "name": "Split", "items_total": 50});
    let (_, job) = a.post_json("/api/jobs", Some(&admin), &body).await;
    let id = job["id"].as_i64().unwrap();
    for n in 1..=50 {
        let progress = serde_json::json!({"items_processed": n, "items_failed": n / 10});
        assert_eq!(a.post_json(&format!("/api/jobs/{id}/progress"), Some(&admin), &progress).await.0, StatusCode::OK);
    }
    let finish = serde_json::json!({"status": "completed"});
    let (status, done) = b.post_json(&format!("/api/jobs/{id}/finish"), Some(&admin), &finish).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((done["items_processed"].as_i64(), done["items_failed"].as_i64()), (Some(50), Some(5)));
    let end = crate::scraping::job_end(&mut dashboard, id).await;
    assert_eq!(end["event"], "job.completed");
    assert_eq!(end["data"]["items_processed"], 50, "the last figures reported to A reach B's finish");
}

#[tokio::test]
async fn sigterm_closes_sessions_with_1001_and_the_process_exits_cleanly() {
    let (database, url) = TestDatabase::create_postgres().await;
    let mut server = ServerProcess::start(&url, "redis://127.0.0.1:6379", &prefix()).await;
    let db = taskwire::db::connect(&url).await.unwrap();
    taskwire::users::service::create_user(&db, ANN.0, ANN.1, "ADMIN_LIMITED").await.unwrap();
    db.close().await.unwrap();
    let view = Api::new(&server.url);
    let ann = view.token(ANN).await;
    let mut ws = view.ws_subscribed(&ann, &["tasks"], None).await;
    let terminated = Command::new("kill").args(["-TERM", &server.process.id().to_string()]).status().unwrap();
    assert!(terminated.success());
    assert_eq!(ws.expect_close().await, 1001);
    let status = tokio::task::spawn_blocking(move || server.process.wait().unwrap()).await.unwrap();
    assert!(status.success(), "a clean exit after SIGTERM: {status:?}");
    drop(database);
}
