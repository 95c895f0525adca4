//! `Application`: builds the state and router, binds the listener, runs until stopped.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use axum::serve::ListenerExt;
use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::{HeaderValue, Method, header},
    middleware,
    routing::get,
};
use sea_orm::{ConnectionTrait, DbBackend, DbErr};
use tokio::net::{TcpListener, TcpSocket};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tracing::{info, warn};

use crate::{
    auth::{self, password::PasswordGate, throttle::LoginThrottle, tokens::TokenKeys, user_lookup::UserLookup},
    bus::{Bus, BusKey, InProcessBus, RedisBus},
    catalog,
    channels::DomainChannelPolicy,
    config::{Config, ConfigError},
    db,
    error::AppError,
    events::{group_commit::GroupCommit, outbox, retention},
    hub::{self, Hub, HubSettings, SessionThreads},
    jobs::{self, JobRunner, RestartableKinds},
    lock::{LocalLock, LockBackend, Locks, RedisLock},
    metrics::Metrics,
    observe::{self, Observed},
    openapi, ops,
    orders::{
        self,
        monitor::OrderMonitor,
        provider::{HttpProvider, Provider, SimulatedProvider},
    },
    state::{AppState, Services},
    stores::{self, AllowedHost, PageFetcher, ScrapePolicy},
    tasks, users, web, workflows,
};

/// Largest request body accepted (413 above).
pub const BODY_LIMIT_BYTES: usize = 1024 * 1024;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("cannot listen on the configured address: {0}")]
    Listen(#[from] std::io::Error),
    #[error("demo setup failed: {0}")]
    Demo(String),
    #[error("REDIS_URL: {0}")]
    Redis(String),
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(String),
    #[error("cannot start the hub's dispatcher thread: {0}")]
    DispatcherThread(std::io::Error),
    #[error("cannot start the WebSocket session threads: {0}")]
    SessionThreads(std::io::Error),
}

/// How long a login waits for its turn to verify a password before 503.
const PASSWORD_HASH_WAIT: Duration = Duration::from_secs(2);

/// How long stopping waits for background tasks and sessions to finish.
const SHUTDOWN_BOUND: Duration = Duration::from_secs(5);

/// At most this many task creates share a transaction: enough to absorb any
/// burst of waiting requests, small enough that one batch's statements stay short.
const CREATES_PER_BATCH: usize = 128;

/// At most this many progress reports share a transaction (one statement writes them all).
const PROGRESS_WRITES_PER_BATCH: usize = 512;

/// A built server, bound to its port, not yet serving.
pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
    /// Cancelled when the server stops; every background task holds a child of it.
    shutdown: CancellationToken,
    /// Every background task, awaited (with a bound) when the server stops.
    tasks: TaskTracker,
}

impl Application {
    /// Connects to the database, migrates it, starts the hub, and binds the listener.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let listener = bind(config.bind, config.socket_send_buffer)?;
        let (shutdown, tasks) = (CancellationToken::new(), TaskTracker::new());
        // A start that fails half way stops what it had started (the Redis bus's tasks, say).
        let stop_if_failed = shutdown.clone().drop_guard();
        let state = build_state(config, Some(listener.local_addr()?), &shutdown, &tasks).await?;
        spawn_background_tasks(&state, &shutdown, &tasks).await?;
        if state.config.demo {
            crate::demo::seed_store(&state, listener.local_addr()?)
                .await
                .map_err(|e| StartupError::Demo(e.to_string()))?;
            crate::demo::seed_outlet_and_history(&state, listener.local_addr()?)
                .await
                .map_err(|e| StartupError::Demo(e.to_string()))?;
            crate::demo::seed_job_history(&state).await.map_err(|e| StartupError::Demo(e.to_string()))?;
            crate::demo::seed_catalog(&state.config.catalog_dir).map_err(|e| StartupError::Demo(e.to_string()))?;
        }
        stop_if_failed.disarm();
        Ok(Application { listener, router: router(state.clone()), state, shutdown, tasks })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// The shared state, for tests that look inside (session counts, the database).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until Ctrl-C or SIGTERM.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` resolves, then closes sessions with 1001, finishes
    /// in-flight requests and jobs, and waits (with a bound) for every background task.
    pub async fn run_until(self, stop: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let shutdown = self.shutdown.clone();
        let service = self.router.into_make_service_with_connect_info::<SocketAddr>();
        // No Nagle delay: an event frame written right after another must not wait for an ACK.
        let listener = self.listener.tap_io(|socket| {
            if let Err(err) = socket.set_nodelay(true) {
                tracing::debug!(error = %err, "could not set TCP_NODELAY on an accepted socket");
            }
        });
        axum::serve(listener, service)
            .with_graceful_shutdown(async move {
                stop.await;
                info!("shutting down: closing sessions, finishing requests");
                shutdown.cancel();
            })
            .await?;
        self.shutdown.cancel();
        self.state.jobs.shut_down().await;
        self.tasks.close();
        let everything_stopped = async {
            self.tasks.wait().await;
            self.state.hub.connections_closed().await;
        };
        if tokio::time::timeout(SHUTDOWN_BOUND, everything_stopped).await.is_err() {
            warn!("background tasks or sessions did not stop within {SHUTDOWN_BOUND:?}; stopping anyway");
        }
        close_databases(&self.state).await;
        info!("stopped");
        Ok(())
    }
}

/// The built-in kinds `POST /api/jobs/{id}/retry` starts again, each by the domain that owns it.
fn restartable_kinds() -> RestartableKinds {
    RestartableKinds::default()
        .with("scrape_store", Arc::new(stores::service::RetryScrape))
        .with("catalog_import", Arc::new(catalog::import::RetryImport))
}

/// The shared state on a migrated database: the hub (not serving), bus, locks,
/// job runner and clients. `own_address` is where this server listens, if it does
/// (the demo shop is scraped there). Background tasks go on `tasks`.
async fn build_state(
    config: Config,
    own_address: Option<SocketAddr>,
    shutdown: &CancellationToken,
    tasks: &TaskTracker,
) -> Result<AppState, StartupError> {
    let db = db::connect_with(&config.database_url, config.database_acquire_timeout).await?;
    db::migrate(&db).await?;
    if config.demo {
        crate::demo::seed(&db).await.map_err(|e| StartupError::Demo(e.to_string()))?;
    }
    let reads = db::connect_reads(&config.database_url, config.database_acquire_timeout, &db).await?;
    let metrics = Arc::new(Metrics::default());
    // SQLite is one instance, so every change to an account is made here and the
    // rows read can be kept; on PostgreSQL another instance may change one.
    let keep_accounts = (db.get_database_backend() == DbBackend::Sqlite).then_some(config.user_cache_ttl);
    let user_lookup = UserLookup::start(reads.clone(), keep_accounts);
    let newest_event = outbox::max_id(&db).await.map_err(|e| StartupError::Database(DbErr::Custom(e.to_string())))?;
    let session_threads = SessionThreads::start(config.ws_threads).map_err(StartupError::SessionThreads)?;
    let Backends { bus, locks: lock_backend } = scale_out_backends(&config, &metrics, shutdown, tasks)?;
    // Everything already in the outbox counts as dispatched: the hub goes on after it.
    bus.dispatch_progress().advance(newest_event);
    let hub = Hub::new(
        bus.dispatch_progress().clone(),
        hub_settings(&config),
        Arc::new(DomainChannelPolicy { db: reads.clone() }),
        user_lookup.clone(),
        metrics.clone(),
        session_threads,
        shutdown.child_token(),
    );
    let http = reqwest::Client::builder()
        .user_agent(concat!("taskwire/", env!("CARGO_PKG_VERSION"), " (+order monitor)"))
        .connect_timeout(Duration::from_secs(5))
        .timeout(config.provider_timeout.max(Duration::from_secs(1)) * 3)
        .build()
        .map_err(|e| StartupError::HttpClient(e.to_string()))?;
    let scraper =
        PageFetcher::new(scrape_policy(&config, own_address)).map_err(|e| StartupError::HttpClient(e.to_string()))?;
    let provider = order_provider(&config, &http);
    let lease = config.provider_timeout + Duration::from_secs(5);
    let config = Arc::new(config);
    Ok(AppState::new(Services {
        task_creates: GroupCommit::start(db.clone(), bus.clone(), CREATES_PER_BATCH),
        user_lookup,
        progress_writes: GroupCommit::start(db.clone(), bus.clone(), PROGRESS_WRITES_PER_BATCH),
        orders: Arc::new(OrderMonitor::new(provider, lease, shutdown.child_token(), tasks.clone())),
        jobs: Arc::new(JobRunner::new(config.job_concurrency, Duration::from_millis(200))),
        restartable: Arc::new(restartable_kinds()),
        locks: Locks::new(lock_backend, config.import_lock_ttl),
        http,
        scraper: Arc::new(scraper),
        keys: Arc::new(TokenKeys::new(&config.jwt_secret, config.access_token_ttl)),
        throttle: Arc::new(LoginThrottle::new(
            config.login_max_failures,
            config.login_window,
            config.login_throttle_max_entries,
        )),
        passwords: Arc::new(PasswordGate::new(config.password_hash_concurrency, PASSWORD_HASH_WAIT)),
        db,
        reads,
        hub,
        bus,
        metrics,
        config,
    }))
}

/// The shared state for a command that works on the database without serving
/// (`taskwire import-catalog`): its built-in jobs heart-beat like a server's, so
/// no instance takes them for abandoned.
pub struct Worker {
    pub state: AppState,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

impl Worker {
    /// Connects, migrates and starts the job heartbeat.
    pub async fn start(mut config: Config) -> Result<Worker, StartupError> {
        // A worker serves no WebSocket sessions: no threads for them.
        config.ws_threads = 0;
        let (shutdown, tasks) = (CancellationToken::new(), TaskTracker::new());
        let state = build_state(config, None, &shutdown, &tasks).await.inspect_err(|_| shutdown.cancel())?;
        tasks.spawn(jobs::runner::run_heartbeat(state.clone(), shutdown.child_token()));
        Ok(Worker { state, shutdown, tasks })
    }

    /// Stops its jobs (failed as interrupted) and background tasks, with a bound.
    pub async fn stop(self) {
        self.state.jobs.shut_down().await;
        self.shutdown.cancel();
        self.tasks.close();
        if tokio::time::timeout(SHUTDOWN_BOUND, self.tasks.wait()).await.is_err() {
            warn!("background tasks did not stop within {SHUTDOWN_BOUND:?}");
        }
        close_databases(&self.state).await;
    }
}

/// Closes the read connections, then the writer: on SQLite the last connection to
/// close checkpoints the WAL. (On PostgreSQL both are one pool; closing it twice is harmless.)
async fn close_databases(state: &AppState) {
    state.reads.clone().close().await.ok();
    state.db.clone().close().await.ok();
}

/// What instances share when they scale out.
struct Backends {
    bus: Arc<dyn Bus>,
    locks: Arc<dyn LockBackend>,
}

/// The WebSocket endpoint's part of the configuration.
fn hub_settings(config: &Config) -> HubSettings {
    HubSettings {
        allowed_origins: config.allowed_origins.clone(),
        ping_interval: config.ws_ping_interval,
        auth_timeout: config.ws_auth_timeout,
        queue_capacity: config.ws_queue_capacity,
        max_subscriptions: config.ws_max_subscriptions,
        replay_max_rows: config.ws_replay_max_rows,
        max_sessions_per_user: config.ws_max_sessions_per_user,
        max_sessions: config.ws_max_sessions,
        subscribe_rate: config.ws_subscribe_rate,
        subscribe_burst: config.ws_subscribe_burst,
        write_batch_bytes: hub::write_batch_bytes(config.socket_send_buffer),
    }
}

/// The bus and lock backend: Redis when `REDIS_URL` is set (instances share
/// events and locks), in-process otherwise.
fn scale_out_backends(
    config: &Config,
    metrics: &Arc<Metrics>,
    shutdown: &CancellationToken,
    tasks: &TaskTracker,
) -> Result<Backends, StartupError> {
    let Some(url) = &config.redis_url else {
        return Ok(Backends {
            bus: Arc::new(InProcessBus::new(4096, metrics.clone())),
            locks: Arc::new(LocalLock::default()),
        });
    };
    let redis = |e: &dyn std::fmt::Display| StartupError::Redis(e.to_string());
    let key = BusKey::new(config.bus_secret.as_deref(), &config.jwt_secret);
    let bus = RedisBus::start(url, &config.redis_prefix, key, metrics.clone(), shutdown.child_token(), tasks)
        .map_err(|e| redis(&e))?;
    let locks = RedisLock::new(url, &config.redis_prefix).map_err(|e| redis(&e))?;
    info!("events and locks are shared between instances through Redis");
    Ok(Backends { bus: Arc::new(bus), locks: Arc::new(locks) })
}

/// What a scrape may reach: `SCRAPE_ALLOWED_HOSTS`, plus in demo mode exactly this server's demo shop.
fn scrape_policy(config: &Config, address: Option<SocketAddr>) -> ScrapePolicy {
    let mut allowed: Vec<AllowedHost> =
        config.scrape_allowed_hosts.iter().filter_map(|entry| AllowedHost::parse(entry).ok()).collect();
    if config.demo
        && let Some(address) = address
    {
        allowed.extend(AllowedHost::parse(&crate::demo::shop_host(address)).ok());
    }
    ScrapePolicy::new(allowed)
}

/// The order provider: HTTP when `PROVIDER_URL` is set, simulated in demo mode, else none (orders answer 503).
fn order_provider(config: &Config, http: &reqwest::Client) -> Option<Arc<dyn Provider>> {
    match (&config.provider_url, config.demo) {
        (Some(url), _) => Some(Arc::new(HttpProvider::new(
            http.clone(),
            url,
            config.provider_api_key.clone(),
            config.provider_timeout,
        ))),
        (None, true) => Some(Arc::new(SimulatedProvider { max_delay: Duration::from_secs(40) })),
        (None, false) => None,
    }
}

/// The hub's dispatcher, event pruning, job heartbeats and sweeps, and the order
/// monitor, each on `tasks` with a child of `shutdown`. Jobs a previous process
/// left unfinished are failed first.
async fn spawn_background_tasks(
    state: &AppState,
    shutdown: &CancellationToken,
    tasks: &TaskTracker,
) -> Result<(), StartupError> {
    let (hub, db, config) = (&state.hub, &state.db, &state.config);
    // On a thread of its own (see `own_thread`). While it runs, a write's
    // answer waits until it has offered the write's events to the sessions.
    let dispatcher = hub::run_dispatcher(
        hub.clone(),
        state.reads.clone(),
        state.bus.subscribe(),
        state.bus.resubscriptions(),
        config.outbox_catch_up,
        shutdown.child_token(),
    );
    let listening = state.bus.dispatch_progress().listen();
    crate::own_thread::spawn(
        "taskwire-dispatch",
        tasks.track_future(async move {
            // Held while the dispatcher runs: however it ends (returns, panics,
            // is dropped at shutdown), writes stop waiting for it.
            let _listening = listening;
            dispatcher.await;
        }),
    )
    .map_err(StartupError::DispatcherThread)?;
    tasks.spawn(retention::run_pruner(db.clone(), config.event_retention, shutdown.child_token()));
    tasks.spawn(jobs::retention::run_pruner(db.clone(), config.job_retention, shutdown.child_token()));
    // One SQLite file means one instance: every job it left unfinished was interrupted.
    // With PostgreSQL other instances may be running theirs, so only stale heartbeats count.
    let stale_after =
        if db.get_database_backend() == DbBackend::Sqlite { Duration::ZERO } else { Duration::from_secs(30) };
    jobs::runner::sweep_zombies(state, stale_after)
        .await
        .map_err(|e| StartupError::Database(DbErr::Custom(e.to_string())))?;
    tasks.spawn(jobs::runner::run_heartbeat(state.clone(), shutdown.child_token()));
    tasks.spawn(jobs::runner::run_zombie_sweeper(state.clone(), shutdown.child_token()));
    tasks.spawn(orders::monitor::run_monitor(state.clone(), shutdown.child_token()));
    tasks.spawn(stores::schedule::run_scheduler(state.clone(), shutdown.child_token()));
    Ok(())
}

fn bind(address: SocketAddr, send_buffer: Option<u32>) -> std::io::Result<TcpListener> {
    let socket = if address.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    if let Some(size) = send_buffer {
        socket.set_send_buffer_size(size)?;
    }
    socket.bind(address)?;
    socket.listen(1024)
}

/// The whole HTTP surface: one router per domain, merged, under the common layers.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .merge(auth::routes::router())
        .merge(users::routes::router())
        .merge(workflows::routes::router())
        .merge(tasks::routes::router())
        .merge(jobs::routes::router())
        .merge(stores::routes::router())
        .merge(catalog::routes::router())
        .merge(orders::routes::router())
        .route("/ws", get(hub::ws_handler))
        .merge(ops::router())
        .merge(openapi::router())
        .merge(web::router())
        .merge(if state.config.demo { crate::demo::shop_router() } else { Router::new() })
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    let mut app = api.layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES));
    if !state.config.allowed_origins.is_empty() {
        let origins: Vec<HeaderValue> = state.config.allowed_origins.iter().filter_map(|o| o.parse().ok()).collect();
        app = app.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]),
        );
    }
    // Outermost, so every answer (a CORS preflight too) has an id and passes the host guard.
    let observed = Observed::new(state.clone());
    let app = app.layer(middleware::from_fn_with_state(observed, observe::observe));
    app.with_state(state)
}

async fn not_found() -> AppError {
    AppError::NotFound("no such resource".into())
}

async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
