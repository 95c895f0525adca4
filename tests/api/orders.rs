//! Orders against a fake provider: dispatch, backoff, final states, restart, two instances, PIN privacy.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use taskwire::Config;

use crate::{
    helpers::*,
    provider::{API_KEY, FakeProvider},
};

/// Millisecond-scale timings: first check after 100 ms, backoff 50 ms doubling to 200 ms.
fn fast(provider: &FakeProvider) -> impl Fn(&mut Config) + Clone + use<> {
    let url = provider.url();
    move |c: &mut Config| {
        c.provider_url = Some(url.clone());
        c.provider_api_key = Some(API_KEY.into());
        c.provider_timeout = Duration::from_millis(300);
        let t = &mut c.order_timing;
        t.first_check_delay = Duration::from_millis(100);
        t.backoff_base = Duration::from_millis(50);
        t.backoff_max = Duration::from_millis(200);
        t.max_checks = 20;
        t.deadline = Duration::from_secs(3600);
        t.sweep_interval = Duration::from_secs(3600);
    }
}

/// Like `fast`, but the first check is an hour away: orders stay `sent` while a test works on them.
fn unchecked(provider: &FakeProvider) -> impl Fn(&mut Config) + use<> {
    let fast = fast(provider);
    move |c: &mut Config| {
        fast(c);
        c.order_timing.first_check_delay = Duration::from_secs(3600);
    }
}

async fn place(app: &TestApp, token: &str, product: &str, user_identifier: &str) -> Value {
    let body =
        json!({"product": product, "package": "basic", "user_identifier": user_identifier, "extra_field": "note"});
    let (status, order) = app.post_json("/api/orders", Some(token), &body).await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    order
}

/// Waits for the order's final event (`order.completed` or `order.failed`).
async fn order_end(ws: &mut WsClient, order_id: i64) -> Value {
    loop {
        let frame = ws.next_json().await;
        if frame["data"]["id"] == order_id
            && matches!(frame["event"].as_str(), Some("order.completed" | "order.failed"))
        {
            return frame;
        }
    }
}

#[tokio::test]
async fn an_order_is_checked_on_the_backoff_schedule_and_its_pin_reaches_only_its_owner() {
    let provider = FakeProvider::start().await;
    let app = spawn_app_with(fast(&provider)).await;
    let admin = app.token(ADMIN).await;
    let ann = app.token(ANN).await;
    let bob = app.token(BOB).await;
    let mut ann_ws = app.ws_subscribed(&ann, &["orders"], None).await;
    let mut admin_ws = app.ws_subscribed(&admin, &["orders"], None).await;
    let mut bob_ws = app.ws_subscribed(&bob, &["orders"], None).await;

    let order = place(&app, &ann, "pin-after:5", "player-7").await;
    let id = order["id"].as_i64().unwrap();
    assert_eq!(order["status"], "sent");
    assert_eq!(order["provider"], "http");
    let reference = order["provider_ref"].as_str().unwrap().to_owned();
    assert!(order["next_check_at"].is_string() && order["pin_code"].is_null());

    assert_eq!(ann_ws.expect_event("order.created").await["data"]["status"], "pending");
    assert_eq!(ann_ws.expect_event("order.status_changed").await["data"]["status"], "sent");
    // Each inconclusive check announces the next one: the schedule it computed is
    // base 50 ms doubling, capped at 200 ms.
    let mut waits = Vec::new();
    let completed = loop {
        let frame = ann_ws.next_json().await;
        match frame["event"].as_str() {
            Some("order.checked" | "order.status_changed") => {
                let at =
                    |field: &str| chrono::DateTime::parse_from_rfc3339(frame["data"][field].as_str().unwrap()).unwrap();
                waits.push((at("next_check_at") - at("last_sync_at")).num_milliseconds());
            }
            Some("order.completed") => break frame,
            other => panic!("unexpected {other:?}: {frame}"),
        }
    };
    assert_eq!(waits, [50, 100, 200, 200]);
    assert_eq!(completed["event"], "order.completed");
    assert_eq!(completed["data"]["pin_code"], format!("PIN-{reference}"));
    assert_eq!(completed["data"]["check_attempts"], 5);
    assert!(completed["data"]["next_check_at"].is_null());
    assert_eq!(order_end(&mut admin_ws, id).await["data"]["pin_code"], format!("PIN-{reference}"));
    bob_ws.expect_silence().await;

    // First check after 100 ms, then 50, 100, 200, 200 (capped) — never earlier.
    let offsets = provider.check_offsets(&reference);
    assert_eq!(offsets.len(), 5);
    let expected_gaps = [100, 50, 100, 200, 200];
    let mut previous = Duration::ZERO;
    for (n, (offset, gap)) in offsets.iter().zip(expected_gaps).enumerate() {
        let actual = offset.saturating_sub(previous);
        assert!(
            actual + Duration::from_millis(5) >= Duration::from_millis(gap),
            "check {} came {actual:?} after the previous, expected ≥ {gap} ms",
            n + 1
        );
        previous = *offset;
    }

    let (_, seen_by_ann) = app.get(&format!("/api/orders/{id}"), Some(&ann)).await;
    assert_eq!(seen_by_ann["pin_code"], format!("PIN-{reference}"));
    let (_, seen_by_admin) = app.get(&format!("/api/orders/{id}"), Some(&admin)).await;
    assert_eq!(seen_by_admin["pin_code"], format!("PIN-{reference}"));
    assert_eq!(seen_by_admin["created_by_name"], "ann");
    assert_error(&app.get(&format!("/api/orders/{id}"), Some(&bob)).await, StatusCode::NOT_FOUND, "not_found");
    let (_, bobs) = app.get("/api/orders", Some(&bob)).await;
    assert_eq!(bobs["items"], json!([]));
    let mut bob_replay = app.ws_subscribed(&bob, &["orders"], Some(0)).await;
    bob_replay.expect_silence().await;
    bob_replay.send_json(json!({"type": "subscribe", "channels": [format!("order:{id}")]})).await;
    assert_eq!(bob_replay.next_json().await["code"], "forbidden");
}

#[tokio::test]
async fn refused_failed_and_unknown_orders_fail_with_their_reason() {
    let provider = FakeProvider::start().await;
    let app = spawn_app_with(fast(&provider)).await;
    let ann = app.token(ANN).await;
    let mut ws = app.ws_subscribed(&ann, &["orders"], None).await;

    let refused = place(&app, &ann, "pin-after:1", "refuse").await;
    assert_eq!(refused["status"], "failed");
    assert!(refused["failure_reason"].as_str().unwrap().contains("unknown account"), "{refused}");
    assert!(refused["provider_ref"].is_null());

    let failed = place(&app, &ann, "fail", "p1").await;
    let end = order_end(&mut ws, failed["id"].as_i64().unwrap()).await;
    assert_eq!(end["event"], "order.failed");
    assert_eq!(end["data"]["failure_reason"], "out of stock at the provider");

    let unknown = place(&app, &ann, "unknown", "p2").await;
    let end = order_end(&mut ws, unknown["id"].as_i64().unwrap()).await;
    assert!(end["data"]["failure_reason"].as_str().unwrap().contains("does not know"), "{end}");
}

#[tokio::test]
async fn provider_errors_and_timeouts_count_as_attempts_and_are_retried() {
    let provider = FakeProvider::start().await;
    let app = spawn_app_with(fast(&provider)).await;
    let ann = app.token(ANN).await;
    let mut ws = app.ws_subscribed(&ann, &["orders"], None).await;
    for product in ["flaky:2", "slow:1"] {
        let order = place(&app, &ann, product, "p").await;
        let end = order_end(&mut ws, order["id"].as_i64().unwrap()).await;
        assert_eq!(end["event"], "order.completed", "{product}: {end}");
        let expected_attempts = if product == "flaky:2" { 3 } else { 2 };
        assert_eq!(end["data"]["check_attempts"], expected_attempts, "{product}");
        assert_eq!(end["data"]["pin_code"], "4242");
    }
    // A provider down at dispatch: the order stays pending and is dispatched again later.
    let down = place(&app, &ann, "pin-after:1", "down").await;
    assert_eq!(down["status"], "pending");
    assert_eq!(down["check_attempts"], 1);
    assert!(down["next_check_at"].is_string());
}

#[tokio::test]
async fn after_the_fast_checks_an_order_is_watched_until_the_deadline() {
    let provider = FakeProvider::start().await;
    let watched = spawn_app_with({
        let fast = fast(&provider);
        move |c| {
            fast(c);
            c.order_timing.max_checks = 3;
            c.order_timing.sweep_interval = Duration::from_millis(250);
        }
    })
    .await;
    let ann = watched.token(ANN).await;
    let mut ws = watched.ws_subscribed(&ann, &["orders"], None).await;
    // The PIN arrives at the 6th check: three checks after the backoff ran out.
    let order = place(&watched, &ann, "pin-after:6", "p").await;
    let end = order_end(&mut ws, order["id"].as_i64().unwrap()).await;
    assert_eq!(end["event"], "order.completed", "{end}");
    assert_eq!(end["data"]["pin_code"], format!("PIN-{}", order["provider_ref"].as_str().unwrap()));
    assert_eq!(end["data"]["check_attempts"], 6);
    let offsets = provider.check_offsets(order["provider_ref"].as_str().unwrap());
    for late in 3..6 {
        let gap = offsets[late] - offsets[late - 1];
        assert!(gap >= Duration::from_millis(240), "check {} came {gap:?} after the one before", late + 1);
    }

    let short = spawn_app_with({
        let fast = fast(&provider);
        move |c| {
            fast(c);
            c.order_timing.deadline = Duration::from_millis(600);
            c.order_timing.max_checks = 2;
            c.order_timing.sweep_interval = Duration::from_millis(100);
        }
    })
    .await;
    let ann = short.token(ANN).await;
    let mut ws = short.ws_subscribed(&ann, &["orders"], None).await;
    let order = place(&short, &ann, "never", "p").await;
    let end = order_end(&mut ws, order["id"].as_i64().unwrap()).await;
    assert_eq!(end["event"], "order.failed");
    assert_eq!(end["data"]["failure_reason"], "timeout");
    assert!(end["data"]["check_attempts"].as_i64().unwrap() > 2, "watched past ORDER_MAX_CHECKS: {end}");
}

#[tokio::test]
async fn an_order_is_cancelled_by_its_owner_or_an_admin_and_then_never_checked() {
    let provider = FakeProvider::start().await;
    let app = spawn_app_with(unchecked(&provider)).await;
    let (admin, ann, bob) = (app.token(ADMIN).await, app.token(ANN).await, app.token(BOB).await);
    let mut ann_ws = app.ws_subscribed(&ann, &["orders"], None).await;
    let order = place(&app, &ann, "never", "p").await;
    let (id, reference) = (order["id"].as_i64().unwrap(), order["provider_ref"].as_str().unwrap().to_owned());
    ann_ws.expect_event("order.created").await;
    ann_ws.expect_event("order.status_changed").await;

    assert_error(&app.post(&format!("/api/orders/{id}/cancel"), Some(&bob)).await, StatusCode::NOT_FOUND, "not_found");
    let (status, cancelled) = app.post(&format!("/api/orders/{id}/cancel"), Some(&ann)).await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["next_check_at"], Value::Null);
    assert_eq!(cancelled["failure_reason"], "cancelled by ann");
    assert!(provider.cancelled(&reference), "the provider was asked to cancel");
    let event = ann_ws.expect_event("order.cancelled").await;
    assert_eq!(event["data"]["status"], "cancelled");
    let again = app.post(&format!("/api/orders/{id}/cancel"), Some(&admin)).await;
    assert_error(&again, StatusCode::CONFLICT, "invalid_state");
    let check = app.post(&format!("/api/orders/{id}/check"), Some(&admin)).await;
    assert_error(&check, StatusCode::CONFLICT, "invalid_state");
    assert_eq!(provider.checks(&reference), 0, "a cancelled order is never checked");

    // A provider that cannot cancel remotely: the order is still stopped here, and says so.
    let stubborn = place(&app, &bob, "nocancel", "p").await;
    let (status, stopped) = app.post(&format!("/api/orders/{}/cancel", stubborn["id"]), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{stopped}");
    assert_eq!(stopped["status"], "cancelled");
    assert!(stopped["failure_reason"].as_str().unwrap().contains("cannot cancel orders remotely"), "{stopped}");
}

#[tokio::test]
async fn a_cancel_the_provider_refuses_or_cannot_answer_changes_nothing() {
    let provider = FakeProvider::start().await;
    let app = spawn_app_with(unchecked(&provider)).await;
    let ann = app.token(ANN).await;
    for (product, status, code) in [
        ("fulfilled", StatusCode::CONFLICT, "invalid_state"),
        ("cancel-down", StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
    ] {
        let order = place(&app, &ann, product, "p").await;
        let refused = app.post(&format!("/api/orders/{}/cancel", order["id"]), Some(&ann)).await;
        assert_error(&refused, status, code);
        let (_, unchanged) = app.get(&format!("/api/orders/{}", order["id"]), Some(&ann)).await;
        assert_eq!(unchanged["status"], "sent", "{product}: {unchanged}");
        assert_ne!(unchanged["next_check_at"], Value::Null, "{product}: still watched");
        assert!(!provider.cancelled(order["provider_ref"].as_str().unwrap()));
    }
}

#[tokio::test]
async fn admins_find_an_order_by_provider_reference_and_oversized_answers_fail_clearly() {
    let provider = FakeProvider::start().await;
    let app = spawn_app_with(fast(&provider)).await;
    let (admin, ann) = (app.token(ADMIN).await, app.token(ANN).await);
    let mut ws = app.ws_subscribed(&ann, &["orders"], None).await;
    place(&app, &ann, "never", "first").await;
    let wanted = place(&app, &ann, "never", "second").await;
    let reference = wanted["provider_ref"].as_str().unwrap();
    let (status, page) = app.get(&format!("/api/orders?provider_ref={reference}"), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<i64> = page["items"].as_array().unwrap().iter().map(|o| o["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, vec![wanted["id"].as_i64().unwrap()]);

    let (status, long_ref) = app
        .post_json(
            "/api/orders",
            Some(&ann),
            &json!({"product": "never", "package": "basic", "user_identifier": "long-ref"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(long_ref["status"], "failed", "{long_ref}");
    assert!(long_ref["failure_reason"].as_str().unwrap().contains("reference longer than 200"), "{long_ref}");

    let long_pin = place(&app, &ann, "long-pin", "p").await;
    let end = order_end(&mut ws, long_pin["id"].as_i64().unwrap()).await;
    assert_eq!(end["event"], "order.failed");
    assert!(end["data"]["failure_reason"].as_str().unwrap().contains("PIN longer than 200"), "{end}");
}

#[tokio::test]
async fn checks_resume_after_a_restart_in_the_middle() {
    let provider = FakeProvider::start().await;
    let (database, url) = TestDatabase::create().await;
    let timing = {
        let fast = fast(&provider);
        move |c: &mut Config| {
            fast(c);
            c.order_timing.backoff_base = Duration::from_millis(400);
            c.order_timing.backoff_max = Duration::from_millis(400);
        }
    };
    let mut first = spawn_on(&url, timing.clone()).await;
    taskwire::users::service::create_user(&first.state.db, ANN.0, ANN.1, "ADMIN_LIMITED").await.unwrap();
    let ann = first.token(ANN).await;
    let mut ws = first.ws_subscribed(&ann, &["orders"], None).await;
    let order = place(&first, &ann, "pin-after:3", "p").await;
    let reference = order["provider_ref"].as_str().unwrap().to_owned();
    // The first check happens, then the instance stops before the second.
    loop {
        let frame = ws.next_json().await;
        if frame["event"] == "order.checked" {
            assert_eq!(frame["data"]["check_attempts"], 1);
            break;
        }
    }
    first.stop().await;
    assert_eq!(provider.checks(&reference), 1);

    let second = spawn_on(&url, timing).await;
    let ann = second.token(ANN).await;
    let mut ws = second.ws_subscribed(&ann, &["orders"], Some(0)).await;
    let end = order_end(&mut ws, order["id"].as_i64().unwrap()).await;
    assert_eq!(end["event"], "order.completed");
    assert_eq!(end["data"]["check_attempts"], 3, "the stored attempt count carried over");
    let offsets = provider.check_offsets(&reference);
    assert_eq!(offsets.len(), 3, "no check repeated or lost");
    assert!(offsets[1] - offsets[0] >= Duration::from_millis(395), "the stored schedule was kept: {offsets:?}");
    drop(second);
    drop(database);
}

#[tokio::test]
async fn two_instances_never_check_the_same_order_at_once() {
    let provider = FakeProvider::start().await;
    let (database, url) = TestDatabase::create_postgres().await;
    let racing = {
        let fast = fast(&provider);
        move |c: &mut Config| {
            fast(c);
            // Both instances sweep constantly, so they race for every due order.
            c.order_timing.sweep_interval = Duration::from_millis(10);
            c.order_timing.first_check_delay = Duration::from_millis(30);
            c.order_timing.backoff_base = Duration::from_millis(20);
            c.order_timing.backoff_max = Duration::from_millis(40);
        }
    };
    let a = spawn_on(&url, racing.clone()).await;
    let b = spawn_on(&url, racing).await;
    taskwire::users::service::create_user(&a.state.db, ANN.0, ANN.1, "ADMIN_LIMITED").await.unwrap();
    let ann = a.token(ANN).await;
    let mut ws = b.ws_subscribed(&ann, &["orders"], None).await;
    let mut orders = Vec::new();
    for n in 0..6 {
        let on = if n % 2 == 0 { &a } else { &b };
        orders.push(place(on, &ann, "pin-after:6", &format!("p{n}")).await);
    }
    // Orders finish in any order: collect every final event first.
    let mut ends = std::collections::HashMap::new();
    while ends.len() < orders.len() {
        let frame = ws.next_json().await;
        if matches!(frame["event"].as_str(), Some("order.completed" | "order.failed")) {
            ends.insert(frame["data"]["id"].as_i64().unwrap(), frame);
        }
    }
    for order in &orders {
        let end = &ends[&order["id"].as_i64().unwrap()];
        assert_eq!(end["event"], "order.completed");
        let reference = order["provider_ref"].as_str().unwrap();
        assert_eq!(provider.max_in_flight(reference), 1, "{reference} was checked twice at once");
        assert_eq!(provider.checks(reference), 6, "{reference}: every check counted once");
        assert_eq!(end["data"]["check_attempts"], 6);
    }
    drop((a, b));
    drop(database);
}

#[tokio::test]
async fn admins_check_now_and_bad_input_is_refused() {
    let provider = FakeProvider::start().await;
    let app = spawn_app_with(unchecked(&provider)).await;
    let admin = app.token(ADMIN).await;
    let ann = app.token(ANN).await;
    let order = place(&app, &ann, "pin-after:1", "p").await;
    let id = order["id"].as_i64().unwrap();
    assert_error(&app.post(&format!("/api/orders/{id}/check"), Some(&ann)).await, StatusCode::FORBIDDEN, "forbidden");
    // The owner may follow the order's own channel.
    let mut own = app.ws(&ann).await;
    own.subscribe(&[&format!("order:{id}")], None).await;
    let (status, checked) = app.post(&format!("/api/orders/{id}/check"), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{checked}");
    assert_eq!(checked["status"], "completed");
    assert_eq!(checked["check_attempts"], 1);
    assert_error(
        &app.post(&format!("/api/orders/{id}/check"), Some(&admin)).await,
        StatusCode::CONFLICT,
        "invalid_state",
    );
    assert_error(&app.post("/api/orders/98765/check", Some(&admin)).await, StatusCode::NOT_FOUND, "not_found");

    for (body, field) in [
        (json!({"package": "b", "user_identifier": "u"}), "product"),
        (json!({"product": " ", "package": "b", "user_identifier": "u"}), "product"),
        (json!({"product": "p", "package": "", "user_identifier": "u"}), "package"),
        (json!({"product": "p", "package": "b", "user_identifier": "x".repeat(201)}), "user_identifier"),
        (
            json!({"product": "p", "package": "b", "user_identifier": "u", "extra_field": "x".repeat(501)}),
            "extra_field",
        ),
        (json!({"product": 7, "package": "b", "user_identifier": "u"}), "product"),
    ] {
        let response = app.post_json("/api/orders", Some(&ann), &body).await;
        assert_error(&response, StatusCode::BAD_REQUEST, "validation_failed");
        assert!(response.1["error"]["message"].as_str().unwrap().contains(field), "{field}: {}", response.1);
    }
    assert_error(&app.get("/api/orders?status=lost", Some(&ann)).await, StatusCode::BAD_REQUEST, "validation_failed");
    assert_error(&app.get("/api/orders?limit=0", Some(&ann)).await, StatusCode::BAD_REQUEST, "validation_failed");
    assert_error(&app.get("/api/orders?before=x", Some(&ann)).await, StatusCode::BAD_REQUEST, "validation_failed");
    let (_, mine) = app.get("/api/orders", Some(&ann)).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 1, "bad input created nothing");

    let unconfigured = spawn_app().await;
    let token = unconfigured.token(ANN).await;
    let body = json!({"product": "p", "package": "b", "user_identifier": "u"});
    assert_error(
        &unconfigured.post_json("/api/orders", Some(&token), &body).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
    );
}
