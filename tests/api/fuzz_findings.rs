//! Inputs found to break the server while fuzzing the API (scripts/schemathesis,
//! and probes of what it generates on PostgreSQL), kept as regressions: each once answered 500.

use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::*;

/// A `\u0000` in any JSON string or an encoded NUL (`%00`) in a query reached the
/// database, which PostgreSQL refuses (500) and SQLite stored: it is now a 400 on both.
#[tokio::test]
async fn text_with_a_nul_character_is_refused_as_validation_failed_on_every_input() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let raw = |method: Method, path: &str, body: &'static str| {
        app.http
            .request(method, app.url(path))
            .bearer_auth(&admin)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
    };
    let requests = [
        raw(Method::POST, "/api/stores", r#"{"name": "Shop\u0000"}"#),
        raw(Method::POST, "/api/tasks", r#"{"title": "a\u0000b", "workflow": "vehicle_registration"}"#),
        raw(Method::POST, "/api/auth/login", r#"{"username": "admin\u0000", "password": "admin-password"}"#),
        raw(Method::POST, "/api/auth/refresh", r#"{"refresh_token": "\u0000"}"#),
        raw(Method::POST, "/api/orders", r#"{"product": "p", "package": "\u0000", "user_identifier": "u"}"#),
        app.http.get(app.url("/api/jobs?kind=a%00b")).bearer_auth(&admin),
        app.http.get(app.url("/api/products?search=%00")).bearer_auth(&admin),
    ];
    for request in requests {
        let response = request.send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"]["code"], "validation_failed", "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("NUL"), "{body}");
    }
    let (_, stores) = app.get("/api/stores", Some(&admin)).await;
    assert_eq!(stores, json!([]), "nothing was stored");
    let (_, tasks) = app.get("/api/tasks", Some(&admin)).await;
    assert_eq!(tasks["items"], json!([]), "nothing was stored");

    // A backslash followed by the letters u0000 is ordinary text and round-trips.
    let (status, store) = app.post_json("/api/stores", Some(&admin), &json!({"name": r"C:\u0000"})).await;
    assert_eq!(status, StatusCode::CREATED, "{store}");
    assert_eq!(store["name"], r"C:\u0000");
    let (status, _) = app.get("/api/products?search=100%25", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "a literal percent sign is not a NUL");
}

/// Item counts up to i64::MAX were accepted, and `GET /api/jobs/stats` (and the
/// `taskwire_jobs` gauge refresh) summed them into an overflow: 500. Counts are now
/// bounded by 10^12, the same in the worker protocol's create and progress.
#[tokio::test]
async fn job_item_counts_are_bounded_so_the_dashboard_totals_cannot_overflow() {
    const MAX_ITEMS: i64 = 1_000_000_000_000;
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let new_job = |items_total: i64| json!({"kind": "export", "name": "Export", "items_total": items_total});

    let response = app.post_json("/api/jobs", Some(&admin), &new_job(i64::MAX)).await;
    assert_error(&response, StatusCode::BAD_REQUEST, "validation_failed");
    assert!(response.1["error"]["message"].as_str().unwrap().starts_with("items_total:"), "{}", response.1);

    for _ in 0..2 {
        let (status, job) = app.post_json("/api/jobs", Some(&admin), &new_job(MAX_ITEMS)).await;
        assert_eq!(status, StatusCode::CREATED, "{job}");
        let progress = format!("/api/jobs/{}/progress", job["id"]);
        let too_many = app.post_json(&progress, Some(&admin), &json!({"items_processed": i64::MAX})).await;
        assert_error(&too_many, StatusCode::BAD_REQUEST, "validation_failed");
        let (status, body) = app.post_json(&progress, Some(&admin), &json!({"items_processed": MAX_ITEMS})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let finish = format!("/api/jobs/{}/finish", job["id"]);
        let (status, body) = app.post_json(&finish, Some(&admin), &json!({"status": "completed"})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, stats) = app.get("/api/jobs/stats", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    assert_eq!(stats["total_items_processed"], 2 * MAX_ITEMS);
    let metrics = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
}

/// A store may be named with 200 characters, but its scrape job is called
/// `Scrape <name>` and a job name holds 200: the scrape answered 500 on PostgreSQL
/// (and stored an overlong name on SQLite). The name is now shortened with `…`.
#[tokio::test]
async fn a_store_with_the_longest_name_can_be_scraped() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let name = "Я".repeat(200);
    let (status, store) = app.post_json("/api/stores", Some(&admin), &json!({"name": name})).await;
    assert_eq!(status, StatusCode::CREATED, "{store}");
    let (status, job) = app.post(&format!("/api/stores/{}/scrape", store["id"]), Some(&admin)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    let job_name = job["name"].as_str().unwrap();
    assert_eq!(job_name.chars().count(), 200, "{job_name}");
    assert!(job_name.starts_with("Scrape ЯЯЯ") && job_name.ends_with('…'), "{job_name}");
    let (status, listed) = app.get(&format!("/api/jobs/{}", job["id"]), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["name"], job["name"]);
}
