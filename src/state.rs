//! The state every handler and background task shares.

use std::sync::Arc;

use axum::extract::FromRef;
use sea_orm::DatabaseConnection;

use crate::{
    auth::{password::PasswordGate, throttle::LoginThrottle, tokens::TokenKeys, user_lookup::UserLookup},
    bus::Bus,
    config::Config,
    events::group_commit::GroupCommit,
    hub::{Hub, HubState},
    jobs::{JobRunner, RestartableKinds, progress_write::ProgressWrite},
    lock::Locks,
    metrics::Metrics,
    orders::monitor::OrderMonitor,
    stores::PageFetcher,
    tasks::create_batch::PendingTask,
};

/// What every handler and background task shares; one reference count to clone
/// (axum clones the state for every request), the services behind it.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> Self {
        AppState(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The shared services, reached through [`AppState`].
pub struct Services {
    /// The pool (or, on SQLite, the single connection) every service uses.
    pub db: DatabaseConnection,
    /// Where hot reads go (authentication, replay, subscription checks): read-only
    /// connections beside SQLite's single writer, so they do not wait for writes;
    /// the same pool as `db` on PostgreSQL.
    pub reads: DatabaseConnection,
    pub config: Arc<Config>,
    /// Reads the caller's user row for every authenticated request, batched under load.
    pub user_lookup: UserLookup,
    /// JWT signing and verification keys, derived once from `JWT_SECRET`.
    pub keys: Arc<TokenKeys>,
    /// Counts failed logins so guessing passwords gets 429.
    pub throttle: Arc<LoginThrottle>,
    /// Bounds the password hashes computed at once.
    pub passwords: Arc<PasswordGate>,
    /// This instance's WebSocket sessions and their subscriptions.
    pub hub: Hub,
    /// Carries committed events to every instance's hub.
    pub bus: Arc<dyn Bus>,
    /// Writes task creates in shared transactions (group commit): the hot write under load.
    pub task_creates: GroupCommit<PendingTask>,
    /// Writes job progress figures in shared transactions: workers may report many times a second.
    pub progress_writes: GroupCommit<ProgressWrite>,
    /// Prometheus figures of this instance.
    pub metrics: Arc<Metrics>,
    /// Runs built-in jobs and coalesces job progress.
    pub jobs: Arc<JobRunner>,
    /// The built-in job kinds `POST /api/jobs/{id}/retry` can start again, registered by their domains.
    pub restartable: Arc<RestartableKinds>,
    /// Exclusive locks (in-process, or in Redis when instances share work).
    pub locks: Locks,
    /// Order provider, leases and check timers of this instance.
    pub orders: Arc<OrderMonitor>,
    /// The outgoing HTTP client for services the operator configured (the order provider).
    pub http: reqwest::Client,
    /// The scraper's own client, which refuses internal addresses (`SCRAPE_ALLOWED_HOSTS`).
    pub scraper: Arc<PageFetcher>,
}

impl FromRef<AppState> for HubState {
    /// `/ws` sees only what the hub needs, not the domains' machinery.
    fn from_ref(state: &AppState) -> Self {
        HubState {
            hub: state.hub.clone(),
            db: state.reads.clone(),
            users: state.user_lookup.clone(),
            keys: state.keys.clone(),
        }
    }
}
