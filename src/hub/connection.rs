//! One WebSocket connection: authentication, then a reader and a writer raced in one task.

use std::{
    pin::pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    task::Poll,
    time::{Duration, Instant},
};

use axum::{
    extract::{
        State, WebSocketUpgrade,
        ws::rejection::WebSocketUpgradeRejection,
        ws::{CloseFrame, Message, Utf8Bytes, WebSocket},
    },
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
};
use futures_util::{
    SinkExt, StreamExt,
    stream::{SplitSink, SplitStream},
};
use tokio::sync::mpsc;
use tracing::debug;

use super::{
    HubSettings, HubState,
    first_of::first_of,
    protocol::{self, ClientMessage},
    rate::TokenBucket,
    replay::{Replay, Resume},
    session::{Outbound, SessionHandle},
};
use crate::{
    auth::{
        CurrentUser,
        current_user::{authenticate, request_token},
        origin::origin_allowed,
    },
    error::AppError,
    events::Channel,
};

/// Largest frame or message a client may send.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// A write that takes longer than this means a dead or stuck peer.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// `GET /ws`: checks the Origin and upgrades; authentication happens on the socket
/// so that browsers, which cannot read an HTTP status here, see a close code.
pub async fn ws_handler(
    State(state): State<HubState>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => {
            let message = format!("this is the WebSocket endpoint: {}", rejection.body_text());
            return AppError::Protocol { status: rejection.status(), message }.into_response();
        }
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_ok = match headers.get(header::ORIGIN).map(|v| v.to_str()) {
        None => true,
        Some(Ok(origin)) => origin_allowed(origin, host, &state.hub.settings().allowed_origins),
        Some(Err(_)) => false,
    };
    let token = request_token(&headers).map(|(token, _)| token.to_owned());
    upgrade
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .read_buffer_size(4 * 1024)
        // Frames wait in the write buffer until the writer flushes its batch.
        .write_buffer_size(state.hub.settings().write_batch_bytes)
        .max_write_buffer_size(256 * 1024)
        .on_upgrade(move |socket| {
            let hub = state.hub.clone();
            hub.spawn_connection(run_connection(socket, state, origin_ok, token));
            std::future::ready(())
        })
}

async fn run_connection(socket: WebSocket, state: HubState, origin_ok: bool, token: Option<String>) {
    // Admission is boxed: a connection's task keeps the size of its largest step
    // for as long as it lives, so only the session's loops stay inline (an idle
    // session costs its task, its queue and its buffers, nothing more).
    let Some((socket, session, queue_rx)) = Box::pin(admit(socket, &state, origin_ok, token)).await else {
        return;
    };
    let hub = &state.hub;
    let (sink, stream) = socket.split();
    let last_heard = AtomicU64::new(0);
    let started = Instant::now();
    let writer = pin!(write_loop(sink, queue_rx, &session, hub.settings(), &last_heard, started));
    let reader = pin!(read_loop(stream, &state, &session, &last_heard, started));
    // Not `select!`: an event for the writer must not poll the reader (see `first_of`).
    first_of(writer, reader).await;
    hub.remove_session(&session, session.channels());
    debug!(session = session.id, "session ended");
}

/// Checks the origin, authenticates, admits the session and sends `ready`; `None`
/// when the connection was refused (with its close code) or went away.
async fn admit(
    mut socket: WebSocket,
    state: &HubState,
    origin_ok: bool,
    token: Option<String>,
) -> Option<(WebSocket, Arc<SessionHandle>, mpsc::Receiver<Outbound>)> {
    let refused = if !origin_ok {
        Some((4403, "origin not allowed"))
    } else if state.hub.shutdown_token().is_cancelled() {
        Some((1001, "server shutting down"))
    } else {
        None
    };
    if let Some((code, reason)) = refused {
        close(&mut socket, code, reason).await;
        return None;
    }
    let user = match token {
        Some(token) => authenticate(&state.users, &state.keys, &token).await,
        None => await_auth_message(&mut socket, state).await,
    };
    let user = match user {
        Ok(user) => user,
        Err(error) => {
            let reason = if matches!(error, AppError::TokenExpired) { "token expired" } else { "unauthenticated" };
            close(&mut socket, 4401, reason).await;
            return None;
        }
    };
    let hub = &state.hub;
    let capacity = hub.settings().queue_capacity;
    let (queue, queue_rx) = mpsc::channel(capacity);
    let session = Arc::new(SessionHandle::new(hub.next_session_id(), user, queue, capacity));
    if let Err((code, reason)) = hub.add_session(session.clone()) {
        debug!(user = session.user.id, code, "session refused");
        close(&mut socket, code, reason).await;
        return None;
    }
    let ready = protocol::ready(&session.user, hub.last_dispatched());
    if socket.send(Message::Text(ready)).await.is_err() {
        hub.remove_session(&session, session.channels());
        return None;
    }
    Some((socket, session, queue_rx))
}

/// Waits for `{"type":"auth","token":…}` as the first message.
async fn await_auth_message(socket: &mut WebSocket, state: &HubState) -> Result<CurrentUser, AppError> {
    let unauthenticated = || AppError::Unauthenticated("send an auth message first".into());
    let first =
        tokio::time::timeout(state.hub.settings().auth_timeout, socket.recv()).await.map_err(|_| unauthenticated())?;
    match first {
        Some(Ok(Message::Text(text))) => match serde_json::from_str::<ClientMessage>(text.as_str()) {
            Ok(ClientMessage::Auth { token }) => authenticate(&state.users, &state.keys, &token).await,
            _ => Err(unauthenticated()),
        },
        _ => Err(unauthenticated()),
    }
}

async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame { code, reason: Utf8Bytes::from_static(reason) };
    let _ = tokio::time::timeout(WRITE_TIMEOUT, socket.send(Message::Close(Some(frame)))).await;
}

/// Drains the session's queue into the socket, pings on schedule, drops a silent
/// peer, and sends the close frame that anyone asked for.
async fn write_loop(
    mut sink: SplitSink<WebSocket, Message>,
    mut queue: mpsc::Receiver<Outbound>,
    session: &SessionHandle,
    settings: &HubSettings,
    last_heard: &AtomicU64,
    started: Instant,
) {
    let (ping_every, batch_bytes) = (settings.ping_interval, settings.write_batch_bytes);
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
    // Made once and polled in place: a frame's write costs no new waiter
    // registration. Shutdown arrives here too, as a close request with 1001.
    let close = session.close_requested();
    tokio::pin!(close);
    let (code, reason) = loop {
        tokio::select! {
            biased;
            request = &mut close => break request,
            item = queue.recv() => {
                let Some(Outbound::Frame(frame) | Outbound::Event(frame)) = item else { return };
                // A peer that stopped reading blocks this send; a close request
                // (4408 above all) must not wait for it to time out.
                tokio::select! {
                    biased;
                    sent = in_time(send_queued(&mut sink, &mut queue, frame, batch_bytes)) => if !sent { return },
                    request = &mut close => break request,
                }
            }
            _ = ping.tick() => {
                let silent_for = started.elapsed().saturating_sub(Duration::from_millis(last_heard.load(Ordering::Relaxed)));
                if silent_for > ping_every * 2 {
                    debug!(session = session.id, "peer silent for two ping intervals; dropping it");
                    return;
                }
                if !send(&mut sink, Message::Ping(Default::default())).await {
                    return;
                }
            }
        }
    };
    let frame = CloseFrame { code, reason: Utf8Bytes::from_static(reason) };
    let _ = send(&mut sink, Message::Close(Some(frame))).await;
}

/// Sends one message; `false` when the peer is gone or has not taken it within `WRITE_TIMEOUT`.
async fn send(sink: &mut SplitSink<WebSocket, Message>, message: Message) -> bool {
    in_time(sink.send(message)).await
}

/// Sends `first` and whatever else is queued already, up to `batch_bytes`, in one
/// write (see [`super::write_batch_bytes`]): the socket's write buffer holds them
/// until the flush.
async fn send_queued(
    sink: &mut SplitSink<WebSocket, Message>,
    queue: &mut mpsc::Receiver<Outbound>,
    first: Utf8Bytes,
    batch_bytes: usize,
) -> Result<(), axum::Error> {
    let mut bytes = first.len();
    sink.feed(Message::Text(first)).await?;
    while bytes < batch_bytes {
        let Ok(Outbound::Frame(next) | Outbound::Event(next)) = queue.try_recv() else { break };
        bytes += next.len();
        sink.feed(Message::Text(next)).await?;
    }
    sink.flush().await
}

/// `false` when the write failed or the peer has not taken it within `WRITE_TIMEOUT`.
async fn in_time(write: impl Future<Output = Result<(), axum::Error>>) -> bool {
    let mut write = std::pin::pin!(write);
    // Almost every write completes at once (there is room in the socket buffer):
    // those need no timer, which would cost a timer-wheel insert and removal each.
    if let Poll::Ready(result) = futures_util::poll!(write.as_mut()) {
        return result.is_ok();
    }
    matches!(tokio::time::timeout(WRITE_TIMEOUT, write).await, Ok(Ok(())))
}

/// Handles client messages until the peer leaves or a close is requested.
async fn read_loop(
    mut stream: SplitStream<WebSocket>,
    state: &HubState,
    session: &Arc<SessionHandle>,
    last_heard: &AtomicU64,
    started: Instant,
) {
    let settings = state.hub.settings();
    let mut subscribes = TokenBucket::new(settings.subscribe_rate, settings.subscribe_burst, Instant::now());
    while let Some(message) = stream.next().await {
        last_heard.store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
        match message {
            Ok(Message::Text(text)) => Box::pin(handle_text(state, session, &mut subscribes, text.as_str())).await,
            Ok(Message::Binary(_)) => {
                session.send_frame(protocol::error("invalid_message", "frames must be JSON text")).await
            }
            Ok(Message::Ping(_) | Message::Pong(_)) => {}
            Ok(Message::Close(_)) => return,
            Err(err) => {
                if is_too_large(&err) {
                    session.request_close(1009, "frame too large (limit 64 KiB)");
                    // The writer sends the close frame and ends the session.
                    std::future::pending::<()>().await;
                }
                return;
            }
        }
    }
}

fn is_too_large(err: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(current) = source {
        if let Some(tungstenite::Error::Capacity(_)) = current.downcast_ref::<tungstenite::Error>() {
            return true;
        }
        source = current.source();
    }
    false
}

async fn handle_text(state: &HubState, session: &Arc<SessionHandle>, subscribes: &mut TokenBucket, text: &str) {
    let reply = match serde_json::from_str::<ClientMessage>(text) {
        Err(err) => Some(protocol::error("invalid_message", &format!("not a valid message: {err}"))),
        Ok(ClientMessage::Ping {}) => Some(protocol::pong()),
        Ok(ClientMessage::Auth { .. }) => {
            Some(protocol::error("invalid_message", "this session is already authenticated"))
        }
        Ok(ClientMessage::Subscribe { .. }) if !subscribes.try_take(Instant::now()) => Some(protocol::error(
            "rate_limited",
            &format!(
                "more than {} subscribe messages a second; nothing was subscribed, wait and send it again",
                state.hub.settings().subscribe_rate
            ),
        )),
        Ok(ClientMessage::Subscribe { channels, since }) => subscribe(state, session, &channels, since).await.err(),
        Ok(ClientMessage::Unsubscribe { channels }) => match parse_channels(&channels) {
            Ok(parsed) => {
                let removed = session.remove_channels(&parsed);
                state.hub.unsubscribe(session.id, removed);
                Some(protocol::unsubscribed(&channels))
            }
            Err(reply) => Some(reply),
        },
    };
    if let Some(reply) = reply {
        session.send_frame(reply).await;
    }
}

/// Subscribes, then queues the acknowledgement, the replay after `since` and the
/// live events that arrived meanwhile, in id order, each waiting for room in the
/// session's queue. `Err` carries an error frame; nothing was subscribed then.
async fn subscribe(
    state: &HubState,
    session: &Arc<SessionHandle>,
    names: &[String],
    since: Option<i64>,
) -> Result<(), Utf8Bytes> {
    let requested = parse_channels(names)?;
    if since.is_some_and(|s| s < 0) {
        return Err(protocol::error("invalid_message", "since: must be a non-negative event id"));
    }
    // Only this session's reader changes its channels, so the count cannot change before `add_channels`.
    let max_subscriptions = state.hub.settings().max_subscriptions;
    if session.channel_count_with(&requested) > max_subscriptions {
        return Err(protocol::error(
            "too_many_subscriptions",
            &format!("a session may subscribe to at most {max_subscriptions} channels; nothing was subscribed"),
        ));
    }
    for channel in &requested {
        state.hub.authorize(&session.user, *channel).await.map_err(|message| protocol::error("forbidden", &message))?;
    }
    let before = session.channels();
    let added = session.add_channels(&requested);
    let up_to = state.hub.subscribe(session, &added);
    let replay = match since {
        Some(since) if !added.is_empty() => match Replay::start(state, since, up_to, &added).await {
            Ok(Resume::Replay(replay)) => Some(replay),
            Ok(Resume::Reset { pruned_through }) => {
                // Subscribed from `up_to` on: a snapshot loaded now plus the live events is complete.
                session.send_frame(protocol::subscribed(names)).await;
                session.send_frame(protocol::reset(names, up_to, pruned_through)).await;
                session.resume_live_events().await;
                return Ok(());
            }
            Err(reply) => {
                // Nothing was replayed: undo the subscription so a retry starts clean.
                state.hub.unsubscribe(session.id, session.remove_channels(&added));
                session.send_frame(reply).await;
                session.resume_live_events().await;
                return Ok(());
            }
        },
        _ => None,
    };
    session.send_frame(protocol::subscribed(names)).await;
    if let Some(replay) = replay
        && replay.stream(state, session, &added, &before).await.is_err()
    {
        // Part of the replay is out: the client resumes from the last id it received.
        session.request_close(1011, "the event history cannot be read right now; reconnect and resume with since");
        return Ok(());
    }
    session.resume_live_events().await;
    Ok(())
}

fn parse_channels(names: &[String]) -> Result<Vec<Channel>, Utf8Bytes> {
    if names.is_empty() {
        return Err(protocol::error("invalid_message", "channels: must not be empty"));
    }
    names
        .iter()
        .map(|name| {
            Channel::parse(name).ok_or_else(|| protocol::error("unknown_channel", &format!("unknown channel {name:?}")))
        })
        .collect()
}
