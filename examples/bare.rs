//! The bare fan-out server: the yardstick taskwire's hub is measured against.
//!
//! It speaks the subset of the contract the load tool uses — `POST
//! /api/auth/login`, `GET /ready`, `GET /ws` with `ready` / `subscribe` →
//! `subscribed` / `ping` → `pong`, and `POST /api/tasks`, which fans a
//! `task.created` event out to every subscribed session — with no database, no
//! authentication and no channels. Its sockets are set up like taskwire's (the
//! same read and write buffers, `TCP_NODELAY`, a bounded queue of 1024 frames
//! per session, one writer task that writes a frame and whatever else is
//! queued in one go, one serialization per event), so the difference the load tool measures is what
//! taskwire's guarantees and bookkeeping cost. Its reader and writer share a
//! task joined with `tokio::select!`, the obvious way, which polls the reader on
//! every delivery too; taskwire polls only the side that was woken (`hub::first_of`).
//!
//! ```text
//! cargo build --release --example bare
//! TASKWIRE_BIND=127.0.0.1:8090 target/release/examples/bare
//! ```
//! The load tool starts it itself with `--compare` (see BENCHMARKS.md).

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicI64, AtomicU64, Ordering},
};

use axum::{
    Json, Router,
    extract::{
        State, WebSocketUpgrade,
        ws::{Message, Utf8Bytes, WebSocket},
    },
    http::StatusCode,
    response::IntoResponse,
    routing::{get, post},
    serve::ListenerExt,
};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::{net::TcpSocket, sync::mpsc};

/// Frames a session may have queued before it is dropped as too slow (taskwire's default).
const QUEUE_CAPACITY: usize = 1024;
/// Queued frames one write carries at most, in bytes (taskwire's figure with the kernel's send buffer).
const BATCH_BYTES: usize = 64 * 1024;

#[derive(Default)]
struct Bare {
    sessions: Mutex<Vec<(u64, mpsc::Sender<Utf8Bytes>)>>,
    next_session: AtomicU64,
    last_event: AtomicI64,
}

#[tokio::main]
async fn main() {
    let bind = std::env::var("TASKWIRE_BIND").unwrap_or_else(|_| "127.0.0.1:8090".into());
    let state = Arc::new(Bare::default());
    let app = Router::new()
        .route("/ready", get(|| async { "ok" }))
        .route("/api/auth/login", post(login))
        .route("/api/tasks", post(create_task))
        .route("/ws", get(upgrade))
        .with_state(state);
    // Bound like taskwire's listener: address reuse and an accept backlog of 1024
    // (tokio's `TcpListener::bind` would give 128, and a burst of connects would
    // then wait for SYN retransmits, a second each).
    let address: std::net::SocketAddr = bind.parse().expect("TASKWIRE_BIND is an address");
    let socket = if address.is_ipv4() { TcpSocket::new_v4() } else { TcpSocket::new_v6() }.expect("socket");
    socket.set_reuseaddr(true).expect("reuseaddr");
    socket.bind(address).expect("bind");
    let listener = socket.listen(1024).expect("listen");
    let listener = listener.tap_io(|socket| {
        let _ = socket.set_nodelay(true);
    });
    axum::serve(listener, app).await.expect("serve");
}

async fn login() -> Json<Value> {
    Json(json!({"access_token": "bare", "token_type": "Bearer", "expires_in": 900}))
}

/// Makes the event once and offers the same bytes to every session.
async fn create_task(State(state): State<Arc<Bare>>, Json(body): Json<Value>) -> impl IntoResponse {
    let id = state.last_event.fetch_add(1, Ordering::Relaxed) + 1;
    let task = json!({"id": id, "title": body["title"], "workflow": body["workflow"], "status": "pending_approval"});
    let frame: Utf8Bytes =
        json!({"type": "event", "id": id, "channel": "tasks", "event": "task.created", "data": task})
            .to_string()
            .into();
    let mut sessions = state.sessions.lock().unwrap();
    // A session whose queue is full is dropped, as taskwire closes it with 4408.
    sessions.retain(|(_, queue)| queue.try_send(frame.clone()).is_ok());
    (StatusCode::CREATED, Json(task))
}

async fn upgrade(State(state): State<Arc<Bare>>, upgrade: WebSocketUpgrade) -> impl IntoResponse {
    upgrade
        .max_message_size(64 * 1024)
        .max_frame_size(64 * 1024)
        .read_buffer_size(4 * 1024)
        .write_buffer_size(BATCH_BYTES)
        .max_write_buffer_size(256 * 1024)
        .on_upgrade(move |socket| session(socket, state))
}

async fn session(mut socket: WebSocket, state: Arc<Bare>) {
    let id = state.next_session.fetch_add(1, Ordering::Relaxed);
    let ready = json!({"type": "ready", "user": {"id": 1, "username": "admin", "role": "ADMIN"},
        "last_event_id": state.last_event.load(Ordering::Relaxed)});
    if socket.send(Message::Text(ready.to_string().into())).await.is_err() {
        return;
    }
    let (queue, mut queued) = mpsc::channel::<Utf8Bytes>(QUEUE_CAPACITY);
    let (mut sink, mut stream) = socket.split();
    // Like taskwire's writer: a frame and whatever else is queued (up to 64 KiB), in one write.
    let writer = async move {
        while let Some(first) = queued.recv().await {
            let mut bytes = first.len();
            if sink.feed(Message::Text(first)).await.is_err() {
                return;
            }
            while bytes < BATCH_BYTES {
                let Ok(next) = queued.try_recv() else { break };
                bytes += next.len();
                if sink.feed(Message::Text(next)).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
    };
    let reader = async {
        while let Some(Ok(message)) = stream.next().await {
            let Message::Text(text) = message else { continue };
            let Ok(message) = serde_json::from_str::<Value>(text.as_str()) else { continue };
            let reply = match message["type"].as_str() {
                Some("subscribe") => {
                    let reply = json!({"type": "subscribed", "channels": message["channels"]}).to_string();
                    // Subscribed from now on: later events are queued behind the acknowledgement.
                    let _ = queue.send(reply.into()).await;
                    state.sessions.lock().unwrap().push((id, queue.clone()));
                    continue;
                }
                Some("ping") => json!({"type": "pong"}),
                _ => json!({"type": "error", "code": "invalid_message", "message": "unknown message"}),
            };
            if queue.send(reply.to_string().into()).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        _ = writer => {}
        _ = reader => {}
    }
    state.sessions.lock().unwrap().retain(|(session, _)| *session != id);
}
