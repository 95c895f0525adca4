//! Stores and scraping against a real HTTP server playing the shop.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{helpers::*, shop::FakeShop};

pub async fn create_store(app: &TestApp, token: &str, name: &str) -> i64 {
    let (status, store) = app.post_json("/api/stores", Some(token), &json!({"name": name})).await;
    assert_eq!(status, StatusCode::CREATED, "{store}");
    store["id"].as_i64().unwrap()
}

pub async fn add_item(app: &TestApp, token: &str, store: i64, body: Value) -> Value {
    let (status, item) = app.post_json(&format!("/api/stores/{store}/items"), Some(token), &body).await;
    assert_eq!(status, StatusCode::CREATED, "{item}");
    item
}

/// Waits for the final events of several jobs, which may finish in any order.
pub async fn job_ends(ws: &mut WsClient, job_ids: &[i64]) -> std::collections::HashMap<i64, Value> {
    let mut ends = std::collections::HashMap::new();
    while ends.len() < job_ids.len() {
        let frame = ws.next_json().await;
        let id = frame["data"]["id"].as_i64().unwrap_or_default();
        let kind = frame["event"].as_str().unwrap_or_default();
        if job_ids.contains(&id) && matches!(kind, "job.completed" | "job.failed" | "job.cancelled") {
            ends.insert(id, frame);
        }
    }
    ends
}

/// Waits for a job's final event and returns it (other jobs' events are skipped).
pub async fn job_end(ws: &mut WsClient, job_id: i64) -> Value {
    job_ends(ws, &[job_id]).await.remove(&job_id).expect("collected above")
}

#[tokio::test]
async fn a_scrape_records_prices_and_says_why_items_failed() {
    let shop = FakeShop::start().await;
    let app = spawn_app_with(|c| {
        c.scrape_timeout = Duration::from_millis(300);
        c.scrape_allowed_hosts = vec![shop.host()];
    })
    .await;
    let admin = app.token(ADMIN).await;
    let mut dashboard = app.ws_subscribed(&admin, &["jobs"], None).await;
    let store = create_store(&app, &admin, "Shop A").await;
    for n in 1..=5 {
        add_item(
            &app,
            &admin,
            store,
            json!({"name": format!("Good {n}"), "url": shop.url(&format!("/item/{n}")), "stock_selector": ".stock"}),
        )
        .await;
    }
    for path in ["/missing", "/noprice", "/garbage", "/slow"] {
        add_item(&app, &admin, store, json!({"name": path, "url": shop.url(path)})).await;
    }
    let (status, job) = app.post(&format!("/api/stores/{store}/scrape"), Some(&admin)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    assert_eq!(job["kind"], "scrape_store");
    assert_eq!(job["scope"], format!("store:{store}"));
    let id = job["id"].as_i64().unwrap();
    let end = job_end(&mut dashboard, id).await;
    assert_eq!(end["event"], "job.completed", "{end}");
    assert_eq!(end["data"]["items_total"], 9);
    assert_eq!(end["data"]["items_processed"], 9);
    assert_eq!(end["data"]["items_failed"], 4);

    let (_, detail) = app.get(&format!("/api/jobs/{id}"), Some(&admin)).await;
    let reasons: Vec<String> =
        detail["failures"].as_array().unwrap().iter().map(|f| f["reason"].as_str().unwrap().to_owned()).collect();
    for expected in ["HTTP 404", "timed out", "found nothing", "unparsable price"] {
        assert!(reasons.iter().any(|r| r.contains(expected)), "{expected} in {reasons:?}");
    }

    let (_, items) = app.get(&format!("/api/stores/{store}/items"), Some(&admin)).await;
    let items = items.as_array().unwrap();
    let good: Vec<&Value> = items.iter().filter(|i| i["name"].as_str().unwrap().starts_with("Good")).collect();
    assert_eq!(good.iter().map(|i| i["price"].as_f64().unwrap()).collect::<Vec<_>>(), [10.0, 20.0, 30.0, 40.0, 50.0]);
    assert!(good.iter().all(|i| i["freshness"] == "fresh" && i["in_stock"] == true && i["last_error"].is_null()));
    let missing = items.iter().find(|i| i["name"] == "/missing").unwrap();
    assert_eq!(missing["freshness"], "never");
    assert_eq!(missing["last_error"], "HTTP 404");

    // A second scrape adds to the price history.
    let (_, again) = app.post(&format!("/api/stores/{store}/scrape"), Some(&admin)).await;
    job_end(&mut dashboard, again["id"].as_i64().unwrap()).await;
    let (status, history) =
        app.get(&format!("/api/stores/{store}/items/{}/history", good[0]["id"]), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    assert_eq!(history.as_array().unwrap().len(), 2);
    assert_eq!(history[0]["price"], 10.0);
    let (_, jobs) = app.get(&format!("/api/stores/{store}/jobs"), Some(&admin)).await;
    assert_eq!(jobs["items"].as_array().unwrap().len(), 2);
    let (_, stores) = app.get("/api/stores", Some(&admin)).await;
    assert_eq!(stores[0]["items_count"], 9);
    assert!(stores[0]["last_scraped_at"].is_string());
}

#[tokio::test]
async fn several_stores_at_once_and_the_cheapest_store_per_product() {
    let shop = FakeShop::start().await;
    let catalog = tempdir_with(&[("catalog.csv", "sku,name,price\nSP-1,Ball,120.00\nSP-2,Net,50\n")]);
    let dir = catalog.clone();
    let allowed = vec![shop.host()];
    let app = spawn_app_with(move |c| {
        c.catalog_dir = dir;
        c.scrape_allowed_hosts = allowed;
    })
    .await;
    let admin = app.token(ADMIN).await;
    let mut dashboard = app.ws_subscribed(&admin, &["jobs"], None).await;
    let (_, import) = app.post_json("/api/imports/catalog", Some(&admin), &json!({})).await;
    job_end(&mut dashboard, import["id"].as_i64().unwrap()).await;

    let a = create_store(&app, &admin, "Shop A").await;
    let b = create_store(&app, &admin, "Shop B").await;
    add_item(&app, &admin, a, json!({"name": "Ball", "url": shop.url("/item/10"), "sku": "SP-1"})).await;
    add_item(&app, &admin, b, json!({"name": "Ball", "url": shop.url("/item/8"), "sku": "SP-1"})).await;
    let (status, jobs) = app.post_json("/api/stores/scrape", Some(&admin), &json!({"store_ids": [a, b]})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{jobs}");
    let jobs = jobs.as_array().unwrap().clone();
    assert_eq!(jobs.len(), 2);
    let ids: Vec<i64> = jobs.iter().map(|j| j["id"].as_i64().unwrap()).collect();
    for (_, end) in job_ends(&mut dashboard, &ids).await {
        assert_eq!(end["event"], "job.completed");
    }
    let (_, products) = app.get("/api/products?search=ball", Some(&admin)).await;
    assert_eq!(products.as_array().unwrap().len(), 1);
    assert_eq!(products[0]["price"], 120.0);
    assert_eq!(products[0]["cheapest"]["store_name"], "Shop B");
    assert_eq!(products[0]["cheapest"]["price"], 80.0);

    let (status, store) =
        app.request(Method::PATCH, &format!("/api/stores/{b}"), Some(&admin), Some(&json!({"is_active": false}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((store["is_active"].as_bool(), store["items_count"].as_u64()), (Some(false), Some(1)));
    assert!(store["last_scraped_at"].is_string());
    let (_, products) = app.get("/api/products?search=SP-1", Some(&admin)).await;
    assert_eq!(products[0]["cheapest"]["store_name"], "Shop A", "inactive stores are not offers");
    assert_error(
        &app.post(&format!("/api/stores/{b}/scrape"), Some(&admin)).await,
        StatusCode::CONFLICT,
        "invalid_state",
    );
    assert_error(&app.post("/api/stores/424242/scrape", Some(&admin)).await, StatusCode::NOT_FOUND, "not_found");
    assert_error(
        &app.post_json("/api/stores/scrape", Some(&admin), &json!({"store_ids": []})).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    );
    let _ = std::fs::remove_dir_all(catalog);
}

#[tokio::test]
async fn a_running_scrape_stops_when_cancelled() {
    let shop = FakeShop::start().await;
    let app = spawn_app_with(|c| {
        c.scrape_concurrency = 1;
        c.scrape_allowed_hosts = vec![shop.host()];
    })
    .await;
    let admin = app.token(ADMIN).await;
    let mut dashboard = app.ws_subscribed(&admin, &["jobs"], None).await;
    let store = create_store(&app, &admin, "Sleepy shop").await;
    for n in 1..=30 {
        add_item(&app, &admin, store, json!({"name": format!("Item {n}"), "url": shop.url(&format!("/sleepy/{n}"))}))
            .await;
    }
    let (_, job) = app.post(&format!("/api/stores/{store}/scrape"), Some(&admin)).await;
    let id = job["id"].as_i64().unwrap();
    assert_error(
        &app.post(&format!("/api/stores/{store}/scrape"), Some(&admin)).await,
        StatusCode::CONFLICT,
        "already_running",
    );
    // Wait until it has made progress, then cancel.
    let processed_at_cancel = loop {
        let frame = dashboard.next_json().await;
        let processed = frame["data"]["items_processed"].as_i64().unwrap_or(0);
        if frame["data"]["id"] == id && processed >= 1 {
            break processed;
        }
    };
    let (status, _) = app.post(&format!("/api/jobs/{id}/cancel"), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    let end = job_end(&mut dashboard, id).await;
    assert_eq!(end["event"], "job.cancelled");
    let processed = end["data"]["items_processed"].as_i64().unwrap();
    // One page takes 400 ms and pages go one at a time: stopping within about a
    // second means at most a few pages after the cancel, not the remaining ~28.
    assert!(
        processed <= processed_at_cancel + 3,
        "stopped after {processed} items, cancel came at {processed_at_cancel}"
    );
    assert!(end["data"]["finished_at"].is_string());
}

#[tokio::test]
async fn bad_store_input_is_refused() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let store = create_store(&app, &admin, "Shop").await;
    assert_error(
        &app.post_json("/api/stores", Some(&admin), &json!({"name": "Shop"})).await,
        StatusCode::CONFLICT,
        "conflict",
    );
    assert_error(
        &app.post_json("/api/stores", Some(&admin), &json!({"name": " "})).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    );
    for (body, field) in [
        (json!({"name": "x", "url": "not a url"}), "url"),
        (json!({"name": "x", "url": "ftp://example.com/a"}), "url"),
        (json!({"name": "", "url": "http://example.com/a"}), "name"),
        (json!({"name": "x", "url": "http://example.com/a", "price_selector": "[["}), "price_selector"),
        (json!({"name": "x", "url": "http://example.com/a", "stock_selector": "##"}), "stock_selector"),
    ] {
        let response = app.post_json(&format!("/api/stores/{store}/items"), Some(&admin), &body).await;
        assert_error(&response, StatusCode::BAD_REQUEST, "validation_failed");
        assert!(response.1["error"]["message"].as_str().unwrap().contains(field), "{field}: {}", response.1);
    }
    assert_error(&app.get("/api/stores/999/items", Some(&admin)).await, StatusCode::NOT_FOUND, "not_found");
    let path = format!("/api/stores/{store}");
    for body in [json!({"name": ""}), json!({"colour": "red"}), json!({"is_active": "yes"})] {
        assert_error(
            &app.request(Method::PATCH, &path, Some(&admin), Some(&body)).await,
            StatusCode::BAD_REQUEST,
            "validation_failed",
        );
    }
    assert_error(
        &app.request(Method::PATCH, "/api/stores/999", Some(&admin), Some(&json!({"name": "x"}))).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let unknown = app.post_json("/api/stores/scrape", Some(&admin), &json!({"store_ids": [store, 999]})).await;
    assert_error(&unknown, StatusCode::NOT_FOUND, "not_found");
    let (_, jobs) = app.get("/api/jobs", Some(&admin)).await;
    assert_eq!(jobs["items"], json!([]), "no scrape started when one store of the list is unknown");
    let (_, items) = app.get(&format!("/api/stores/{store}/items"), Some(&admin)).await;
    assert_eq!(items, json!([]), "nothing was added by bad input");
}

/// A server reading catalogs from a fresh directory holding the given files.
pub async fn spawn_with_catalog(files: &[(&str, &str)]) -> (TestApp, std::path::PathBuf) {
    let dir = tempdir_with(files);
    let catalog_dir = dir.clone();
    (spawn_app_with(move |c| c.catalog_dir = catalog_dir).await, dir)
}

/// A fresh directory holding the given files.
pub fn tempdir_with(files: &[(&str, &str)]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("taskwire-catalog-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, content) in files {
        std::fs::write(dir.join(name), content).unwrap();
    }
    dir
}

#[tokio::test]
async fn built_in_jobs_run_at_most_job_concurrency_at_once() {
    let shop = FakeShop::start().await;
    let app = spawn_app_with(|c| {
        c.job_concurrency = 1;
        c.scrape_concurrency = 1;
        c.scrape_allowed_hosts = vec![shop.host()];
    })
    .await;
    let admin = app.token(ADMIN).await;
    let mut dashboard = app.ws_subscribed(&admin, &["jobs"], None).await;
    let mut stores = Vec::new();
    for name in ["First", "Second"] {
        let store = create_store(&app, &admin, name).await;
        for n in 1..=2 {
            add_item(
                &app,
                &admin,
                store,
                json!({"name": format!("{name} {n}"), "url": shop.url(&format!("/sleepy/{n}"))}),
            )
            .await;
        }
        stores.push(store);
    }
    let (_, jobs) = app.post_json("/api/stores/scrape", Some(&admin), &json!({"store_ids": stores})).await;
    let ids: Vec<i64> = jobs.as_array().unwrap().iter().map(|j| j["id"].as_i64().unwrap()).collect();
    // With one slot, the second job starts only after the first has finished.
    let mut order = Vec::new();
    while order.len() < 4 {
        let frame = dashboard.next_json().await;
        let kind = frame["event"].as_str().unwrap_or_default().to_owned();
        if matches!(kind.as_str(), "job.started" | "job.completed") {
            order.push((kind, frame["data"]["id"].as_i64().unwrap()));
        }
    }
    let expected: Vec<(String, i64)> = vec![
        ("job.started".into(), ids[0]),
        ("job.completed".into(), ids[0]),
        ("job.started".into(), ids[1]),
        ("job.completed".into(), ids[1]),
    ];
    assert_eq!(order, expected);
}
