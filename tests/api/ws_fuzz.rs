//! WebSocket frames fuzzed with generated input, and a slow consumer among fast
//! ones: the server answers every bad frame, never dies, and the other sessions
//! miss nothing.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use futures_util::{SinkExt, StreamExt, stream};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::SliceRandom};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;

/// What the server must answer to one generated frame.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// An `error` frame.
    Error,
    /// `{"type":"pong"}`.
    Pong,
    /// A WebSocket pong (the frame was a WebSocket ping).
    WsPong,
}

/// The error codes a bad frame may get.
const BAD_FRAME_CODES: [&str; 5] =
    ["invalid_message", "unknown_channel", "forbidden", "too_many_subscriptions", "rate_limited"];

/// A seed from `WS_FUZZ_SEED`, or a fresh one, printed so a failure can be replayed.
fn seeded_rng() -> StdRng {
    let seed = std::env::var("WS_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random::<u64>);
    eprintln!("WebSocket fuzz seed: {seed} (rerun with WS_FUZZ_SEED={seed})");
    StdRng::seed_from_u64(seed)
}

fn random_text(rng: &mut StdRng, max_len: usize) -> String {
    const PIECES: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        "\"",
        ":",
        ",",
        "type",
        "subscribe",
        "channels",
        "since",
        "tasks",
        "null",
        "true",
        "1e999",
        "-",
        "\\",
        "\\u0000",
        "é",
        "🦀",
        "\u{202e}",
        " ",
        "\n",
        "\0",
        "0",
        "ping",
    ];
    let len = rng.gen_range(0..max_len);
    (0..len)
        .map(|_| {
            if rng.gen_bool(0.5) { (*PIECES.choose(rng).unwrap()).to_owned() } else { rng.r#gen::<char>().to_string() }
        })
        .collect()
}

/// A JSON value of a random kind, never an array of strings.
fn wrong_value(rng: &mut StdRng) -> Value {
    match rng.gen_range(0..9) {
        0 => Value::Null,
        1 => json!(rng.r#gen::<bool>()),
        2 => json!(rng.r#gen::<i64>()),
        3 => json!(rng.r#gen::<f64>() * 1e300),
        4 => json!(random_text(rng, 20)),
        5 => json!({"tasks": true}),
        6 => json!([rng.r#gen::<i32>(), null]),
        7 => json!([["tasks"]]),
        _ => json!({}),
    }
}

/// A channel name that is not one: random letters, or a known family with a bad id.
fn bad_channel(rng: &mut StdRng) -> String {
    match rng.gen_range(0..4) {
        0 => (0..rng.gen_range(1..12)).map(|_| rng.gen_range('a'..='z')).collect::<String>() + "!",
        1 => format!("task:{}", random_text(rng, 6).replace(|c: char| c.is_ascii_digit(), "x") + "x"),
        2 => format!("job:-{}", rng.gen_range(1..1000)),
        _ => "task:0".into(),
    }
}

/// `[[[…]]]` or `{"a":{"a":…}}` nested `depth` deep, sometimes as a field of a message.
fn deeply_nested(rng: &mut StdRng) -> String {
    let depth = if rng.gen_bool(0.3) { 10_000 } else { rng.gen_range(129..10_000) };
    let nested = if rng.gen_bool(0.5) {
        "[".repeat(depth) + &"]".repeat(depth)
    } else {
        r#"{"a":"#.repeat(depth) + "1" + &"}".repeat(depth)
    };
    match rng.gen_range(0..3) {
        0 => nested,
        1 => format!(r#"{{"type":"subscribe","channels":{nested}}}"#),
        _ => format!(r#"{{"type":"subscribe","channels":["tasks"],"since":{nested}}}"#),
    }
}

/// One generated frame and the answer it must get.
fn generated_frame(rng: &mut StdRng) -> (Message, Expect) {
    let text = |s: String| Message::Text(s.into());
    match rng.gen_range(0..12) {
        0 => (text(random_text(rng, 300)), Expect::Error),
        1 => (text(deeply_nested(rng)), Expect::Error),
        2 => (text(json!({"type": "subscribe", "channels": wrong_value(rng)}).to_string()), Expect::Error),
        3 => {
            let mut since = wrong_value(rng);
            if since.is_null() || since.as_i64().is_some_and(|s| s >= 0) {
                since = json!("yesterday");
            }
            (text(json!({"type": "subscribe", "channels": ["tasks"], "since": since}).to_string()), Expect::Error)
        }
        4 => {
            let channels: Vec<String> = (0..rng.gen_range(1..5)).map(|_| bad_channel(rng)).collect();
            let kind = if rng.gen_bool(0.5) { "subscribe" } else { "unsubscribe" };
            (text(json!({"type": kind, "channels": channels}).to_string()), Expect::Error)
        }
        5 => {
            let kind = loop {
                let kind = random_text(rng, 12);
                if !["auth", "subscribe", "unsubscribe", "ping"].contains(&kind.as_str()) {
                    break kind;
                }
            };
            (text(json!({"type": kind, "channels": ["tasks"]}).to_string()), Expect::Error)
        }
        6 => (text(json!({"type": wrong_value(rng)}).to_string()), Expect::Error),
        7 => (text(json!({"type": "ping", "extra": wrong_value(rng)}).to_string()), Expect::Error),
        8 => {
            let mut bytes = vec![0u8; rng.gen_range(0..2000)];
            rng.fill(&mut bytes[..]);
            if rng.gen_bool(0.2) {
                bytes = br#"{"type":"ping"}"#.to_vec();
            }
            (Message::Binary(bytes.into()), Expect::Error)
        }
        9 => (text(json!({"type": "auth", "token": random_text(rng, 40)}).to_string()), Expect::Error),
        10 => (text(r#"{"type":"ping"}"#.into()), Expect::Pong),
        _ => (Message::Ping(vec![rng.r#gen::<u8>(); rng.gen_range(0..100)].into()), Expect::WsPong),
    }
}

/// Reads what the server sends until `expected` answers arrived, checking each in order.
async fn expect_answers(ws: &mut WsClient, expected: &[(Expect, String)]) {
    let texts: Vec<&(Expect, String)> = expected.iter().filter(|(e, _)| *e != Expect::WsPong).collect();
    let mut ws_pongs = expected.len() - texts.len();
    let mut next_text = 0;
    while next_text < texts.len() || ws_pongs > 0 {
        let message = tokio::time::timeout(WAIT, ws.stream.next())
            .await
            .expect("an answer in time")
            .expect("the connection is open")
            .expect("a frame");
        match message {
            Message::Pong(_) => ws_pongs = ws_pongs.checked_sub(1).expect("no more pongs than pings"),
            Message::Ping(_) => {}
            Message::Text(text) => {
                let (expect, sent) = texts[next_text];
                let reply: Value = serde_json::from_str(text.as_str()).expect("frames are JSON");
                match expect {
                    Expect::Pong => assert_eq!(reply, json!({"type": "pong"}), "answer to {sent}"),
                    _ => {
                        assert_eq!(reply["type"], "error", "answer to {sent}: {reply}");
                        let code = reply["code"].as_str().unwrap_or_default();
                        assert!(BAD_FRAME_CODES.contains(&code), "answer to {sent}: {reply}");
                        assert!(!reply["message"].as_str().unwrap_or_default().is_empty(), "{reply}");
                    }
                }
                next_text += 1;
            }
            other => panic!("unexpected {other:?} after {} answers", next_text),
        }
    }
}

fn describe(message: &Message) -> String {
    let text = match message {
        Message::Text(text) => text.to_string(),
        other => format!("{other:?}"),
    };
    text.chars().take(120).collect()
}

/// Creates tasks one after another until told to stop; returns their ids.
fn produce_tasks(app: &TestApp, token: &str, stop: Arc<AtomicBool>) -> JoinHandle<Vec<i64>> {
    let (http, url, token) = (app.http.clone(), app.url("/api/tasks"), token.to_owned());
    tokio::spawn(async move {
        let mut ids = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let body = json!({"title": format!("Meanwhile {}", ids.len()), "workflow": "vehicle_registration"});
            let response = http.post(&url).bearer_auth(&token).json(&body).send().await.unwrap();
            assert_eq!(response.status(), 201);
            ids.push(response.json::<Value>().await.unwrap()["id"].as_i64().unwrap());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        ids
    })
}

/// Reads `count` task events; asserts they carry `task_ids` in order, each once, with rising event ids.
async fn expect_task_events(ws: &mut WsClient, task_ids: &[i64]) {
    let mut last_event_id = 0;
    for task_id in task_ids {
        let event = ws.expect_event("task.created").await;
        assert_eq!(event["data"]["id"], *task_id, "every event once, in order: {event}");
        let id = event["id"].as_i64().unwrap();
        assert!(id > last_event_id, "event ids rise: {id} after {last_event_id}");
        last_event_id = id;
    }
}

#[tokio::test]
async fn fuzzed_frames_each_get_an_error_or_the_documented_close_and_others_keep_receiving() {
    let mut rng = seeded_rng();
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let ann = app.token(ANN).await;
    let mut observer = app.ws_subscribed(&admin, &["tasks"], None).await;
    let stop = Arc::new(AtomicBool::new(false));
    let producer = produce_tasks(&app, &ann, stop.clone());

    // Rounds of generated frames, sent back to back, then every answer checked in order.
    let mut fuzzed = app.ws(&ann).await;
    for _ in 0..12 {
        let frames: Vec<(Message, Expect)> = (0..50).map(|_| generated_frame(&mut rng)).collect();
        let expected: Vec<(Expect, String)> = frames.iter().map(|(m, e)| (*e, describe(m))).collect();
        let mut messages = stream::iter(frames.into_iter().map(|(message, _)| Ok(message)));
        fuzzed.stream.send_all(&mut messages).await.unwrap();
        expect_answers(&mut fuzzed, &expected).await;
    }

    // A ping storm: a thousand application and WebSocket pings as fast as they go.
    let storm: Vec<(Message, Expect)> = (0..1000)
        .map(|n| {
            if n % 2 == 0 {
                (Message::Text(r#"{"type":"ping"}"#.into()), Expect::Pong)
            } else {
                (Message::Ping(Default::default()), Expect::WsPong)
            }
        })
        .collect();
    let expected: Vec<(Expect, String)> = storm.iter().map(|(m, e)| (*e, describe(m))).collect();
    let mut messages = stream::iter(storm.into_iter().map(|(message, _)| Ok(message)));
    fuzzed.stream.send_all(&mut messages).await.unwrap();
    expect_answers(&mut fuzzed, &expected).await;

    // Frames over 64 KiB, text or binary, each close their session with 1009.
    for _ in 0..3 {
        let mut huge = app.ws(&ann).await;
        let size = rng.gen_range(64 * 1024 + 1..1024 * 1024);
        let message = if rng.gen_bool(0.5) {
            Message::Text(format!(r#"{{"type":"ping","x":"{}"}}"#, "x".repeat(size)).into())
        } else {
            Message::Binary(vec![b'{'; size].into())
        };
        // The server may close before the whole frame is written.
        let _ = huge.stream.send(message).await;
        assert_eq!(huge.expect_close().await, 1009);
    }

    // The fuzzed session still works, the server answers, the observer missed nothing.
    fuzzed.send_json(json!({"type": "ping"})).await;
    assert_eq!(fuzzed.next_json().await, json!({"type": "pong"}));
    let (health, _) = app.get("/health", None).await;
    assert_eq!(health, 200);
    stop.store(true, Ordering::Relaxed);
    let mut created = producer.await.unwrap();
    created.push(app.create_task(&ann, "Barrier").await["id"].as_i64().unwrap());
    assert!(created.len() > 2, "tasks were created while fuzzing");
    expect_task_events(&mut observer, &created).await;
    observer.expect_silence().await;
}

#[tokio::test]
async fn a_slow_consumer_is_closed_with_4408_while_the_others_miss_nothing() {
    let app = spawn_app_with(|c| {
        c.ws_queue_capacity = 32;
        c.socket_send_buffer = Some(4096);
    })
    .await;
    let admin = app.token(ADMIN).await;
    let ann = app.token(ANN).await;
    // Subscribed, then it stops reading.
    let mut slow = app.ws_subscribed(&admin, &["tasks"], None).await;
    let total = 200;
    let readers: Vec<JoinHandle<Vec<(i64, i64)>>> = {
        let mut readers = Vec::new();
        for token in [&admin, &admin, &ann] {
            let mut ws = app.ws_subscribed(token, &["tasks"], None).await;
            readers.push(tokio::spawn(async move {
                let mut seen = Vec::new();
                for _ in 0..total {
                    let event = ws.expect_event("task.created").await;
                    seen.push((event["id"].as_i64().unwrap(), event["data"]["id"].as_i64().unwrap()));
                }
                ws.expect_silence().await;
                seen
            }));
        }
        readers
    };
    // Events at full rate: four writers at once, each event about 2 KB, ten
    // times what the slow session's queue and socket buffers hold.
    let description = "x".repeat(2000);
    let created: Vec<i64> = stream::iter(0..total)
        .map(|n| {
            let body =
                json!({"title": format!("Flood {n}"), "description": description, "workflow": "vehicle_registration"});
            let app = &app;
            let ann = &ann;
            async move {
                let (status, task) = app.post_json("/api/tasks", Some(ann), &body).await;
                assert_eq!(status, 201, "{task}");
                task["id"].as_i64().unwrap()
            }
        })
        .buffer_unordered(4)
        .collect()
        .await;

    // The slow session was closed and forgotten: its queue is gone with it.
    assert_eq!(slow.expect_close().await, 4408);
    eventually("only the three readers remain", || app.state.hub.session_count() == 3).await;

    let mut created = created;
    created.sort_unstable();
    for reader in readers {
        let seen = reader.await.unwrap();
        assert!(seen.windows(2).all(|w| w[0].0 < w[1].0), "in event id order, none twice");
        let mut tasks: Vec<i64> = seen.iter().map(|(_, task)| *task).collect();
        tasks.sort_unstable();
        assert_eq!(tasks, created, "every event, exactly once");
    }
}
