//! The WebSocket limits, each exceeded: subscriptions per session, rows a replay
//! reads, sessions per user and in total, and the subscribe rate.

use futures_util::future::join_all;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

use crate::helpers::*;

/// Connects with a bearer token and returns the first thing the server says:
/// `Ok(ready)` or `Err(close code)`.
async fn connect(app: &TestApp, token: &str) -> (Result<Value, u16>, WsClient) {
    let mut request = app.ws_url.as_str().into_client_request().unwrap();
    request.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    let mut client = WsClient::connect(request).await;
    let first = match client.next_message(WAIT).await {
        Some(Message::Text(text)) => Ok(serde_json::from_str(text.as_str()).unwrap()),
        Some(Message::Close(Some(frame))) => Err(u16::from(frame.code)),
        other => panic!("expected ready or a close frame, got {other:?}"),
    };
    (first, client)
}

/// Creates a job, whose `job.created` event serves as a barrier on `job:{id}`.
async fn create_job(app: &TestApp, admin: &str) -> Value {
    let body = json!({"kind": "export", "name": "Barrier", "scope": "shop:1", "items_total": 1});
    let (status, job) = app.post_json("/api/jobs", Some(admin), &body).await;
    assert_eq!(status, 201, "{job}");
    job
}

fn jobs(range: std::ops::RangeInclusive<i64>) -> Vec<String> {
    range.map(|id| format!("job:{id}")).collect()
}

#[tokio::test]
async fn a_subscribe_past_ws_max_subscriptions_is_refused_and_adds_nothing() {
    let app = spawn_app().await; // the default, 1000
    let admin = app.token(ADMIN).await;
    let ann = app.token(ANN).await;
    let mut ws = app.ws(&admin).await;
    ws.send_json(json!({"type": "subscribe", "channels": jobs(1..=999)})).await;
    assert_eq!(ws.next_json().await["type"], "subscribed");

    // Two more would make 1001: refused, and neither is added.
    ws.send_json(json!({"type": "subscribe", "channels": ["tasks", "job:1000"]})).await;
    let refused = ws.next_json().await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["code"], "too_many_subscriptions", "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("1000"), "{refused}");
    app.create_task(&ann, "Not for this session").await;

    // One more fits exactly, which it would not if `tasks` had been added; channels
    // already subscribed do not count twice.
    ws.subscribe(&["job:1000", "job:1"], None).await;
    ws.send_json(json!({"type": "subscribe", "channels": ["job:1001"]})).await;
    assert_eq!(ws.next_json().await["code"], "too_many_subscriptions");

    // The task event above never arrives: the next frame is the job's.
    let job = create_job(&app, &admin).await;
    let barrier = ws.expect_event("job.created").await;
    assert_eq!(barrier["channel"], format!("job:{}", job["id"]));
}

#[tokio::test]
async fn a_replay_reading_more_than_ws_replay_max_rows_is_refused_though_the_user_sees_none_of_them() {
    let app = spawn_app_with(|c| c.ws_replay_max_rows = 50).await;
    let ann = app.token(ANN).await;
    append_hidden_task_events(&app, 60).await;
    eventually("the hub dispatched the events", || app.state.hub.last_dispatched() == 60).await;
    let mut ws = app.ws(&ann).await;

    ws.send_json(json!({"type": "subscribe", "channels": ["tasks"], "since": 0})).await;
    let refused = ws.next_json().await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["code"], "invalid_message", "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("more than 50 events"), "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("reload"), "{refused}");
    assert_eq!(refused["reload"], true, "it tells the client to reload: {refused}");

    // Not subscribed; exactly 50 rows back is allowed, and live events follow.
    ws.subscribe(&["tasks"], Some(10)).await;
    let task = app.create_task(&ann, "Visible").await;
    let event = ws.expect_event("task.created").await;
    assert_eq!(event["data"]["id"], task["id"]);
    assert_eq!(event["id"], 61);
}

#[tokio::test]
async fn a_replay_larger_than_the_queue_streams_through_it_in_order_while_events_keep_coming() {
    // The queue holds every live event the writer below makes, so however its
    // writes interleave with the replay, the held-back ones never exceed it
    // (more would close the session with 4408, as documented).
    const DURING: i64 = 20;
    let app = spawn_app_with(|c| c.ws_queue_capacity = DURING as usize).await;
    let admin = app.token(ADMIN).await;
    let ann = app.token(ANN).await;
    let before = 5 * DURING;
    for n in 0..before {
        app.create_task(&ann, &format!("Before {n}")).await;
    }
    let writer = {
        let (http, url, ann) = (app.http.clone(), app.url("/api/tasks"), ann.clone());
        tokio::spawn(async move {
            for n in 0..DURING {
                let body = json!({"title": format!("During {n}"), "workflow": "vehicle_registration"});
                let response = http.post(&url).bearer_auth(&ann).json(&body).send().await.unwrap();
                assert_eq!(response.status(), 201);
            }
        })
    };
    // Five times the queue's capacity, replayed to a client that reads.
    let mut ws = app.ws_subscribed(&admin, &["tasks"], Some(0)).await;
    let mut ids = Vec::new();
    for _ in 0..before + DURING {
        ids.push(ws.expect_event("task.created").await["id"].as_i64().unwrap());
    }
    writer.await.unwrap();
    assert_eq!(ids, (1..=before + DURING).collect::<Vec<_>>(), "every event exactly once, in order");
    app.create_task(&ann, "Barrier").await;
    assert_eq!(ws.expect_event("task.created").await["id"], before + DURING + 1);
}

#[tokio::test]
async fn simultaneous_connects_past_ws_max_sessions_per_user_are_closed_with_4429() {
    let app = spawn_app_with(|c| c.ws_max_sessions_per_user = 5).await;
    let ann = app.token(ANN).await;
    let attempts = join_all((0..40).map(|_| connect(&app, &ann))).await;
    let admitted = attempts.iter().filter(|(first, _)| first.as_ref().is_ok_and(|f| f["type"] == "ready")).count();
    let refused = attempts.iter().filter(|(first, _)| *first == Err(4429)).count();
    assert_eq!((admitted, refused), (5, 35), "exactly the cap is admitted, the rest get 4429");
    assert_eq!(app.state.hub.session_count(), 5);

    // Another user is not affected, and a freed place can be taken again.
    let bob = app.token(BOB).await;
    let (bobs, _bob_ws) = connect(&app, &bob).await;
    assert!(bobs.is_ok());
    let mut sessions: Vec<WsClient> = attempts.into_iter().filter(|(f, _)| f.is_ok()).map(|(_, c)| c).collect();
    drop(sessions.pop());
    eventually("a session of ann's ended", || app.state.hub.session_count() == 5).await;
    let (again, _again_ws) = connect(&app, &ann).await;
    assert!(again.is_ok());
    assert_eq!(connect(&app, &ann).await.0, Err(4429));
}

#[tokio::test]
async fn simultaneous_connects_past_ws_max_sessions_are_closed_with_1013() {
    let app = spawn_app_with(|c| c.ws_max_sessions = 8).await;
    let tokens = [app.token(ADMIN).await, app.token(ANN).await, app.token(BOB).await];
    let attempts = join_all((0..30).map(|n| connect(&app, &tokens[n % 3]))).await;
    let admitted = attempts.iter().filter(|(first, _)| first.is_ok()).count();
    let refused = attempts.iter().filter(|(first, _)| *first == Err(1013)).count();
    assert_eq!((admitted, refused), (8, 22), "exactly the cap is admitted, the rest get 1013");
    assert_eq!(app.state.hub.session_count(), 8);
    let (health, _) = app.get("/health", None).await;
    assert_eq!(health, 200);
}

#[tokio::test]
async fn subscribe_messages_past_the_rate_get_rate_limited_and_subscribe_nothing() {
    // No refill: exactly the burst is allowed, which makes the count exact.
    let app = spawn_app_with(|c| {
        c.ws_subscribe_rate = 0;
        c.ws_subscribe_burst = 3;
    })
    .await;
    let admin = app.token(ADMIN).await;
    let ann = app.token(ANN).await;
    let mut ws = app.ws(&admin).await;
    // Sent back to back, without waiting for the replies.
    for channel in ["job:1", "job:2", "job:3", "tasks", "tasks", "tasks", "orders"] {
        ws.send_json(json!({"type": "subscribe", "channels": [channel]})).await;
    }
    let mut replies = Vec::new();
    for _ in 0..7 {
        let reply = ws.next_json().await;
        replies.push(if reply["type"] == "error" { reply["code"].clone() } else { reply["type"].clone() });
    }
    let expected =
        ["subscribed", "subscribed", "subscribed", "rate_limited", "rate_limited", "rate_limited", "rate_limited"];
    assert_eq!(replies, expected);
    // Other messages are not limited, and nothing was subscribed past the rate.
    ws.send_json(json!({"type": "ping"})).await;
    assert_eq!(ws.next_json().await["type"], "pong");
    app.create_task(&ann, "Not for this session").await;
    let job = create_job(&app, &admin).await;
    assert_eq!(job["id"], 1);
    assert_eq!(ws.expect_event("job.created").await["channel"], "job:1");
}
