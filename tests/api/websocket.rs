//! The WebSocket protocol: authentication, Origin, frames, subscriptions, replay, keepalive and back-pressure.

use std::time::Duration;

use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

use crate::{auth::expired_token, helpers::*};

async fn raw_connect(app: &TestApp, headers: &[(&'static str, String)]) -> WsClient {
    let mut request = app.ws_url.as_str().into_client_request().unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(*name, value.parse().unwrap());
    }
    WsClient::connect(request).await
}

#[tokio::test]
async fn three_ways_to_authenticate() {
    let app = spawn_app().await;
    let ann = app.token(ANN).await;

    let mut by_header = raw_connect(&app, &[("authorization", format!("Bearer {ann}"))]).await;
    let ready = by_header.next_json().await;
    assert_eq!(ready["type"], "ready");
    assert_eq!(ready["user"]["username"], "ann");
    assert_eq!(ready["user"]["role"], "ADMIN_LIMITED");
    assert!(ready["last_event_id"].is_i64());

    let mut by_cookie =
        raw_connect(&app, &[("cookie", format!("taskwire_access={ann}")), ("origin", app.address.clone())]).await;
    assert_eq!(by_cookie.next_json().await["type"], "ready");

    let mut by_message = raw_connect(&app, &[]).await;
    by_message.send_json(json!({"type": "auth", "token": ann})).await;
    assert_eq!(by_message.next_json().await["type"], "ready");
    by_message.send_json(json!({"type": "ping"})).await;
    assert_eq!(by_message.next_json().await, json!({"type": "pong"}));
    eventually("three sessions are registered", || app.state.hub.session_count() == 3).await;
}

#[tokio::test]
async fn bad_credentials_close_with_4401() {
    let app = spawn_app().await;
    let mut bad_header = raw_connect(&app, &[("authorization", "Bearer nonsense".into())]).await;
    assert_eq!(bad_header.expect_close().await, 4401);
    let mut expired = raw_connect(&app, &[("authorization", format!("Bearer {}", expired_token(1)))]).await;
    assert_eq!(expired.expect_close().await, 4401);
    let mut bad_message = raw_connect(&app, &[]).await;
    bad_message.send_json(json!({"type": "auth", "token": "nonsense"})).await;
    assert_eq!(bad_message.expect_close().await, 4401);
    let mut not_auth_first = raw_connect(&app, &[]).await;
    not_auth_first.send_json(json!({"type": "subscribe", "channels": ["tasks"]})).await;
    assert_eq!(not_auth_first.expect_close().await, 4401);
    assert_eq!(app.state.hub.session_count(), 0);
}

#[tokio::test]
async fn a_foreign_origin_is_closed_with_4403() {
    let app = spawn_app().await;
    let ann = app.token(ANN).await;
    let mut foreign =
        raw_connect(&app, &[("cookie", format!("taskwire_access={ann}")), ("origin", "http://evil.example".into())])
            .await;
    assert_eq!(foreign.expect_close().await, 4403);
    let mut configured = spawn_app_with(|c| c.allowed_origins = vec!["https://app.example".into()]).await;
    let token = configured.token(ANN).await;
    let mut allowed = raw_connect(
        &configured,
        &[("authorization", format!("Bearer {token}")), ("origin", "https://app.example".into())],
    )
    .await;
    assert_eq!(allowed.next_json().await["type"], "ready");
    configured.stop().await;
}

#[tokio::test]
async fn garbage_frames_get_error_replies_and_the_session_lives_on() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let ann = app.token(ANN).await;
    let mut ws = app.ws(&ann).await;
    let cases = [
        (Message::Text("not json".into()), "invalid_message"),
        (Message::Text(r#"{"type":"dance"}"#.into()), "invalid_message"),
        (Message::Text(r#"{"channels":["tasks"]}"#.into()), "invalid_message"),
        (Message::Text(r#"{"type":"subscribe","channels":"tasks"}"#.into()), "invalid_message"),
        (Message::Text(r#"{"type":"subscribe","channels":[]}"#.into()), "invalid_message"),
        (Message::Text(r#"{"type":"subscribe","channels":["tasks"],"since":-5}"#.into()), "invalid_message"),
        (Message::Text(r#"{"type":"subscribe","channels":["weather"]}"#.into()), "unknown_channel"),
        (Message::Text(r#"{"type":"subscribe","channels":["task:abc"]}"#.into()), "unknown_channel"),
        (Message::Text(r#"{"type":"subscribe","channels":["jobs"]}"#.into()), "forbidden"),
        (Message::Text(r#"{"type":"subscribe","channels":["task:999999"]}"#.into()), "forbidden"),
        (Message::Binary(vec![0, 159, 146, 150].into()), "invalid_message"),
        (Message::Text(r#"{"type":"auth","token":"again"}"#.into()), "invalid_message"),
    ];
    for (message, code) in cases {
        let description = format!("{message:?}");
        ws.stream.send(message).await.unwrap();
        let reply = ws.next_json().await;
        assert_eq!(reply["type"], "error", "{description}: {reply}");
        assert_eq!(reply["code"], code, "{description}: {reply}");
        assert!(!reply["message"].as_str().unwrap().is_empty());
    }
    // Still open and working.
    ws.subscribe(&["tasks"], None).await;
    app.create_task(&ann, "After the garbage").await;
    ws.expect_event("task.created").await;
    // An admin may subscribe to the jobs channel.
    let mut admin_ws = app.ws(&admin).await;
    admin_ws.subscribe(&["jobs", "tasks"], None).await;
}

#[tokio::test]
async fn an_oversized_frame_closes_with_1009() {
    let app = spawn_app().await;
    let ann = app.token(ANN).await;
    let mut ws = app.ws(&ann).await;
    let big = format!(r#"{{"type":"subscribe","channels":["{}"]}}"#, "x".repeat(70 * 1024));
    ws.stream.send(Message::Text(big.into())).await.unwrap();
    assert_eq!(ws.expect_close().await, 1009);
    eventually("the session is gone", || app.state.hub.session_count() == 0).await;
}

#[tokio::test]
async fn another_users_tasks_never_reach_a_limited_session() {
    let app = spawn_app().await;
    let ann = app.token(ANN).await;
    let bob = app.token(BOB).await;
    let mut bob_ws = app.ws_subscribed(&bob, &["tasks"], None).await;
    let task = app.create_task(&ann, "Ann's secret").await;
    bob_ws.expect_silence().await;
    // Nor by replay, nor by asking for the task's own channel.
    let mut replay = app.ws_subscribed(&bob, &["tasks"], Some(0)).await;
    replay.expect_silence().await;
    replay.send_json(json!({"type": "subscribe", "channels": [format!("task:{}", task["id"])]})).await;
    let refused = replay.next_json().await;
    assert_eq!(refused["code"], "forbidden");
}

#[tokio::test]
async fn resume_with_since_misses_nothing_and_repeats_nothing() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let ann = app.token(ANN).await;
    let mut ws = app.ws_subscribed(&admin, &["tasks"], None).await;
    let first = app.create_task(&ann, "Before the disconnect").await;
    let seen = ws.expect_event("task.created").await["id"].as_i64().unwrap();
    drop(ws);

    // While the admin is away: an approval and two new tasks.
    app.approve(&admin, first["id"].as_i64().unwrap()).await;
    app.create_task(&ann, "While away 1").await;
    app.create_task(&ann, "While away 2").await;

    let mut back = app.ws_subscribed(&admin, &["tasks"], Some(seen)).await;
    let mut ids = Vec::new();
    let mut kinds = Vec::new();
    for _ in 0..3 {
        let event = back.next_json().await;
        ids.push(event["id"].as_i64().unwrap());
        kinds.push(event["event"].as_str().unwrap().to_owned());
    }
    assert_eq!(kinds, ["task.approved", "task.created", "task.created"]);
    assert_eq!(ids, [seen + 1, seen + 2, seen + 3], "no gap, no duplicate, in order");
    // And live events follow the replay.
    app.create_task(&ann, "Live again").await;
    assert_eq!(back.expect_event("task.created").await["id"].as_i64().unwrap(), seen + 4);
    back.expect_silence().await;
}

#[tokio::test]
async fn replay_and_live_hand_over_without_gap_while_events_keep_coming() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let ann = app.token(ANN).await;
    for n in 0..20 {
        app.create_task(&ann, &format!("Before {n}")).await;
    }
    // Keep committing tasks while clients subscribe with since=0.
    let writer = {
        let http = app.http.clone();
        let url = app.url("/api/tasks");
        let ann = ann.clone();
        tokio::spawn(async move {
            for n in 0..40 {
                let response = http
                    .post(&url)
                    .bearer_auth(&ann)
                    .json(&json!({"title": format!("During {n}"), "workflow": "vehicle_registration"}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 201);
            }
        })
    };
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(app.ws_subscribed(&admin, &["tasks"], Some(0)).await);
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    writer.await.unwrap();
    for mut client in clients {
        let ids: Vec<i64> = {
            let mut ids = Vec::new();
            for _ in 0..60 {
                ids.push(client.expect_event("task.created").await["id"].as_i64().unwrap());
            }
            ids
        };
        assert_eq!(ids, (1..=60).collect::<Vec<_>>(), "every event exactly once, in order");
        client.expect_silence().await;
    }
}

#[tokio::test]
async fn a_client_that_falls_behind_is_closed_with_4408_and_resumes() {
    let app = spawn_app_with(|c| {
        c.ws_queue_capacity = 4;
        c.socket_send_buffer = Some(4096);
    })
    .await;
    let admin = app.token(ADMIN).await;
    let ann = app.token(ANN).await;
    let mut slow = app.ws_subscribed(&admin, &["tasks"], None).await;
    // The slow client reads nothing while many events are produced: 150 events of
    // about 2.3 KB, more than twice what its socket buffers and queue can hold.
    // (Stopping as soon as the hub drops it would race with the writer's timeout:
    // a peer that reads nothing cannot receive its close frame either.)
    let produced = 150;
    for n in 0..produced {
        app.post_json("/api/tasks", Some(&ann), &json!({"title": format!("Flood {n}"), "description": "x".repeat(2000), "workflow": "vehicle_registration"})).await;
    }
    assert_eq!(slow.expect_close().await, 4408);
    eventually("the slow session was dropped", || app.state.hub.session_count() == 0).await;
    // It reconnects with since and gets everything: each event once, in order,
    // and nothing more (the next one is a barrier created after).
    let mut back = app.ws_subscribed(&admin, &["tasks"], Some(0)).await;
    let count = produced;
    for id in 1..=count {
        assert_eq!(back.expect_event("task.created").await["id"], id);
    }
    app.create_task(&ann, "Barrier").await;
    assert_eq!(back.expect_event("task.created").await["id"], count + 1);
}

#[tokio::test]
async fn a_silent_peer_is_dropped_by_the_keepalive() {
    let app = spawn_app_with(|c| c.ws_ping_interval = Duration::from_millis(100)).await;
    let ann = app.token(ANN).await;
    // This client answers pings only while it reads: it reads for a while, then goes silent.
    let mut ws = app.ws(&ann).await;
    assert!(ws.next_message(Duration::from_millis(500)).await.is_none());
    assert_eq!(app.state.hub.session_count(), 1, "a peer answering pings stays");
    eventually("the silent peer is dropped", || app.state.hub.session_count() == 0).await;
    drop(ws);
}

#[tokio::test]
async fn shutdown_closes_sessions_with_1001() {
    let mut app = spawn_app().await;
    let ann = app.token(ANN).await;
    let mut ws = app.ws(&ann).await;
    let stopping = tokio::spawn(async move {
        app.stop().await;
        app
    });
    assert_eq!(ws.expect_close().await, 1001);
    let _app = stopping.await.unwrap();
}

#[tokio::test]
async fn unsubscribe_stops_delivery() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let ann = app.token(ANN).await;
    let mut ws = app.ws_subscribed(&admin, &["tasks"], None).await;
    ws.send_json(json!({"type": "unsubscribe", "channels": ["tasks"]})).await;
    assert_eq!(ws.next_json().await["type"], "unsubscribed");
    app.create_task(&ann, "Unseen").await;
    ws.expect_silence().await;
}

#[tokio::test]
async fn a_client_that_never_authenticates_is_closed_with_4401() {
    let app = spawn_app_with(|c| c.ws_auth_timeout = Duration::from_millis(200)).await;
    let mut silent = raw_connect(&app, &[]).await;
    assert_eq!(silent.expect_close().await, 4401);
    assert_eq!(app.state.hub.session_count(), 0);
}

#[tokio::test]
async fn unsubscribing_from_an_unknown_channel_is_an_error_frame() {
    let app = spawn_app().await;
    let ann = app.token(ANN).await;
    let mut ws = app.ws(&ann).await;
    ws.send_json(json!({"type": "unsubscribe", "channels": ["weather"]})).await;
    assert_eq!(ws.next_json().await["code"], "unknown_channel");
    ws.send_json(json!({"type": "ping"})).await;
    assert_eq!(ws.next_json().await["type"], "pong", "the session lives on");
}

#[tokio::test]
async fn a_replay_of_more_than_10000_events_is_refused_and_the_session_goes_on() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    append_hidden_task_events(&app, 10_001).await;
    // Written without the bus: the hub's outbox catch-up dispatches them.
    eventually("the hub dispatched the events", || app.state.hub.last_dispatched() == 10_001).await;
    let mut ws = app.ws(&admin).await;
    ws.send_json(json!({"type": "subscribe", "channels": ["tasks"], "since": 0})).await;
    let refused = ws.next_json().await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("reload"), "{refused}");
    // Not subscribed: a retry from a recent id works.
    ws.subscribe(&["tasks"], Some(10_000)).await;
    assert_eq!(ws.expect_event("task.created").await["id"], 10_001);
}

#[tokio::test]
async fn a_since_older_than_the_retained_history_gets_reset_and_live_events_follow() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    app.create_task(&admin, "pruned one").await;
    app.create_task(&admin, "pruned two").await;
    let mut watcher = app.ws_subscribed(&admin, &["tasks"], None).await;
    // Everything so far is older than a zero retention.
    let deleted = taskwire::events::retention::prune(&app.state.db, Duration::ZERO).await.unwrap();
    assert_eq!(deleted, 2, "both task.created events are pruned");
    let horizon = taskwire::events::retention::pruned_through(&app.state.db).await.unwrap();
    assert!(horizon >= 2, "the horizon moved to the newest pruned event: {horizon}");

    // A client that last saw the first task's event asks for what came after it.
    let mut returning = app.ws(&admin).await;
    returning.send_json(json!({"type": "subscribe", "channels": ["tasks"], "since": horizon - 1})).await;
    assert_eq!(returning.next_json().await["type"], "subscribed");
    let reset = returning.next_json().await;
    assert_eq!(reset["type"], "reset", "{reset}");
    assert_eq!(reset["channels"], json!(["tasks"]));
    assert_eq!(reset["pruned_through"], horizon);
    assert_eq!(reset["last_event_id"], horizon, "nothing newer exists yet");
    assert!(reset["message"].as_str().unwrap().contains("reload"), "{reset}");

    // It is subscribed: the next change arrives live, and nothing of the pruned history does.
    let third = app.create_task(&admin, "after the prune").await;
    let live = returning.expect_event("task.created").await;
    assert_eq!(live["data"]["id"], third["id"]);
    assert!(live["id"].as_i64().unwrap() > horizon);
    assert_eq!(watcher.expect_event("task.created").await["data"]["id"], third["id"]);

    // A `since` at the horizon misses nothing: a plain replay, no reset.
    let mut recent = app.ws(&admin).await;
    recent.subscribe(&["tasks"], Some(horizon)).await;
    assert_eq!(recent.expect_event("task.created").await["data"]["id"], third["id"]);
    recent.expect_silence().await;

    // A longer retention prunes nothing and keeps the horizon.
    let deleted = taskwire::events::retention::prune(&app.state.db, Duration::from_secs(3600)).await.unwrap();
    assert_eq!(deleted, 0);
    assert_eq!(taskwire::events::retention::pruned_through(&app.state.db).await.unwrap(), horizon);

    // The horizon only moves forward: recorded further on (as by an instance that pruned
    // more), a prune that deletes up to a lower event leaves it where it was.
    use sea_orm::ConnectionTrait;
    let live_id = live["id"].as_i64().unwrap();
    let further = live_id + 1000;
    let moved = app
        .state
        .db
        .execute_unprepared(&format!("UPDATE event_horizon SET pruned_through = {further} WHERE id = 1"))
        .await
        .unwrap();
    assert_eq!(moved.rows_affected(), 1, "the horizon row exists");
    let deleted = taskwire::events::retention::prune(&app.state.db, Duration::ZERO).await.unwrap();
    assert!(deleted >= 1, "the third task's event (id {live_id}, below {further}) is pruned: {deleted}");
    assert_eq!(
        taskwire::events::retention::pruned_through(&app.state.db).await.unwrap(),
        further,
        "a prune through event {live_id} does not move the horizon back from {further}"
    );
}

#[tokio::test]
async fn an_unreadable_history_answers_a_since_with_unavailable_and_the_session_goes_on() {
    use sea_orm::ConnectionTrait;
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let first = app.create_task(&admin, "before the outage").await;
    let mut ws = app.ws(&admin).await;
    // The replay reads the pruning horizon after its first page: without its table that read fails.
    app.state.db.execute_unprepared("DROP TABLE event_horizon").await.unwrap();
    assert!(taskwire::events::retention::pruned_through(&app.state.db).await.is_err(), "the horizon is unreadable");

    ws.send_json(json!({"type": "subscribe", "channels": ["tasks"], "since": 0})).await;
    let refused = ws.next_json().await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["code"], "unavailable", "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("cannot be read"), "{refused}");
    assert!(refused.get("reload").is_none(), "a retry later may replay: {refused}");

    // Nothing was subscribed or replayed; a subscribe without `since` works and live events follow.
    ws.subscribe(&["tasks"], None).await;
    let second = app.create_task(&admin, "after the outage").await;
    let live = ws.expect_event("task.created").await;
    assert_eq!(live["data"]["id"], second["id"], "the live event, not a replay of {first}: {live}");
    ws.expect_silence().await;
}

#[tokio::test]
async fn a_write_is_answered_after_this_instances_hub_dispatched_its_events() {
    // So a client that gets the answer and then subscribes (without `since`)
    // never gets the write's own event live: it is already behind `ready`.
    let app = spawn_app().await;
    let (admin, ann) = (app.token(ADMIN).await, app.token(ANN).await);
    let newest = || async { taskwire::events::outbox::max_id(&app.state.db).await.unwrap() };
    for n in 0..20 {
        // Through the group commit…
        let task = app.create_task(&ann, &format!("ordered {n}")).await;
        assert!(app.state.hub.last_dispatched() >= newest().await, "create {n} answered before its dispatch");
        // …and through a single transaction.
        app.approve(&admin, task["id"].as_i64().unwrap()).await;
        assert!(app.state.hub.last_dispatched() >= newest().await, "approval {n} answered before its dispatch");
    }
    let mut late = app.ws_subscribed(&admin, &["tasks"], None).await;
    late.expect_silence().await;
}

#[tokio::test]
async fn with_no_session_threads_sessions_run_beside_the_requests_and_close_at_shutdown() {
    let mut app = spawn_app_with(|c| c.ws_threads = 0).await;
    let (admin, ann) = (app.token(ADMIN).await, app.token(ANN).await);
    let mut watching = app.ws_subscribed(&admin, &["tasks"], None).await;
    let task = app.create_task(&ann, "Seen without session threads").await;
    let event = watching.expect_event("task.created").await;
    assert_eq!(event["data"]["id"], task["id"]);
    app.stop().await;
    assert_eq!(watching.expect_close().await, 1001, "shutdown closes the session");
}
