//! The pages in a real browser: headless Chromium driven over WebDriver.
//!
//! An ADMIN_LIMITED page creates a task; the ADMIN page shows it without a
//! reload and approves it; the ADMIN_LIMITED page shows the subtasks and
//! completes them; the ADMIN page shows the task completed. Screenshots of both
//! pages are saved under `target/screenshots/`.

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::Duration,
};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::helpers::*;

/// Long enough for a cold Chromium start on a loaded 2-core machine.
const BROWSER_WAIT: Duration = Duration::from_secs(30);

/// A chromedriver process on a free port, killed on drop.
struct ChromeDriver {
    process: Child,
    url: String,
}

impl ChromeDriver {
    async fn start() -> ChromeDriver {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let process = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is installed (scripts/test installs Debian's chromium-driver)");
        let url = format!("http://127.0.0.1:{port}");
        let status = format!("{url}/status");
        let deadline = tokio::time::Instant::now() + BROWSER_WAIT;
        loop {
            if let Ok(response) = reqwest::get(&status).await
                && response.status().is_success()
            {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        ChromeDriver { process, url }
    }

    async fn browser(&self, profile: &std::path::Path) -> Client {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--no-first-run", "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.display()),
                ]
            }),
        );
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("a Chromium session starts")
    }
}

/// A chromedriver with a profile folder for the browsers of one test; the folder goes with it.
struct BrowserSession {
    driver: ChromeDriver,
    profiles: std::path::PathBuf,
}

impl BrowserSession {
    async fn start() -> BrowserSession {
        let profiles = std::env::temp_dir().join(format!("taskwire-browser-{}", rand::random::<u64>()));
        BrowserSession { driver: ChromeDriver::start().await, profiles }
    }

    /// A browser of its own (profile `name`) signed in as `user`, on the page `landing` the login leads to.
    async fn signed_in(&self, app: &TestApp, name: &str, user: (&str, &str), landing: &str) -> Client {
        let browser = self.driver.browser(&self.profiles.join(name)).await;
        log_in(&browser, app, user, landing).await;
        browser
    }
}

impl Drop for BrowserSession {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.profiles);
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

async fn wait_for(browser: &Client, css: &str) -> fantoccini::elements::Element {
    browser
        .wait()
        .at_most(BROWSER_WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} did not appear: {e}"))
}

/// Clicks the element, finding it again if the page re-rendered it in between.
async fn click(browser: &Client, css: &str) {
    let deadline = tokio::time::Instant::now() + BROWSER_WAIT;
    loop {
        match wait_for(browser, css).await.click().await {
            Ok(()) => return,
            Err(err) if tokio::time::Instant::now() < deadline && is_stale(&err) => continue,
            Err(err) => panic!("clicking {css} failed: {err}"),
        }
    }
}

/// An attribute of the element, finding it again if the page re-rendered it in between.
async fn attr(browser: &Client, css: &str, name: &str) -> Option<String> {
    let deadline = tokio::time::Instant::now() + BROWSER_WAIT;
    loop {
        match wait_for(browser, css).await.attr(name).await {
            Ok(value) => return value,
            Err(err) if tokio::time::Instant::now() < deadline && is_stale(&err) => continue,
            Err(err) => panic!("reading {name} of {css} failed: {err}"),
        }
    }
}

/// The text of the element, finding it again if the page re-rendered it in between.
async fn text(browser: &Client, css: &str) -> String {
    let deadline = tokio::time::Instant::now() + BROWSER_WAIT;
    loop {
        match wait_for(browser, css).await.text().await {
            Ok(value) => return value,
            Err(err) if tokio::time::Instant::now() < deadline && is_stale(&err) => continue,
            Err(err) => panic!("reading the text of {css} failed: {err}"),
        }
    }
}

/// Waits until the element's text contains `expected` (the page changes it on its own).
async fn eventually_text(browser: &Client, css: &str, expected: &str) {
    let deadline = tokio::time::Instant::now() + BROWSER_WAIT;
    loop {
        let now = text(browser, css).await;
        if now.contains(expected) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{css} never showed {expected:?}; it shows {now:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn is_stale(err: &fantoccini::error::CmdError) -> bool {
    matches!(err, fantoccini::error::CmdError::Standard(e) if e.error == fantoccini::error::ErrorStatus::StaleElementReference)
}

async fn log_in(browser: &Client, app: &TestApp, (username, password): (&str, &str), landing: &str) {
    browser.goto(&app.url("/")).await.unwrap();
    wait_for(browser, "#username").await.send_keys(username).await.unwrap();
    wait_for(browser, "#password").await.send_keys(password).await.unwrap();
    click(browser, "#login-button").await;
    let expected = url::Url::parse(&app.url(landing)).unwrap();
    browser.wait().at_most(BROWSER_WAIT).for_url(&expected).await.expect("the role's page opens after login");
    wait_for(browser, r#"#conn-status[data-state="live"]"#).await;
}

async fn screenshot(browser: &Client, name: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = browser.screenshot().await.unwrap();
    std::fs::write(dir.join(name), png).unwrap();
}

/// An ADMIN's browser on one page, live, with its own Chromium and profile.
struct AdminPage {
    driver: ChromeDriver,
    browser: Client,
    profiles: std::path::PathBuf,
}

impl AdminPage {
    /// Logs in as the ADMIN and opens `path`, waiting until it is live.
    async fn open(app: &TestApp, path: &str) -> AdminPage {
        let profiles = std::env::temp_dir().join(format!("taskwire-browser-{}", rand::random::<u64>()));
        let driver = ChromeDriver::start().await;
        let browser = driver.browser(&profiles.join("admin")).await;
        log_in(&browser, app, ADMIN, "/admin").await;
        browser.goto(&app.url(path)).await.unwrap();
        wait_for(&browser, r#"#conn-status[data-state="live"]"#).await;
        AdminPage { driver, browser, profiles }
    }

    async fn close(self) {
        self.browser.close().await.ok();
        drop(self.driver);
        let _ = std::fs::remove_dir_all(self.profiles);
    }
}

#[tokio::test]
async fn two_pages_work_a_task_through_live() {
    let app = spawn_app().await;
    let profiles = std::env::temp_dir().join(format!("taskwire-browser-{}", rand::random::<u64>()));
    let driver = ChromeDriver::start().await;
    let admin = driver.browser(&profiles.join("admin")).await;
    let worker = driver.browser(&profiles.join("worker")).await;

    log_in(&admin, &app, ADMIN, "/admin").await;
    log_in(&worker, &app, ANN, "/my").await;

    // The ADMIN_LIMITED page creates a task.
    wait_for(&worker, r#"#task-workflow option[value="vehicle_registration"]"#).await;
    wait_for(&worker, "#task-title").await.send_keys("Register the red truck").await.unwrap();
    wait_for(&worker, "#task-description").await.send_keys("Customer waits at desk 3").await.unwrap();
    click(&worker, "#create-task-button").await;
    let task_id = attr(&worker, "#my-tasks .task-card", "data-task-id").await.expect("cards carry their task id");
    let in_worker = |rest: &str| format!(r#"#my-tasks .task-card[data-task-id="{task_id}"]{rest}"#);
    let in_admin = |list: &str, rest: &str| format!(r#"#{list} .task-card[data-task-id="{task_id}"]{rest}"#);

    // The creator opens the task's history; it shows who created it.
    click(&worker, &in_worker(" .task-history > summary")).await;
    assert!(text(&worker, &in_worker(r#" .history-entry[data-kind="created"]"#)).await.contains("ann"));

    // The ADMIN page shows it without a reload, with the pending count in the tab title, and approves it.
    assert!(text(&admin, &in_admin("pending-tasks", "")).await.contains("Register the red truck"));
    assert_eq!(admin.title().await.unwrap(), "(1) Approvals · taskwire");
    click(&admin, &in_admin("pending-tasks", " .approve-task")).await;
    wait_for(&admin, &in_admin("active-tasks", r#"[data-status="approved"]"#)).await;
    assert_eq!(admin.title().await.unwrap(), "Approvals · taskwire", "nothing waits any more");

    // The open history shows the approval as it happens.
    assert!(text(&worker, &in_worker(r#" .history-entry[data-kind="approved"]"#)).await.contains("admin"));

    // The ADMIN_LIMITED page shows the subtasks and completes them one by one.
    wait_for(&worker, &in_worker(r#"[data-status="approved"]"#)).await;
    let subtasks = worker.find_all(Locator::Css(&in_worker(" .subtask"))).await.unwrap();
    assert_eq!(subtasks.len(), 4, "the workflow's four subtasks are shown");
    for done in 1..=4 {
        click(&worker, &in_worker(r#" .subtask[data-status="open"] .complete-subtask"#)).await;
        if done < 4 {
            // Each click lands before the next: the page shows the new count first.
            wait_for(&worker, &in_worker(&format!(r#" .progress[data-done="{done}"]"#))).await;
            // The progress bar advances live; after the last one the task moves to the history.
            wait_for(&admin, &in_admin("active-tasks", &format!(r#" .progress[data-done="{done}"][data-total="4"]"#)))
                .await;
        }
        if done == 2 {
            screenshot(&admin, "admin-in-progress.png").await;
            screenshot(&worker, "my-in-progress.png").await;
        }
    }
    wait_for(&worker, &in_worker(r#"[data-status="completed"]"#)).await;

    // The ADMIN page shows the task completed.
    wait_for(&admin, &in_admin("history-tasks", r#"[data-status="completed"]"#)).await;
    screenshot(&admin, "admin.png").await;
    screenshot(&worker, "my.png").await;

    let (_, task) = app.get(&format!("/api/tasks/{task_id}"), Some(&app.token(ADMIN).await)).await;
    assert_eq!(task["status"], "completed");
    assert_eq!(task["description"], "Customer waits at desk 3");

    admin.close().await.ok();
    worker.close().await.ok();
    drop(driver);
    let _ = std::fs::remove_dir_all(profiles);
}

#[tokio::test]
async fn the_jobs_dashboard_follows_a_job_to_100_percent_without_reload() {
    let app = spawn_app().await;
    let token = app.token(ADMIN).await;
    let profiles = std::env::temp_dir().join(format!("taskwire-browser-{}", rand::random::<u64>()));
    let driver = ChromeDriver::start().await;
    let admin = driver.browser(&profiles.join("admin")).await;
    log_in(&admin, &app, ADMIN, "/admin").await;
    admin.goto(&app.url("/jobs")).await.unwrap();
    wait_for(&admin, r#"#conn-status[data-state="live"]"#).await;

    let body = json!({"kind": "export", "name": "Browser export", "items_total": 10});
    let (_, job) = app.post_json("/api/jobs", Some(&token), &body).await;
    let id = job["id"].as_i64().unwrap();
    let row = |rest: &str| format!(r#"#jobs-table tr.job-row[data-job-id="{id}"]{rest}"#);
    wait_for(&admin, &row(r#"[data-status="running"]"#)).await;
    for (processed, percent) in [(3, "30"), (7, "70")] {
        let progress = json!({"items_processed": processed, "items_failed": 1});
        let (status, _) = app.post_json(&format!("/api/jobs/{id}/progress"), Some(&token), &progress).await;
        assert_eq!(status, reqwest::StatusCode::OK);
        wait_for(&admin, &row(&format!(r#" .progress[data-percent="{percent}"]"#))).await;
    }
    assert_eq!(attr(&admin, &row(" .failed-count"), "data-count").await.as_deref(), Some("1"));
    screenshot(&admin, "jobs-in-progress.png").await;
    app.post_json(&format!("/api/jobs/{id}/progress"), Some(&token), &json!({"items_processed": 10})).await;
    app.post_json(&format!("/api/jobs/{id}/finish"), Some(&token), &json!({"status": "completed"})).await;
    wait_for(&admin, &row(r#"[data-status="completed"] .progress[data-percent="100"]"#)).await;
    assert_eq!(text(&admin, &row(" .progress-text")).await.trim(), "10 / 10 (100%)");
    assert!(text(&admin, r#"#stat-total[data-value="1"]"#).await.contains('1'));
    wait_for(&admin, r#"#finished-chart rect[data-count="1"]"#).await;
    screenshot(&admin, "jobs.png").await;

    // Filters live in the URL: a scope that matches nothing hides the job, and the field shows it.
    admin.goto(&app.url("/jobs?scope=store%3A999&from=2020-01-01")).await.unwrap();
    wait_for(&admin, r#"#conn-status[data-state="live"]"#).await;
    assert!(text(&admin, "#jobs-empty").await.contains("No jobs match"));
    let scope = wait_for(&admin, "#filter-scope").await.prop("value").await.unwrap();
    assert_eq!(scope.as_deref(), Some("store:999"));
    admin.goto(&app.url("/jobs?from=2020-01-01")).await.unwrap();
    wait_for(&admin, &row(r#"[data-status="completed"]"#)).await;

    // The other ADMIN pages render too.
    for (path, ready, name) in [("/stores", "#stores-list", "stores.png"), ("/orders", "#orders-list", "orders.png")] {
        admin.goto(&app.url(path)).await.unwrap();
        wait_for(&admin, ready).await;
        wait_for(&admin, r#"#conn-status[data-state="live"]"#).await;
        screenshot(&admin, name).await;
    }
    admin.close().await.ok();
    drop(driver);
    let _ = std::fs::remove_dir_all(profiles);
}

#[tokio::test]
async fn an_orders_pin_appears_live_for_its_owner_and_admins() {
    let provider = crate::provider::FakeProvider::start().await;
    let url = provider.url();
    let app = spawn_app_with(move |c| {
        c.provider_url = Some(url);
        c.provider_api_key = Some(crate::provider::API_KEY.into());
        c.order_timing.first_check_delay = Duration::from_millis(300);
        c.order_timing.backoff_base = Duration::from_millis(300);
        c.order_timing.backoff_max = Duration::from_millis(300);
    })
    .await;
    let profiles = std::env::temp_dir().join(format!("taskwire-browser-{}", rand::random::<u64>()));
    let driver = ChromeDriver::start().await;
    let admin = driver.browser(&profiles.join("admin")).await;
    let owner = driver.browser(&profiles.join("owner")).await;
    log_in(&admin, &app, ADMIN, "/admin").await;
    log_in(&owner, &app, ANN, "/my").await;
    for browser in [&admin, &owner] {
        browser.goto(&app.url("/orders")).await.unwrap();
        wait_for(browser, r#"#conn-status[data-state="live"]"#).await;
    }
    wait_for(&owner, "#order-product").await.send_keys("pin-after:3").await.unwrap();
    wait_for(&owner, "#order-package").await.send_keys("500 credits").await.unwrap();
    wait_for(&owner, "#order-user-identifier").await.send_keys("player-42").await.unwrap();
    click(&owner, "#create-order-button").await;
    let id = attr(&owner, "#orders-list .order-card", "data-order-id").await.expect("cards carry their order id");
    let pin_css = format!(r#"#orders-list .order-card[data-order-id="{id}"][data-status="completed"] .pin-code"#);
    for browser in [&owner, &admin] {
        assert_eq!(text(browser, &pin_css).await.trim(), "PIN-REF-1");
    }
    screenshot(&owner, "orders-owner.png").await;

    // The owner cancels a second order; both pages show it cancelled, live.
    for (field, value) in
        [("#order-product", "never"), ("#order-package", "1 credit"), ("#order-user-identifier", "p-1")]
    {
        let input = wait_for(&owner, field).await;
        input.clear().await.unwrap();
        input.send_keys(value).await.unwrap();
    }
    click(&owner, "#create-order-button").await;
    let never_css = r#"#orders-list .order-card[data-status="sent"] .cancel-order"#;
    click(&owner, never_css).await;
    owner.accept_alert().await.expect("the page asks before cancelling");
    for browser in [&owner, &admin] {
        let reason = text(browser, r#"#orders-list .order-card[data-status="cancelled"] .failure-reason"#).await;
        assert!(reason.contains("cancelled by ann"), "{reason}");
    }
    admin.close().await.ok();
    owner.close().await.ok();
    drop(driver);
    let _ = std::fs::remove_dir_all(profiles);
}

#[tokio::test]
async fn a_page_too_far_behind_to_replay_reloads_its_snapshot_and_stays_live() {
    let app = spawn_app_with(|c| c.ws_replay_max_rows = 5).await;
    let ann = app.token(ANN).await;
    let (_, me) = app.get("/api/me", Some(&ann)).await;
    let profiles = std::env::temp_dir().join(format!("taskwire-browser-{}", rand::random::<u64>()));
    let driver = ChromeDriver::start().await;
    let worker = driver.browser(&profiles.join("worker")).await;
    log_in(&worker, &app, ANN, "/my").await;

    // More events than a replay may read go by, none of them Ann's, then her
    // session is dropped: the page resumes from an id too far back.
    append_hidden_task_events(&app, 8).await;
    eventually("the hub dispatched the events", || app.state.hub.last_dispatched() == 8).await;
    app.state.hub.close_user_sessions(me["id"].as_i64().unwrap(), 4408, "too slow");

    // It loads its snapshot again and subscribes afresh: a task of hers shows up.
    let task = app.create_task(&ann, "After the resync").await;
    let card = format!(r#"#my-tasks .task-card[data-task-id="{}"]"#, task["id"]);
    assert!(text(&worker, &card).await.contains("After the resync"));
    wait_for(&worker, r#"#conn-status[data-state="live"]"#).await;
    let live = app.create_task(&ann, "Live after the resync").await;
    let card = format!(r#"#my-tasks .task-card[data-task-id="{}"]"#, live["id"]);
    assert!(text(&worker, &card).await.contains("Live after the resync"));
    worker.close().await.ok();
    drop(driver);
    let _ = std::fs::remove_dir_all(profiles);
}

#[tokio::test]
async fn a_page_whose_missed_events_were_pruned_gets_reset_reloads_and_stays_live() {
    use sea_orm::ConnectionTrait;
    let app = spawn_app().await;
    let ann = app.token(ANN).await;
    let (_, me) = app.get("/api/me", Some(&ann)).await;
    let before = app.create_task(&ann, "Before the absence").await;
    let profiles = std::env::temp_dir().join(format!("taskwire-browser-{}", rand::random::<u64>()));
    let driver = ChromeDriver::start().await;
    let worker = driver.browser(&profiles.join("worker")).await;
    log_in(&worker, &app, ANN, "/my").await;
    let card = format!(r#"#my-tasks .task-card[data-task-id="{}"]"#, before["id"]);
    assert!(text(&worker, &card).await.contains("Before the absence"));
    wait_for(&worker, r#"#conn-status[data-state="live"]"#).await;

    // While she is away, things happen that she does not see live, the history
    // of them is pruned, and a change is made that no event reports: only a
    // reloaded snapshot can show it.
    append_hidden_task_events(&app, 3).await;
    let newest = app.state.hub.last_dispatched() + 3;
    eventually("the hub dispatched the events", || app.state.hub.last_dispatched() >= newest).await;
    let sql = format!("UPDATE tasks SET title = 'Renamed while away' WHERE id = {}", before["id"]);
    app.state.db.execute_unprepared(&sql).await.unwrap();
    taskwire::events::retention::prune(&app.state.db, Duration::ZERO).await.unwrap();
    app.state.hub.close_user_sessions(me["id"].as_i64().unwrap(), 4408, "too slow");

    // Her page resumes from an id before the horizon, gets `reset`, reloads, and stays live.
    eventually_text(&worker, &card, "Renamed while away").await;
    wait_for(&worker, r#"#conn-status[data-state="live"]"#).await;
    let live = app.create_task(&ann, "Live after the reset").await;
    let card = format!(r#"#my-tasks .task-card[data-task-id="{}"]"#, live["id"]);
    assert!(text(&worker, &card).await.contains("Live after the reset"));
    worker.close().await.ok();
    drop(driver);
    let _ = std::fs::remove_dir_all(profiles);
}

/// Stands in for the operating system's notifications: records what the page
/// would show, and grants the permission when the page asks (on the button press).
const RECORD_NOTIFICATIONS: &str = r#"
    window.__shown = [];
    window.Notification = class {
      constructor(title, options) { window.__shown.push(`${title} | ${options && options.body}`); }
      static requestPermission() { window.Notification.permission = 'granted'; return Promise.resolve('granted'); }
    };
    window.Notification.permission = 'default';
"#;

#[tokio::test]
async fn the_approvals_board_searches_filters_and_notifies_of_new_tasks() {
    let app = spawn_app().await;
    let ann = app.token(ANN).await;
    let golf = app.create_task(&ann, "Golf for Smith").await;
    let truck = app.create_task(&ann, "Truck for Jones").await;
    let profiles = std::env::temp_dir().join(format!("taskwire-browser-{}", rand::random::<u64>()));
    let driver = ChromeDriver::start().await;
    let admin = driver.browser(&profiles.join("admin")).await;
    log_in(&admin, &app, ADMIN, "/admin").await;
    let card = |task: &serde_json::Value| format!(r#"#pending-tasks .task-card[data-task-id="{}"]"#, task["id"]);
    wait_for(&admin, &card(&truck)).await;

    // A search narrows the board and lands in the URL.
    wait_for(&admin, "#filter-q").await.send_keys("GOLF").await.unwrap();
    eventually_gone(&admin, &card(&truck)).await;
    wait_for(&admin, &card(&golf)).await;
    assert!(admin.current_url().await.unwrap().query().unwrap_or_default().contains("q=GOLF"));

    // Notifications are asked for on the button press, and then announce every new task.
    admin.execute(RECORD_NOTIFICATIONS, vec![]).await.unwrap();
    assert_eq!(attr(&admin, "#alerts-desktop", "aria-pressed").await.as_deref(), Some("false"));
    click(&admin, "#alerts-desktop").await;
    eventually_attr(&admin, "#alerts-desktop", "aria-pressed", "true").await;
    let cart = app.create_task(&ann, "Golf cart repair").await;
    let bike = app.create_task(&ann, "Bicycle check").await;
    wait_for(&admin, &card(&cart)).await;
    let shown = eventually_value(&admin, "return window.__shown", |v| v.as_array().is_some_and(|a| a.len() >= 2)).await;
    let shown: Vec<String> = serde_json::from_value(shown).unwrap();
    assert_eq!(shown, ["New task: Golf cart repair | From ann", "New task: Bicycle check | From ann"]);
    assert!(admin.find(Locator::Css(&card(&bike))).await.is_err(), "the filter keeps live tasks out too");
    assert_eq!(admin.title().await.unwrap(), "(2) Approvals · taskwire", "the count is of what the board shows");
    let kept = admin.execute("return localStorage.getItem('taskwire.alerts.approvals')", vec![]).await.unwrap();
    assert_eq!(serde_json::from_str::<serde_json::Value>(kept.as_str().unwrap()).unwrap()["desktop"], true);

    // The filters survive a reload (they are in the URL); clearing brings everything back.
    admin.refresh().await.unwrap();
    wait_for(&admin, r#"#conn-status[data-state="live"]"#).await;
    assert_eq!(wait_for(&admin, "#filter-q").await.prop("value").await.unwrap().as_deref(), Some("GOLF"));
    wait_for(&admin, &card(&cart)).await;
    assert!(admin.find(Locator::Css(&card(&truck))).await.is_err());
    click(&admin, "#filter-clear").await;
    wait_for(&admin, &card(&truck)).await;
    wait_for(&admin, &card(&bike)).await;
    assert!(!admin.current_url().await.unwrap().query().unwrap_or_default().contains("q="));

    // A status filter: only approved tasks, and a task that gets approved elsewhere comes in live.
    let status = wait_for(&admin, "#filter-status").await;
    status.select_by_value("approved").await.unwrap();
    eventually_gone(&admin, &card(&golf)).await;
    app.approve(&app.token(ADMIN).await, golf["id"].as_i64().unwrap()).await;
    wait_for(&admin, &format!(r#"#active-tasks .task-card[data-task-id="{}"]"#, golf["id"])).await;
    assert!(admin.find(Locator::Css(&card(&truck))).await.is_err());
    admin.close().await.ok();
    drop(driver);
    let _ = std::fs::remove_dir_all(profiles);
}

/// Waits until no element matches `css` (the page removed it on its own).
async fn eventually_gone(browser: &Client, css: &str) {
    let deadline = tokio::time::Instant::now() + BROWSER_WAIT;
    while browser.find(Locator::Css(css)).await.is_ok() {
        assert!(tokio::time::Instant::now() < deadline, "{css} is still there");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the element's attribute has this value.
async fn eventually_attr(browser: &Client, css: &str, name: &str, expected: &str) {
    let deadline = tokio::time::Instant::now() + BROWSER_WAIT;
    loop {
        let now = attr(browser, css, name).await;
        if now.as_deref() == Some(expected) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{css} {name} stayed {now:?}, expected {expected:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs `script` until what it returns passes `done`, and returns that.
async fn eventually_value(
    browser: &Client,
    script: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + BROWSER_WAIT;
    loop {
        let value = browser.execute(script, vec![]).await.unwrap();
        if done(&value) {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "{script} returned {value}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// axe-core's script, installed from the npm registry into `target/axe` at
/// first use (`scripts/test` installs it beforehand): it is injected into the
/// page under test, never shipped to users.
async fn axe_source() -> &'static str {
    static SOURCE: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    SOURCE
        .get_or_init(|| async {
            let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/axe");
            let script = root.join("node_modules/axe-core/axe.min.js");
            if !script.exists() {
                let status = tokio::process::Command::new("npm")
                    .args(["install", "--no-audit", "--no-fund", "--prefix"])
                    .arg(&root)
                    .arg("axe-core@4")
                    .status()
                    .await
                    .expect("npm is installed (scripts/test installs it)");
                assert!(status.success(), "npm install axe-core@4 failed");
            }
            std::fs::read_to_string(&script).expect("axe-core is installed")
        })
        .await
}

/// Runs axe-core on the page as it is and fails on any serious or critical violation.
async fn assert_accessible(browser: &Client, what: &str) {
    browser.execute(axe_source().await, vec![]).await.expect("axe-core loads into the page");
    let script = r#"
        const done = arguments[arguments.length - 1];
        // Colours are judged as they settle: a button just enabled fades in over
        // .15s, and mid-fade its contrast is not what the user reads.
        const settling = document.getAnimations()
          .filter((a) => a.effect && a.effect.getComputedTiming().endTime !== Infinity)
          .map((a) => a.finished.catch(() => {}));
        Promise.all(settling)
          .then(() => axe.run(document, { resultTypes: ['violations'] })).then((result) => done(result.violations
            .filter((v) => v.impact === 'serious' || v.impact === 'critical')
            .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`)),
          (err) => done([`axe failed: ${err}`]));
    "#;
    let violations = browser.execute_async(script, vec![]).await.expect("axe-core runs");
    let violations: Vec<String> = serde_json::from_value(violations).unwrap();
    assert!(violations.is_empty(), "{what}: serious or critical accessibility violations:\n{}", violations.join("\n"));
}

/// A screenshot the README shows: `docs/screenshots/{name}`.
async fn doc_screenshot(browser: &Client, name: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), browser.screenshot().await.unwrap()).unwrap();
}

/// Picks `code` in the header's language switcher and waits for the page to come back in it.
async fn switch_language(browser: &Client, code: &str) {
    wait_for(browser, &format!(r#"#lang-select option[value="{code}"]"#)).await;
    wait_for(browser, "#lang-select").await.select_by_value(code).await.unwrap();
    wait_for(browser, &format!(r#"html[lang="{code}"]"#)).await;
}

/// Nothing is wider than the window (a phone's 375 px): no sideways scrolling, nothing cut.
async fn assert_fits(browser: &Client, what: &str) {
    let widths =
        browser.execute("return [document.documentElement.scrollWidth, window.innerWidth];", vec![]).await.unwrap();
    let [page, window]: [i64; 2] = serde_json::from_value(widths).unwrap();
    assert!(page <= window, "{what}: the page is {page} px wide in a {window} px window");
}

/// A page opened and live (the login page has no live connection).
async fn open(browser: &Client, app: &TestApp, path: &str) {
    browser.goto(&app.url(path)).await.unwrap();
    if path == "/" {
        wait_for(browser, "#login-form").await;
    } else {
        wait_for(browser, r#"#conn-status[data-state="live"]"#).await;
    }
    // The catalog is loaded and the static text translated once the title is.
    wait_for(browser, "html[lang]").await;
}

#[tokio::test]
async fn every_page_in_english_russian_and_arabic_accessible_and_mirrored() {
    let app = spawn_app().await;
    let (admin_token, ann) = (app.token(ADMIN).await, app.token(ANN).await);
    // Something on every page: a task in progress with a subtask done, a job half way, a store.
    let task = app.create_task(&ann, "Register the red truck").await;
    let task_id = task["id"].as_i64().unwrap();
    let task = app.approve(&admin_token, task_id).await;
    let subtask = task["subtasks"][0]["id"].as_i64().unwrap();
    let path = format!("/api/tasks/{task_id}/subtasks/{subtask}/complete");
    assert_eq!(app.post_json(&path, Some(&ann), &json!({})).await.0, reqwest::StatusCode::OK);
    app.create_task(&ann, "Check the import of the spring catalog").await;
    let (_, job) = app
        .post_json(
            "/api/jobs",
            Some(&admin_token),
            &json!({"kind": "export", "name": "Price export", "items_total": 40}),
        )
        .await;
    let progress = json!({"items_processed": 18, "items_failed": 2});
    app.post_json(&format!("/api/jobs/{}/progress", job["id"]), Some(&admin_token), &progress).await;
    app.post_json("/api/stores", Some(&admin_token), &json!({"name": "Corner shop"})).await;

    let profiles = std::env::temp_dir().join(format!("taskwire-browser-{}", rand::random::<u64>()));
    let driver = ChromeDriver::start().await;
    let admin = driver.browser(&profiles.join("admin")).await;
    let worker = driver.browser(&profiles.join("worker")).await;
    let admin_pages = [
        ("/admin", "admin"),
        ("/jobs", "jobs"),
        ("/stores", "stores"),
        ("/orders", "orders"),
        ("/users", "users"),
        ("/workflows", "workflows"),
    ];

    // English: the login page, then every page of each role, checked by axe-core.
    open(&worker, &app, "/").await;
    assert_eq!(attr(&worker, "html", "dir").await.as_deref(), Some("ltr"));
    assert_accessible(&worker, "/ in English").await;
    log_in(&worker, &app, ANN, "/my").await;
    assert_accessible(&worker, "/my in English").await;
    log_in(&admin, &app, ADMIN, "/admin").await;
    for (path, _) in admin_pages {
        open(&admin, &app, path).await;
        assert_accessible(&admin, &format!("{path} in English")).await;
    }
    // Times show in the browser's zone, named on hover.
    open(&admin, &app, "/admin").await;
    let zone_named = admin
        .execute(
            r#"const zone = new Intl.DateTimeFormat('en', { timeZoneName: 'long' }).formatToParts(new Date())
                 .find((p) => p.type === 'timeZoneName').value;
               const time = document.querySelector('.task-card time.rel-time');
               return !!time && time.title.includes(zone);"#,
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(zone_named, json!(true), "a time's title names the browser's time zone");

    // Russian, chosen in the header: known words, plural forms, and it stays chosen on every page.
    switch_language(&admin, "ru").await;
    assert_eq!(text(&admin, ".page-title").await, "Согласование");
    assert_eq!(text(&admin, "#logout-button").await, "Выйти");
    assert_eq!(admin.title().await.unwrap(), "(1) Согласование · taskwire");
    let progress = text(&admin, &format!(r#".task-card[data-task-id="{task_id}"] .progress-text"#)).await;
    assert_eq!(progress, "1 / 4 подзадачи", "Russian's few form");
    assert!(text(&admin, ".col-pending .badge").await.contains("Ждёт согласования"));
    for (path, name) in admin_pages {
        open(&admin, &app, path).await;
        assert_eq!(attr(&admin, "html", "lang").await.as_deref(), Some("ru"));
        doc_screenshot(&admin, &format!("{name}-ru.png")).await;
    }
    assert_eq!(text(&admin, "#create-workflow-button").await, "Создать шаблон");
    open(&admin, &app, "/users").await;
    assert_eq!(text(&admin, "#create-user-button").await, "Создать пользователя");
    open(&admin, &app, "/orders").await;
    assert_eq!(text(&admin, "#create-order-button").await, "Создать заказ");
    switch_language(&worker, "ru").await;
    assert_eq!(text(&worker, "#create-task-button").await, "Создать задачу");
    doc_screenshot(&worker, "my-ru.png").await;

    // Arabic: mirrored, translated, accessible, and fitting a phone's width.
    switch_language(&admin, "ar").await;
    assert_eq!(attr(&admin, "html", "dir").await.as_deref(), Some("rtl"));
    assert_eq!(text(&admin, "#orders-heading-text").await, "كل الطلبات");
    for (path, name) in admin_pages {
        open(&admin, &app, path).await;
        assert_eq!(attr(&admin, "html", "dir").await.as_deref(), Some("rtl"), "{path}");
        assert_accessible(&admin, &format!("{path} in Arabic")).await;
        doc_screenshot(&admin, &format!("{name}-ar.png")).await;
    }
    open(&admin, &app, "/admin").await;
    assert_eq!(text(&admin, ".page-title").await, "الموافقات");
    // The progress bar fills from the right.
    let edges = admin
        .execute(
            r#"const bar = document.querySelector('.col-active .progress'), fill = bar.querySelector('.progress-fill');
               const b = bar.getBoundingClientRect(), f = fill.getBoundingClientRect();
               return [Math.round(b.right - f.right), Math.round(f.left - b.left), Math.round(f.width)];"#,
            vec![],
        )
        .await
        .unwrap();
    let [gap_right, gap_left, width]: [i64; 3] = serde_json::from_value(edges).unwrap();
    assert!(
        gap_right.abs() <= 1 && gap_left > 0 && width > 0,
        "the fill starts at the right: {gap_right} {gap_left} {width}"
    );
    switch_language(&worker, "ar").await;
    assert_eq!(text(&worker, "#create-task-button").await, "إنشاء مهمة");
    assert_accessible(&worker, "/my in Arabic").await;
    doc_screenshot(&worker, "my-ar.png").await;

    admin.set_window_size(375, 812).await.unwrap();
    for (path, name) in admin_pages {
        open(&admin, &app, path).await;
        assert_fits(&admin, &format!("{path} in Arabic at 375 px")).await;
        if name == "admin" {
            doc_screenshot(&admin, "admin-ar-phone.png").await;
        }
    }

    // The login page follows the choice too, and has its own switcher.
    let visitor = driver.browser(&profiles.join("visitor")).await;
    open(&visitor, &app, "/").await;
    switch_language(&visitor, "ar").await;
    assert_eq!(text(&visitor, "#login-button").await, "تسجيل الدخول");
    assert_accessible(&visitor, "/ in Arabic").await;
    doc_screenshot(&visitor, "login-ar.png").await;
    switch_language(&visitor, "ru").await;
    assert_eq!(text(&visitor, "#login-button").await, "Войти");
    doc_screenshot(&visitor, "login-ru.png").await;

    for browser in [admin, worker, visitor] {
        browser.close().await.ok();
    }
    drop(driver);
    let _ = std::fs::remove_dir_all(profiles);
}

#[tokio::test]
async fn an_admin_creates_users_on_the_users_page_and_they_sign_in() {
    let app = spawn_app().await;
    let token = app.token(ADMIN).await;
    let session = BrowserSession::start().await;
    let admin = session.signed_in(&app, "admin", ADMIN, "/admin").await;
    click(&admin, r#"#site-nav a[href="/users"]"#).await;
    wait_for(&admin, r#"#conn-status[data-state="live"]"#).await;
    wait_for(&admin, r#"#users-body tr.user-row[data-role="ADMIN"] .badge-you:not([hidden])"#).await;

    // Another ADMIN creates a user over the API: the row appears without a reload.
    let body = json!({"username": "erin", "password": "erin-password", "role": "ADMIN_LIMITED"});
    let (_, erin) = app.post_json("/api/users", Some(&token), &body).await;
    let erin_row = format!(r#"#users-body tr.user-row[data-user-id="{}"]"#, erin["id"]);
    assert!(text(&admin, &format!("{erin_row} .user-username")).await.contains("erin"));
    // …and disables her: the row follows.
    let path = format!("/api/users/{}", erin["id"]);
    app.request(reqwest::Method::PATCH, &path, Some(&token), Some(&json!({"is_active": false}))).await;
    wait_for(&admin, &format!(r#"{erin_row}[data-active="false"]"#)).await;

    // A user with a generated password, shown once.
    wait_for(&admin, "#new-user-username").await.send_keys("frank").await.unwrap();
    click(&admin, "#create-user-button").await;
    let password = text(&admin, r#"#secret-box[data-username="frank"] #secret-value"#).await;
    assert!(password.trim().len() >= 16, "{password:?}");
    screenshot(&admin, "users.png").await;
    click(&admin, "#secret-box .dismiss-secret").await;

    // A typed password must be typed twice alike.
    wait_for(&admin, "#new-user-username").await.send_keys("gina").await.unwrap();
    click(&admin, "#new-user-password-type").await;
    wait_for(&admin, "#new-user-password").await.send_keys("gina-password").await.unwrap();
    wait_for(&admin, "#new-user-password-repeat").await.send_keys("gina-passwort").await.unwrap();
    click(&admin, "#create-user-button").await;
    eventually_text(&admin, "#new-user-password-repeat-error", "differ").await;
    let repeat = wait_for(&admin, "#new-user-password-repeat").await;
    repeat.clear().await.unwrap();
    repeat.send_keys("gina-password").await.unwrap();
    click(&admin, "#create-user-button").await;
    eventually_text(&admin, "#users-count", "6").await;
    app.token(("gina", "gina-password")).await;

    // The server's rules show as its messages: an ADMIN cannot disable themselves.
    click(&admin, r#"#users-body tr.user-row:has(.badge-you:not([hidden])) .toggle-active"#).await;
    let own_error = r#"#users-body tr.user-row:has(.badge-you:not([hidden])) .user-error"#;
    eventually_text(&admin, own_error, "disable yourself").await;

    // The new user signs in with the generated password and lands on their page.
    let frank = session.signed_in(&app, "frank", ("frank", password.trim()), "/my").await;
    frank.close().await.ok();
    admin.close().await.ok();
}

#[tokio::test]
async fn an_admin_edits_a_template_and_new_tasks_get_its_subtasks() {
    let app = spawn_app().await;
    let token = app.token(ADMIN).await;
    let session = BrowserSession::start().await;
    let admin = session.signed_in(&app, "admin", ADMIN, "/admin").await;
    click(&admin, r#"#site-nav a[href="/workflows"]"#).await;
    wait_for(&admin, r#"#conn-status[data-state="live"]"#).await;

    // Add a subtask at the end, then move it up one place.
    let card = r#"#workflows-list .workflow-card[data-key="vehicle_registration"]"#;
    click(&admin, &format!("{card} .edit-workflow")).await;
    click(&admin, &format!("{card} .add-subtask")).await;
    let last = format!("{card} .subtask-edit-row:last-child");
    wait_for(&admin, &format!("{last} .subtask-input")).await.send_keys("Photograph the vehicle").await.unwrap();
    click(&admin, &format!("{last} .move-up")).await;
    click(&admin, &format!("{card} .save-workflow")).await;
    let fourth = format!("{card} .workflow-subtasks li:nth-child(4)");
    // Hidden (empty text) while the editor is open, then the saved list.
    eventually_text(&admin, &fourth, "Photograph the vehicle").await;

    // A new template from the form, switched off right away: it is offered to nobody.
    wait_for(&admin, "#new-workflow-name").await.send_keys("Quick check").await.unwrap();
    let first_step = "#new-workflow-form .subtask-edit-row:first-child .subtask-input";
    wait_for(&admin, first_step).await.send_keys("Look").await.unwrap();
    click(&admin, "#create-workflow-button").await;
    let quick = r#"#workflows-list .workflow-card[data-key="quick_check"]"#;
    click(&admin, &format!(r#"{quick}[data-active="true"] .toggle-active"#)).await;
    wait_for(&admin, &format!(r#"{quick}[data-active="false"]"#)).await;

    // Another ADMIN renames a template over the API: the card follows live.
    let rename = json!({"name": "Vehicle registration (2026)"});
    let path = "/api/workflows/vehicle_registration";
    app.request(reqwest::Method::PATCH, path, Some(&token), Some(&rename)).await;
    eventually_text(&admin, &format!("{card} .workflow-name"), "Vehicle registration (2026)").await;
    screenshot(&admin, "workflows.png").await;

    // The task form offers only the active template; a task from it gets the five subtasks.
    let worker = session.signed_in(&app, "worker", ANN, "/my").await;
    wait_for(&worker, r#"#task-workflow option[value="vehicle_registration"]"#).await;
    assert!(worker.find(Locator::Css(r#"#task-workflow option[value="quick_check"]"#)).await.is_err());
    wait_for(&worker, "#task-title").await.send_keys("Register the green car").await.unwrap();
    click(&worker, "#create-task-button").await;
    let task_id = attr(&worker, "#my-tasks .task-card", "data-task-id").await.unwrap();
    app.approve(&token, task_id.parse().unwrap()).await;
    let subtask =
        |n: usize| format!(r#"#my-tasks .task-card[data-task-id="{task_id}"] .subtask:nth-child({n}) .subtask-title"#);
    assert_eq!(text(&worker, &subtask(4)).await, "Photograph the vehicle");
    assert_eq!(text(&worker, &subtask(5)).await, "Hand over keys");
    worker.close().await.ok();
    admin.close().await.ok();
}

#[tokio::test]
async fn the_jobs_dashboard_shows_kinds_and_flags_old_running_jobs() {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    use taskwire::entity::job;
    let app = spawn_app().await;
    let token = app.token(ADMIN).await;
    let (_, fresh) = app.post_json("/api/jobs", Some(&token), &json!({"kind": "export", "name": "Fresh export"})).await;
    let (_, old) = app.post_json("/api/jobs", Some(&token), &json!({"kind": "report", "name": "Old report"})).await;
    // The report was created (and started) 45 minutes ago.
    let long_ago = chrono::Utc::now() - chrono::Duration::minutes(45);
    job::Entity::update_many()
        .col_expr(job::Column::CreatedAt, Expr::value(long_ago))
        .col_expr(job::Column::StartedAt, Expr::value(long_ago))
        .filter(job::Column::Id.eq(old["id"].as_i64().unwrap()))
        .exec(&app.state.db)
        .await
        .unwrap();

    let page = AdminPage::open(&app, "/jobs").await;
    let admin = &page.browser;

    // Per-kind figures from the stats.
    assert_eq!(text(admin, r#"#kinds-body tr.kind-row[data-kind="export"] .kind-total"#).await.trim(), "1");
    assert_eq!(text(admin, r#"#kinds-body tr.kind-row[data-kind="report"] .kind-active"#).await.trim(), "1");

    // The old running job's age is flagged with a word and a title, the fresh one is not.
    let row = |id: &serde_json::Value, rest: &str| format!(r#"#jobs-table tr.job-row[data-job-id="{id}"]{rest}"#);
    assert_eq!(text(admin, &row(&old["id"], r#" .col-age[data-age="old"] .age-note"#)).await.trim(), "over 30m");
    let title = attr(admin, &row(&old["id"], " .col-age"), "title").await.unwrap_or_default();
    assert!(title.contains("may be stuck"), "{title}");
    wait_for(admin, &row(&fresh["id"], r#" .col-age[data-age="fresh"]"#)).await;

    // Once finished, the age is no longer flagged.
    let finish = json!({"status": "completed"});
    app.post_json(&format!("/api/jobs/{}/finish", old["id"]), Some(&token), &finish).await;
    wait_for(admin, &row(&old["id"], r#"[data-status="completed"] .col-age:not([data-age])"#)).await;
    screenshot(admin, "jobs-kinds.png").await;
    // In Ukrainian the per-kind table reads in Ukrainian.
    switch_language(admin, "uk").await;
    eventually_text(admin, "#kinds-heading", "За типами").await;
    page.close().await;
}

#[tokio::test]
async fn a_cancelled_scrape_is_retried_from_the_jobs_dashboard() {
    let shop = crate::shop::FakeShop::start().await;
    let app = spawn_app_with(|c| c.scrape_allowed_hosts = vec![shop.host()]).await;
    let token = app.token(ADMIN).await;
    let mut dashboard = app.ws_subscribed(&token, &["jobs"], None).await;
    let store = crate::scraping::create_store(&app, &token, "Slow shop").await;
    crate::scraping::add_item(&app, &token, store, json!({"name": "Slow", "url": shop.url("/slow")})).await;
    let (_, job) = app.post(&format!("/api/stores/{store}/scrape"), Some(&token)).await;
    let old = job["id"].as_i64().unwrap();
    app.post(&format!("/api/jobs/{old}/cancel"), Some(&token)).await;
    assert_eq!(crate::scraping::job_end(&mut dashboard, old).await["event"], "job.cancelled");

    let page = AdminPage::open(&app, "/jobs").await;
    let admin = &page.browser;
    click(admin, &format!(r#"#jobs-table tr.job-row[data-job-id="{old}"] .retry-job"#)).await;
    let new = dashboard.expect_event("job.created").await["data"]["id"].as_i64().unwrap();
    assert!(new > old);
    let row = format!(r#"#jobs-table tr.job-row[data-job-id="{new}"]"#);
    assert!(text(admin, &format!("{row} .job-scope")).await.contains(&format!("store:{store}")));
    // A running job offers Cancel, not Retry.
    wait_for(admin, &format!("{row} .cancel-job")).await;
    assert!(admin.find(Locator::Css(&format!("{row} .retry-job"))).await.is_err());
    app.post(&format!("/api/jobs/{new}/cancel"), Some(&token)).await;
    wait_for(admin, &format!(r#"{row}[data-status="cancelled"] .retry-job"#)).await;
    page.close().await;
}

#[tokio::test]
async fn a_store_card_sets_its_schedule_and_shows_the_next_run() {
    let app = spawn_app().await;
    let token = app.token(ADMIN).await;
    let store = crate::scraping::create_store(&app, &token, "Scheduled shop").await;
    let page = AdminPage::open(&app, "/stores").await;
    let admin = &page.browser;
    let card = format!(r#"#stores-list .store-card[data-store-id="{store}"]"#);
    assert_eq!(text(admin, &format!("{card} .store-next-scrape")).await.trim(), "scraped by hand");
    click(admin, &format!(r#"{card} .store-schedule option[value="6h"]"#)).await;
    let next = wait_for(admin, &format!(r#"{card} .store-next-scrape[data-at]:not([data-at=""])"#)).await;
    let shown = next.text().await.unwrap();
    assert!(shown.starts_with("every 6 hours, next in"), "{shown}");
    let (_, stores) = app.get("/api/stores", Some(&token)).await;
    assert_eq!(stores[0]["scrape_every"], "6h");
    screenshot(admin, "stores-schedule.png").await;
    // Back to manual.
    click(admin, &format!(r#"{card} .store-schedule option[value=""]"#)).await;
    wait_for(admin, &format!(r#"{card} .store-next-scrape[data-at=""]"#)).await;
    let (_, stores) = app.get("/api/stores", Some(&token)).await;
    assert_eq!(stores[0]["scrape_every"], serde_json::Value::Null);
    // In Russian the card and its picker read in Russian.
    switch_language(admin, "ru").await;
    eventually_text(admin, &format!("{card} .store-next-scrape"), "собирается вручную").await;
    assert_eq!(text(admin, &format!(r#"{card} .store-schedule option[value="6h"]"#)).await.trim(), "Каждые 6 часов");
    // The schedule on the card is in words too, its plural agreeing with the count.
    click(admin, &format!(r#"{card} .store-schedule option[value="6h"]"#)).await;
    wait_for(admin, &format!(r#"{card} .store-next-scrape[data-at]:not([data-at=""])"#)).await;
    eventually_text(admin, &format!("{card} .store-next-scrape"), "6 часов").await;
    page.close().await;
}

#[tokio::test]
async fn an_admin_deactivates_stores_in_bulk_and_edits_and_deletes_an_item() {
    let shop = crate::shop::FakeShop::start().await;
    let app = spawn_app_with(|c| c.scrape_allowed_hosts = vec![shop.host()]).await;
    let token = app.token(ADMIN).await;
    let first = crate::scraping::create_store(&app, &token, "Bulk shop A").await;
    let second = crate::scraping::create_store(&app, &token, "Bulk shop B").await;
    let item = crate::scraping::add_item(
        &app,
        &token,
        first,
        json!({"name": "Football Pro", "url": shop.url("/item/1"), "price_selector": ".price"}),
    )
    .await;
    let item_id = item["id"].as_i64().unwrap();
    let active_of = |stores: &serde_json::Value, id: i64| {
        stores.as_array().unwrap().iter().find(|s| s["id"] == id).map(|s| s["is_active"].clone())
    };

    let page = AdminPage::open(&app, "/stores").await;
    let admin = &page.browser;
    let card = |id: i64| format!(r#"#stores-list .store-card[data-store-id="{id}"]"#);
    // Tick both (the last one ticked shows its items), then deactivate them in one request.
    click(admin, &format!("{} .store-select", card(second))).await;
    click(admin, &format!("{} .store-select", card(first))).await;
    eventually_text(admin, "#deactivate-selected", "(2)").await;
    click(admin, "#deactivate-selected:not(:disabled)").await;
    for id in [first, second] {
        wait_for(admin, &format!(r#"{}[data-active="false"] .store-inactive:not([hidden])"#, card(id))).await;
    }
    let (_, stores) = app.get("/api/stores", Some(&token)).await;
    for id in [first, second] {
        assert_eq!(active_of(&stores, id), Some(json!(false)), "{stores}");
    }
    // The ticks stay: activate both back.
    for id in [first, second] {
        wait_for(admin, &format!("{} .store-select:checked", card(id))).await;
    }
    click(admin, "#activate-selected:not(:disabled)").await;
    for id in [first, second] {
        wait_for(admin, &format!(r#"{}[data-active="true"] .store-inactive[hidden]"#, card(id))).await;
    }
    let (_, stores) = app.get("/api/stores", Some(&token)).await;
    for id in [first, second] {
        assert_eq!(active_of(&stores, id), Some(json!(true)), "{stores}");
    }

    // Edit the item inline: its name changes on the row and over REST.
    let row = format!(r#"#items-table tr.item-row[data-item-id="{item_id}"]"#);
    assert_eq!(attr(admin, &format!("{row} .item-edit"), "aria-label").await.as_deref(), Some("Edit Football Pro"));
    click(admin, &format!("{row} .item-edit")).await;
    let name = wait_for(admin, &format!("#edit-item-{item_id}-name")).await;
    assert_eq!(name.prop("value").await.unwrap().as_deref(), Some("Football Pro"));
    name.clear().await.unwrap();
    name.send_keys("Football Pro 2").await.unwrap();
    screenshot(admin, "stores-bulk.png").await;
    click(admin, ".item-edit-form .item-save").await;
    eventually_gone(admin, ".item-edit-form").await;
    eventually_text(admin, &format!("{row} .cell-main"), "Football Pro 2").await;
    let (_, items) = app.get(&format!("/api/stores/{first}/items"), Some(&token)).await;
    assert_eq!(items[0]["name"], "Football Pro 2", "{items}");

    // Delete it, after saying yes on the row.
    click(admin, &format!("{row} .item-delete")).await;
    eventually_text(admin, &format!("{row} .item-confirm-text"), "Delete Football Pro 2 and its price history?").await;
    click(admin, &format!("{row} .item-delete-confirm")).await;
    eventually_gone(admin, &row).await;
    eventually_attr(admin, &format!("{} .store-items-count", card(first)), "data-count", "0").await;
    let (_, items) = app.get(&format!("/api/stores/{first}/items"), Some(&token)).await;
    assert_eq!(items, json!([]));
    page.close().await;
}

#[tokio::test]
async fn a_products_panel_shows_every_stores_price_and_a_history_chart() {
    let (app, _shop, _admin, product) = crate::products::three_stores_pricing_one_product().await;
    let page = AdminPage::open(&app, "/stores").await;
    let admin = &page.browser;
    let row = format!(r#"#products-body tr.product-row[data-product-id="{}"]"#, product["id"]);
    let range = text(admin, &format!("{row} .product-range")).await;
    assert!(range.contains("80") && range.contains("100") && range.contains("120"), "{range}");
    click(admin, &format!("{row} .product-open")).await;
    let panel = format!(r#"#product-panel[data-product-id="{}"][data-loaded]"#, product["id"]);
    assert!(text(admin, &format!("{panel} .figure-cheapest dd")).await.contains("Store A"));
    let offers = admin.find_all(Locator::Css(&format!("{panel} .offer-row"))).await.unwrap();
    assert_eq!(offers.len(), 2);
    wait_for(admin, &format!(r#"{panel} .offer-row[data-cheapest="true"]"#)).await;
    let lines =
        admin.find_all(Locator::Css(&format!(r#"{panel} .line-chart .chart-series[data-points="2"]"#))).await.unwrap();
    assert_eq!(lines.len(), 2, "a price line per store");
    screenshot(admin, "stores-product.png").await;
    let earliest_point_is_left = r#"
        const circles = document.querySelectorAll('#product-panel .line-chart .chart-series:first-of-type circle');
        return Number(circles[0].getAttribute('cx')) < Number(circles[circles.length - 1].getAttribute('cx'));"#;
    assert_eq!(admin.execute(earliest_point_is_left, vec![]).await.unwrap(), true, "time runs left to right");
    click(admin, "#product-panel-close").await;
    wait_for(admin, "#product-panel[hidden]").await;
    // In Arabic the chart mirrors: time runs right to left.
    switch_language(admin, "ar").await;
    click(admin, &format!("{row} .product-open")).await;
    wait_for(admin, &format!(r#"{panel} .line-chart[data-direction="rtl"] .chart-series[data-points="2"]"#)).await;
    assert_eq!(admin.execute(earliest_point_is_left, vec![]).await.unwrap(), false, "time runs right to left");
    page.close().await;
}
