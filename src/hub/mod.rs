//! The WebSocket hub: connected sessions, their subscriptions, and fan-out.
//!
//! "Who is connected" (`users`, indexed by user) is kept apart from "who
//! subscribes to what" (`subscriptions`). One dispatcher task receives committed events from the
//! bus, restores id order by filling gaps from the outbox, and offers each
//! event — serialized once — to the sessions entitled to it.

mod connection;
mod dispatcher;
mod first_of;
mod policy;
mod protocol;
mod rate;
mod replay;
mod session;
mod session_threads;

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
};

use dashmap::DashMap;
use sea_orm::DatabaseConnection;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

pub use connection::ws_handler;
pub use dispatcher::run_dispatcher;
pub use policy::ChannelPolicy;
pub use session::{Outbound, SessionHandle};
pub use session_threads::SessionThreads;

use crate::{
    auth::{CurrentUser, tokens::TokenKeys, user_lookup::UserLookup},
    events::{
        Channel, ChannelForm, StoredEvent, Topic, control::SESSIONS_REVOKED, dispatch_progress::DispatchProgress,
    },
    metrics::Metrics,
};

/// The WebSocket endpoint's limits and timings.
#[derive(Debug, Clone)]
pub struct HubSettings {
    /// Browser origins allowed besides the server's own.
    pub allowed_origins: Vec<String>,
    pub ping_interval: std::time::Duration,
    /// How long a connection may take to authenticate.
    pub auth_timeout: std::time::Duration,
    /// Frames a session may have waiting before it is closed as too slow.
    pub queue_capacity: usize,
    /// Channels one session may subscribe to at once.
    pub max_subscriptions: usize,
    /// Outbox rows one replay may read: a `since` further back than this many
    /// event ids is refused (the client reloads), so its cost does not depend on
    /// how few of the events the user may see.
    pub replay_max_rows: u64,
    /// Sessions one user may have open at once, on this instance.
    pub max_sessions_per_user: usize,
    /// Sessions this instance holds at once.
    pub max_sessions: usize,
    /// Subscribe messages a session may send per second, after a burst.
    pub subscribe_rate: u32,
    pub subscribe_burst: u32,
    /// Queued frames one socket write takes, in bytes at most (see [`write_batch_bytes`]).
    pub write_batch_bytes: usize,
}

/// How many bytes of queued frames one socket write may carry: under load a
/// session's frames then leave in one system call instead of one each. A batch
/// leaves as one large TCP segment, which a peer acknowledges late (delayed
/// ACK); if the batch could fill the socket's send buffer, the next write would
/// wait for that ACK, so a batch stays within a quarter of the buffer when one
/// is set (`socket_send_buffer`), and within 64 KiB otherwise (the kernel's
/// buffer then grows to megabytes).
pub fn write_batch_bytes(socket_send_buffer: Option<u32>) -> usize {
    const MOST: usize = 64 * 1024;
    socket_send_buffer.map_or(MOST, |bytes| (bytes as usize / 4).min(MOST))
}

/// Close codes and reasons for a session refused at admission.
const USER_FULL: (u16, &str) = (4429, "too many sessions for this user; close some and reconnect");
const SERVER_FULL: (u16, &str) = (1013, "the server is at its session limit; try again later");
const SHUTTING_DOWN: (u16, &str) = (1001, "server shutting down");

/// What `GET /ws` needs, taken from the application state through `FromRef`.
#[derive(Clone)]
pub struct HubState {
    pub hub: Hub,
    /// Reads replays from the outbox.
    pub db: DatabaseConnection,
    /// Identifies callers.
    pub users: UserLookup,
    pub keys: Arc<TokenKeys>,
}

/// A handle to this instance's hub; clones share it.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
}

struct HubInner {
    /// Every connected, authenticated session, by user id, then session id: the
    /// per-user index that both the per-user cap and `close_user_sessions` use.
    users: DashMap<i64, HashMap<u64, Arc<SessionHandle>>>,
    /// Sessions admitted and not yet removed; reserved before a session is added,
    /// so simultaneous connects cannot overshoot `max_sessions`.
    session_total: AtomicUsize,
    /// For each channel, the sessions subscribed to it.
    subscriptions: DashMap<Channel, HashMap<u64, Arc<SessionHandle>>>,
    /// The highest event id dispatched to sessions: the `since` baseline handed
    /// out in `ready`, and what writes wait for before they answer.
    progress: Arc<DispatchProgress>,
    next_session_id: AtomicU64,
    /// Cancelled at shutdown: every session closes with 1001 and new ones are refused.
    shutdown: CancellationToken,
    /// Every connection's task, so shutdown can wait for their close frames.
    connections: TaskTracker,
    /// Where the connection tasks run.
    session_threads: SessionThreads,
    /// The runtime that built the hub, which serves requests and owns the
    /// database pools: sessions run their database reads there (see [`Hub::on_main`]).
    main: tokio::runtime::Handle,
    /// Who may subscribe to what; built from the domains by the application.
    policy: Arc<dyn ChannelPolicy>,
    /// Told to forget a user's kept row when their sessions are revoked.
    accounts: UserLookup,
    settings: HubSettings,
    metrics: Arc<Metrics>,
    /// Held while an event is fanned out and while a subscription is registered,
    /// so a new subscription sees each event either in its replay or live, never neither.
    dispatch_gate: Mutex<()>,
}

impl Hub {
    /// A hub that goes on from `progress` (everything up to its last id counts
    /// as dispatched), and closes its sessions when `shutdown` is cancelled.
    pub fn new(
        progress: Arc<DispatchProgress>,
        settings: HubSettings,
        policy: Arc<dyn ChannelPolicy>,
        accounts: UserLookup,
        metrics: Arc<Metrics>,
        session_threads: SessionThreads,
        shutdown: CancellationToken,
    ) -> Self {
        let hub = Hub {
            inner: Arc::new(HubInner {
                users: DashMap::new(),
                session_total: AtomicUsize::new(0),
                subscriptions: DashMap::new(),
                progress,
                next_session_id: AtomicU64::new(1),
                shutdown,
                connections: TaskTracker::new(),
                session_threads,
                main: tokio::runtime::Handle::current(),
                policy,
                accounts,
                settings,
                dispatch_gate: Mutex::new(()),
                metrics,
            }),
        };
        hub.close_sessions_at_shutdown();
        hub
    }

    /// When shutdown is cancelled, asks every session to close with 1001. (Each
    /// writer waits for its own close request anyway, so it needs no second waiter.)
    fn close_sessions_at_shutdown(&self) {
        let hub = Arc::downgrade(&self.inner);
        let shutdown = self.inner.shutdown.clone();
        tokio::spawn(async move {
            shutdown.cancelled().await;
            if let Some(inner) = hub.upgrade() {
                Hub { inner }.close_all_sessions(SHUTTING_DOWN);
            }
        });
    }

    fn close_all_sessions(&self, (code, reason): (u16, &'static str)) {
        for sessions in self.inner.users.iter() {
            for session in sessions.values() {
                session.request_close(code, reason);
            }
        }
    }

    /// The highest event id this hub has dispatched.
    pub fn last_dispatched(&self) -> i64 {
        self.inner.progress.last()
    }

    /// Every path to the sessions ends here (live, a gap filled, a catch-up),
    /// so writes waiting for their events' dispatch are released on each.
    fn set_last_dispatched(&self, id: i64) {
        self.inner.progress.advance(id);
    }

    /// Number of connected, authenticated sessions.
    pub fn session_count(&self) -> usize {
        self.inner.session_total.load(Ordering::Acquire)
    }

    /// Closes every session of one user, e.g. after their role changed or they were disabled.
    pub fn close_user_sessions(&self, user_id: i64, code: u16, reason: &'static str) {
        if let Some(sessions) = self.inner.users.get(&user_id) {
            for session in sessions.values() {
                session.request_close(code, reason);
            }
        }
    }

    /// Carries out an instruction from any instance's outbox.
    fn obey(&self, event: &StoredEvent) {
        if event.kind == SESSIONS_REVOKED {
            // Before the sessions close, so their reconnects read the account as it is now,
            // however the change reached this instance.
            self.inner.accounts.forget(event.entity_id);
            self.close_user_sessions(event.entity_id, 4401, "your account was changed; sign in again");
        }
    }

    /// The token whose cancellation closes every session with 1001.
    pub(crate) fn shutdown_token(&self) -> &CancellationToken {
        &self.inner.shutdown
    }

    /// Runs a session's database work on the main runtime: a connection the pool
    /// opens for it is then registered with the main runtime's driver, and the
    /// pool's return of the connection does not queue behind a fan-out. `None`
    /// when the main runtime is shutting down.
    async fn on_main<T: Send + 'static>(&self, work: impl Future<Output = T> + Send + 'static) -> Option<T> {
        match self.inner.main.spawn(work).await {
            Ok(done) => Some(done),
            Err(failed) if failed.is_panic() => std::panic::resume_unwind(failed.into_panic()),
            Err(_) => None,
        }
    }

    /// Whether `user` may subscribe to `channel`. A single entity may have to
    /// be read to tell (on the main runtime); a collection is decided at once.
    async fn authorize(&self, user: &CurrentUser, channel: Channel) -> Result<(), String> {
        if let Channel::All(_) = channel {
            return self.inner.policy.authorize(user, channel).await;
        }
        let (policy, user) = (self.inner.policy.clone(), user.clone());
        let checked = self.on_main(async move { policy.authorize(&user, channel).await }).await;
        checked.unwrap_or_else(|| Err("the server is shutting down; subscribe again after reconnecting".into()))
    }

    /// Runs a connection on the session threads; shutdown waits for it.
    fn spawn_connection(&self, connection: impl Future<Output = ()> + Send + 'static) {
        self.inner.session_threads.spawn(self.inner.connections.track_future(connection));
    }

    fn settings(&self) -> &HubSettings {
        &self.inner.settings
    }

    /// Resolves once every connection has ended, after shutdown closed them.
    pub async fn connections_closed(&self) {
        self.inner.connections.close();
        self.inner.connections.wait().await;
    }

    fn next_session_id(&self) -> u64 {
        self.inner.next_session_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Admits a session unless this instance or its user is at the session cap;
    /// `Err` carries the close code and reason. Both checks are atomic: the total
    /// is reserved with a compare-and-swap, the user's count checked and raised
    /// under the index entry's lock.
    fn add_session(&self, session: Arc<SessionHandle>) -> Result<(), (u16, &'static str)> {
        let inner = &self.inner;
        let settings = &inner.settings;
        let reserved = inner
            .session_total
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < settings.max_sessions).then_some(n + 1));
        if reserved.is_err() {
            return Err(SERVER_FULL);
        }
        let user_id = session.user.id;
        let admitted = {
            let mut sessions = inner.users.entry(user_id).or_default();
            let room = sessions.len() < settings.max_sessions_per_user;
            if room {
                sessions.insert(session.id, session.clone());
            }
            room
        };
        if !admitted {
            inner.users.remove_if(&user_id, |_, sessions| sessions.is_empty());
            inner.session_total.fetch_sub(1, Ordering::AcqRel);
            return Err(USER_FULL);
        }
        inner.metrics.sessions_connected.set(self.session_count() as i64);
        // Admitted as shutdown began: the closing sweep may have passed it by.
        if inner.shutdown.is_cancelled() {
            session.request_close(SHUTTING_DOWN.0, SHUTTING_DOWN.1);
        }
        Ok(())
    }

    /// Forgets a session and all its subscriptions.
    fn remove_session(&self, session: &SessionHandle, channels: impl IntoIterator<Item = Channel>) {
        self.unsubscribe(session.id, channels);
        let inner = &self.inner;
        let user_id = session.user.id;
        if let Some(mut sessions) = inner.users.get_mut(&user_id) {
            sessions.remove(&session.id);
        }
        inner.users.remove_if(&user_id, |_, sessions| sessions.is_empty());
        inner.session_total.fetch_sub(1, Ordering::AcqRel);
        inner.metrics.sessions_connected.set(self.session_count() as i64);
    }

    /// Registers channels for a session and starts holding its live events back;
    /// returns the last dispatched id, the upper bound of the session's replay.
    fn subscribe(&self, session: &Arc<SessionHandle>, channels: &[Channel]) -> i64 {
        let _gate = self.inner.dispatch_gate.lock().unwrap_or_else(|e| e.into_inner());
        session.hold_live_events();
        for channel in channels {
            self.inner.subscriptions.entry(*channel).or_default().insert(session.id, session.clone());
        }
        self.last_dispatched()
    }

    fn unsubscribe(&self, session_id: u64, channels: impl IntoIterator<Item = Channel>) {
        for channel in channels {
            if let Some(mut subscribers) = self.inner.subscriptions.get_mut(&channel) {
                subscribers.remove(&session_id);
            }
            self.inner.subscriptions.remove_if(&channel, |_, subscribers| subscribers.is_empty());
        }
    }

    /// Offers one event to every session subscribed to its topic or its entity,
    /// each session at most once. Nothing here awaits: a full queue marks the
    /// session as too slow instead of blocking the others.
    fn fan_out(&self, event: &Arc<StoredEvent>) {
        if event.topic == Topic::Control {
            self.obey(event);
            self.set_last_dispatched(event.id);
            return;
        }
        let _gate = self.inner.dispatch_gate.lock().unwrap_or_else(|e| e.into_inner());
        let collection = Channel::All(event.topic);
        let entity = Channel::One(event.topic, event.entity_id);
        // Entity subscribers are offered the event unless they also subscribe to
        // the collection (offered there); taken first, so only one map guard is held at a time.
        let entity_subscribers: Vec<Arc<SessionHandle>> = self
            .inner
            .subscriptions
            .get(&entity)
            .map(|subscribers| subscribers.values().cloned().collect())
            .unwrap_or_default();
        let mut delivered = 0u64;
        let collection_subscribers = self.inner.subscriptions.get(&collection);
        if let Some(subscribers) = &collection_subscribers {
            for session in subscribers.values() {
                delivered += u64::from(session.offer(event, ChannelForm::Collection));
            }
        }
        let in_collection =
            |id: &u64| collection_subscribers.as_ref().is_some_and(|subscribers| subscribers.contains_key(id));
        for session in entity_subscribers.iter().filter(|s| !in_collection(&s.id)) {
            delivered += u64::from(session.offer(event, ChannelForm::Entity));
        }
        drop(collection_subscribers);
        self.set_last_dispatched(event.id);
        let metrics = &self.inner.metrics;
        metrics.events_delivered.inc_by(delivered);
        let lag = (chrono::Utc::now() - event.at).num_microseconds().unwrap_or(0).max(0);
        metrics.delivery_lag.observe(lag as f64 / 1e6);
    }
}

#[cfg(test)]
mod tests {
    use super::write_batch_bytes;

    #[test]
    fn a_write_batch_stays_within_a_quarter_of_a_set_send_buffer() {
        assert_eq!(write_batch_bytes(None), 64 * 1024);
        assert_eq!(write_batch_bytes(Some(4096)), 1024);
        assert_eq!(write_batch_bytes(Some(16 * 1024 * 1024)), 64 * 1024);
    }
}
