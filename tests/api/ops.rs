//! Health, readiness and Prometheus metrics.

use reqwest::StatusCode;

use crate::helpers::*;

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| line.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} is not exported:\n{text}"))
}

#[tokio::test]
async fn health_and_readiness_answer_without_auth() {
    let app = spawn_app().await;
    let (status, body) = app.get("/health", None).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (status, body) = app.get("/ready", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["checks"]["database"], "up");
    assert!(body["checks"].get("redis").is_none(), "no Redis configured, none checked");
}

#[tokio::test]
async fn metrics_count_sessions_events_and_requests() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let ann = app.token(ANN).await;
    let mut admin_ws = app.ws_subscribed(&admin, &["tasks"], None).await;
    let _ann_ws = app.ws_subscribed(&ann, &["tasks"], None).await;
    app.create_task(&ann, "Counted").await;
    admin_ws.expect_event("task.created").await;
    let text = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert_eq!(metric(&text, "taskwire_ws_sessions"), 2.0);
    assert_eq!(metric(&text, "taskwire_events_published_total"), 1.0);
    assert_eq!(metric(&text, "taskwire_events_delivered_total"), 2.0, "one frame each for admin and ann");
    assert_eq!(metric(&text, "taskwire_event_delivery_lag_seconds_count"), 1.0);
    assert_eq!(metric(&text, r#"taskwire_http_requests_total{method="POST",route="/api/tasks",status="201"}"#), 1.0);
    assert!(metric(&text, r#"taskwire_http_request_duration_seconds_count{method="POST"}"#) >= 3.0);

    let worker_job = serde_json::json!({"kind": "export", "name": "Counted job"});
    assert_eq!(app.post_json("/api/jobs", Some(&admin), &worker_job).await.0, StatusCode::CREATED);
    let text = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert_eq!(metric(&text, r#"taskwire_jobs{status="running"}"#), 1.0);
    assert_eq!(metric(&text, r#"taskwire_jobs{status="completed"}"#), 0.0);
}

#[tokio::test]
async fn every_answer_carries_its_own_request_id_and_a_proxys_id_is_kept() {
    let app = spawn_app().await;
    let id_of = |response: &reqwest::Response| {
        response.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned)
    };
    // Answered at once, refused, not found: each has an id, and no two are the same.
    let requests = (0..30).map(|n| {
        let path = ["/health", "/api/me", "/nowhere"][n % 3];
        app.http.get(app.url(path)).send()
    });
    let responses = futures_util::future::join_all(requests).await;
    let ids: std::collections::HashSet<String> =
        responses.iter().map(|r| id_of(r.as_ref().unwrap()).expect("an id on every answer")).collect();
    assert_eq!(ids.len(), 30, "ids are unique: {ids:?}");

    let proxied = app.http.get(app.url("/health")).header("x-request-id", "from-the-proxy-7").send().await.unwrap();
    assert_eq!(id_of(&proxied).as_deref(), Some("from-the-proxy-7"));
}
