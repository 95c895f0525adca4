//! Everything the server reads from the environment (and `.env`), validated once at start.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use crate::orders::OrderTiming;

/// Refused configuration, with the key at fault.
#[derive(Debug, thiserror::Error)]
#[error("configuration key {key}: {problem}")]
pub struct ConfigError {
    pub key: &'static str,
    pub problem: String,
}

/// The whole runtime configuration; tests build one directly with `Config::for_tests`.
#[derive(Clone, Debug)]
pub struct Config {
    pub bind: SocketAddr,
    pub database_url: String,
    /// How long a query waits for a database connection before the request gets 503.
    pub database_acquire_timeout: Duration,
    pub redis_url: Option<String>,
    /// Prefix of every Redis key and channel, so several deployments can share one Redis.
    pub redis_prefix: String,
    pub jwt_secret: Vec<u8>,
    /// Key of the HMAC on every event sent through Redis; `None` derives one from `jwt_secret`.
    /// Every instance of a deployment needs the same.
    pub bus_secret: Option<Vec<u8>>,
    /// Origins allowed for the WebSocket and cookie-authenticated writes; empty means the server's own.
    pub allowed_origins: Vec<String>,
    pub catalog_dir: PathBuf,
    pub job_concurrency: usize,
    /// Demo mode: demo users, a generated secret when none is set.
    pub demo: bool,
    /// Adds `Secure` to the auth cookies; set it when serving over HTTPS.
    pub cookie_secure: bool,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// How often the hub pings idle sessions; a peer silent for two intervals is dropped.
    pub ws_ping_interval: Duration,
    /// How long a client without cookie or header has to send its `auth` message.
    pub ws_auth_timeout: Duration,
    /// Frames a session may have queued before it is closed with 4408.
    pub ws_queue_capacity: usize,
    /// Channels one WebSocket session may subscribe to at once.
    pub ws_max_subscriptions: usize,
    /// Outbox rows one `since` replay may read; further back, the client reloads.
    pub ws_replay_max_rows: u64,
    /// WebSocket sessions one user may hold on one instance (close 4429 past it).
    pub ws_max_sessions_per_user: usize,
    /// WebSocket sessions one instance holds (close 1013 past it).
    pub ws_max_sessions: usize,
    /// Subscribe messages per second per session, after `ws_subscribe_burst`.
    pub ws_subscribe_rate: u32,
    pub ws_subscribe_burst: u32,
    /// Threads that run WebSocket sessions, apart from the HTTP handlers and
    /// writers (see `hub::SessionThreads`); 0: on the main runtime.
    pub ws_threads: usize,
    /// How often each hub reads the outbox for events the bus did not bring.
    pub outbox_catch_up: Duration,
    /// How long a user's row, once read to authenticate a request, serves the
    /// next ones; SQLite (one instance) only (zero: read every time).
    pub user_cache_ttl: Duration,
    /// How long events are kept for `since` replay.
    pub event_retention: Duration,
    /// How long finished jobs (and their failures) are kept after they finish.
    pub job_retention: Duration,
    /// Failed logins per username (and 4× that per address) within `login_window` before 429.
    pub login_max_failures: u32,
    pub login_window: Duration,
    /// Usernames and addresses the login throttle remembers at most; the oldest are forgotten first.
    pub login_throttle_max_entries: usize,
    /// Password hashes computed at once (each holds ~19 MiB of argon2 memory); logins beyond wait briefly, then 503.
    pub password_hash_concurrency: usize,
    /// How long after its rotation a refresh token may be presented again (two tabs refreshing at once)
    /// without counting as reuse.
    pub refresh_reuse_grace: Duration,
    /// Host names besides loopback ones accepted while the server listens on a loopback address (DNS rebinding guard).
    pub allowed_hosts: Vec<String>,
    /// Orders one user may create per minute.
    pub order_rate_limit: u32,
    /// Reverse proxies whose `X-Forwarded-For` is believed for the client's address.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// How long one scraped page may take.
    pub scrape_timeout: Duration,
    /// Pages of one store fetched at the same time.
    pub scrape_concurrency: usize,
    /// Hosts (`name`, `name:port`, IP or `IP:port`) a scrape may reach even though
    /// they are loopback, private, link-local or otherwise internal; empty by default.
    pub scrape_allowed_hosts: Vec<String>,
    /// The shortest `scrape_every` a store may have.
    pub scrape_every_min: Duration,
    /// The most stores one bulk action (activate, deactivate, scrape) may name.
    pub store_bulk_max: usize,
    /// How often each instance looks for stores whose scheduled scrape is due.
    pub scrape_schedule_interval: Duration,
    /// TTL of the catalog-import lock; it is renewed every third of that while the import runs.
    pub import_lock_ttl: Duration,
    /// The HTTP order provider; unset outside demo mode means orders cannot be placed.
    pub provider_url: Option<String>,
    pub provider_api_key: Option<String>,
    /// How long one provider request may take.
    pub provider_timeout: Duration,
    /// The order monitor's schedule.
    pub order_timing: OrderTiming,
    /// SO_SNDBUF of accepted sockets; `None` leaves the kernel default.
    pub socket_send_buffer: Option<u32>,
}

impl Config {
    /// Reads the configuration from the process environment, after loading `.env` if present.
    pub fn from_env(demo: bool) -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        Self::from_lookup(demo, |key| std::env::var(key).ok())
    }

    /// Builds the configuration from any key lookup, so parsing is testable without touching the process environment.
    pub fn from_lookup(demo: bool, lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |key: &str| lookup(key).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let bind = parse_or(get("TASKWIRE_BIND"), "TASKWIRE_BIND", "127.0.0.1:8080".parse().unwrap())?;
        let jwt_secret = match get("JWT_SECRET") {
            Some(secret) if secret.len() >= 32 => secret.into_bytes(),
            Some(_) => return Err(problem("JWT_SECRET", "must be at least 32 bytes long")),
            None if demo => random_secret(),
            None => {
                return Err(problem(
                    "JWT_SECRET",
                    "is required outside --demo (at least 32 bytes; e.g. `openssl rand -hex 32`)",
                ));
            }
        };
        let allowed_origins = get("ALLOWED_ORIGINS")
            .map(|v| {
                v.split(',').map(|o| o.trim().trim_end_matches('/').to_owned()).filter(|o| !o.is_empty()).collect()
            })
            .unwrap_or_default();
        let bus_secret = match get("BUS_SECRET") {
            Some(secret) if secret.len() >= 32 => Some(secret.into_bytes()),
            Some(_) => return Err(problem("BUS_SECRET", "must be at least 32 bytes long")),
            None => None,
        };
        let scrape_allowed_hosts: Vec<String> = get("SCRAPE_ALLOWED_HOSTS")
            .map(|v| v.split(',').map(str::trim).filter(|h| !h.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default();
        for entry in &scrape_allowed_hosts {
            crate::stores::AllowedHost::parse(entry).map_err(|e| problem("SCRAPE_ALLOWED_HOSTS", &e))?;
        }
        let database_acquire_timeout =
            duration_or(get("DATABASE_ACQUIRE_TIMEOUT"), "DATABASE_ACQUIRE_TIMEOUT", Duration::from_secs(10))?;
        if database_acquire_timeout < Duration::from_millis(100) {
            return Err(problem("DATABASE_ACQUIRE_TIMEOUT", "must be at least 100ms"));
        }
        let job_concurrency = parse_or(get("JOB_CONCURRENCY"), "JOB_CONCURRENCY", 4usize)?;
        let import_lock_ttl = duration_or(get("IMPORT_LOCK_TTL"), "IMPORT_LOCK_TTL", Duration::from_secs(30))?;
        if import_lock_ttl < Duration::from_secs(1) {
            return Err(problem("IMPORT_LOCK_TTL", "must be at least 1s"));
        }
        if job_concurrency == 0 {
            return Err(problem("JOB_CONCURRENCY", "must be at least 1"));
        }
        Ok(Config {
            bind,
            database_url: get("DATABASE_URL").unwrap_or_else(|| "sqlite://taskwire.db?mode=rwc".into()),
            database_acquire_timeout,
            redis_url: get("REDIS_URL"),
            redis_prefix: get("REDIS_KEY_PREFIX").unwrap_or_else(|| "taskwire:".into()),
            jwt_secret,
            bus_secret,
            allowed_origins,
            catalog_dir: get("CATALOG_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("catalog")),
            job_concurrency,
            demo,
            cookie_secure: parse_or(get("COOKIE_SECURE"), "COOKIE_SECURE", false)?,
            access_token_ttl: Duration::from_secs(15 * 60),
            refresh_token_ttl: duration_or(
                get("REFRESH_TOKEN_TTL"),
                "REFRESH_TOKEN_TTL",
                Duration::from_secs(30 * 86400),
            )?,
            ws_ping_interval: duration_or(get("WS_PING_INTERVAL"), "WS_PING_INTERVAL", Duration::from_secs(25))?,
            ws_auth_timeout: duration_or(get("WS_AUTH_TIMEOUT"), "WS_AUTH_TIMEOUT", Duration::from_secs(10))?,
            ws_queue_capacity: parse_or(get("WS_QUEUE_CAPACITY"), "WS_QUEUE_CAPACITY", 1024usize)?.max(1),
            ws_max_subscriptions: parse_or(get("WS_MAX_SUBSCRIPTIONS"), "WS_MAX_SUBSCRIPTIONS", 1000usize)?.max(1),
            ws_replay_max_rows: parse_or(get("WS_REPLAY_MAX_ROWS"), "WS_REPLAY_MAX_ROWS", 10_000u64)?,
            ws_max_sessions_per_user: parse_or(get("WS_MAX_SESSIONS_PER_USER"), "WS_MAX_SESSIONS_PER_USER", 100usize)?
                .max(1),
            ws_max_sessions: parse_or(get("WS_MAX_SESSIONS"), "WS_MAX_SESSIONS", 10_000usize)?.max(1),
            ws_subscribe_rate: parse_or(get("WS_SUBSCRIBE_RATE"), "WS_SUBSCRIBE_RATE", 10u32)?,
            ws_subscribe_burst: parse_or(get("WS_SUBSCRIBE_BURST"), "WS_SUBSCRIBE_BURST", 20u32)?.max(1),
            ws_threads: ws_threads(get("WS_THREADS"))?,
            outbox_catch_up: duration_or(
                get("OUTBOX_CATCH_UP_INTERVAL"),
                "OUTBOX_CATCH_UP_INTERVAL",
                Duration::from_secs(1),
            )?
            .max(Duration::from_millis(10)),
            user_cache_ttl: duration_or(get("USER_CACHE_TTL"), "USER_CACHE_TTL", Duration::from_secs(1))?
                .min(Duration::from_secs(60)),
            event_retention: duration_or(get("EVENT_RETENTION"), "EVENT_RETENTION", Duration::from_secs(7 * 86400))?,
            job_retention: duration_or(get("JOB_RETENTION"), "JOB_RETENTION", Duration::from_secs(90 * 86400))?,
            login_max_failures: parse_or(get("LOGIN_MAX_FAILURES"), "LOGIN_MAX_FAILURES", 5u32)?.max(1),
            login_window: duration_or(get("LOGIN_WINDOW"), "LOGIN_WINDOW", Duration::from_secs(15 * 60))?,
            login_throttle_max_entries: parse_or(
                get("LOGIN_THROTTLE_MAX_ENTRIES"),
                "LOGIN_THROTTLE_MAX_ENTRIES",
                100_000usize,
            )?
            .max(16),
            password_hash_concurrency: parse_or(
                get("PASSWORD_HASH_CONCURRENCY"),
                "PASSWORD_HASH_CONCURRENCY",
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            )?
            .max(1),
            refresh_reuse_grace: duration_or(
                get("REFRESH_REUSE_GRACE"),
                "REFRESH_REUSE_GRACE",
                Duration::from_secs(10),
            )?
            .min(Duration::from_secs(60)),
            allowed_hosts: get("ALLOWED_HOSTS")
                .map(|v| v.split(',').map(|h| h.trim().to_ascii_lowercase()).filter(|h| !h.is_empty()).collect())
                .unwrap_or_default(),
            order_rate_limit: parse_or(get("ORDER_RATE_LIMIT"), "ORDER_RATE_LIMIT", 30u32)?.max(1),
            scrape_timeout: duration_or(get("SCRAPE_TIMEOUT"), "SCRAPE_TIMEOUT", Duration::from_secs(10))?,
            scrape_concurrency: parse_or(get("SCRAPE_CONCURRENCY"), "SCRAPE_CONCURRENCY", 4usize)?.max(1),
            scrape_allowed_hosts,
            scrape_every_min: duration_or(get("SCRAPE_EVERY_MIN"), "SCRAPE_EVERY_MIN", Duration::from_secs(60))?
                .max(Duration::from_secs(1)),
            store_bulk_max: parse_or(get("STORE_BULK_MAX"), "STORE_BULK_MAX", 500usize)?.max(1),
            scrape_schedule_interval: duration_or(
                get("SCRAPE_SCHEDULE_INTERVAL"),
                "SCRAPE_SCHEDULE_INTERVAL",
                Duration::from_secs(15),
            )?
            .max(Duration::from_millis(10)),
            import_lock_ttl,
            provider_url: get("PROVIDER_URL"),
            provider_api_key: get("PROVIDER_API_KEY"),
            provider_timeout: duration_or(get("PROVIDER_TIMEOUT"), "PROVIDER_TIMEOUT", Duration::from_secs(10))?,
            order_timing: order_timing(&get, demo)?,
            trusted_proxies: get("TRUSTED_PROXIES")
                .map(|v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|ip| !ip.is_empty())
                        .map(|ip| {
                            ip.parse().map_err(|_| problem("TRUSTED_PROXIES", &format!("{ip:?} is not an IP address")))
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()?
                .unwrap_or_default(),
            socket_send_buffer: None,
        })
    }

    /// A configuration for tests: the given database, a fixed secret, port 0.
    pub fn for_tests(database_url: &str) -> Self {
        let mut config = Self::from_lookup(false, |key| match key {
            "JWT_SECRET" => Some("test-secret-test-secret-test-secret-0123".into()),
            "TASKWIRE_BIND" => Some("127.0.0.1:0".into()),
            _ => None,
        })
        .expect("the test configuration is valid");
        config.database_url = database_url.to_owned();
        config
    }
}

/// The monitor's timings. Demo mode's simulated provider answers within a minute,
/// so unset keys get livelier defaults there.
fn order_timing(get: &impl Fn(&str) -> Option<String>, demo: bool) -> Result<OrderTiming, ConfigError> {
    let defaults = if demo {
        OrderTiming {
            first_check_delay: Duration::from_secs(5),
            backoff_base: Duration::from_secs(5),
            backoff_max: Duration::from_secs(30),
            sweep_interval: Duration::from_secs(30),
            ..OrderTiming::default()
        }
    } else {
        OrderTiming::default()
    };
    let timing = OrderTiming {
        first_check_delay: duration_or(
            get("ORDER_FIRST_CHECK_DELAY"),
            "ORDER_FIRST_CHECK_DELAY",
            defaults.first_check_delay,
        )?,
        backoff_base: duration_or(get("ORDER_BACKOFF_BASE"), "ORDER_BACKOFF_BASE", defaults.backoff_base)?,
        backoff_max: duration_or(get("ORDER_BACKOFF_MAX"), "ORDER_BACKOFF_MAX", defaults.backoff_max)?,
        max_checks: parse_or(get("ORDER_MAX_CHECKS"), "ORDER_MAX_CHECKS", defaults.max_checks)?,
        deadline: duration_or(get("ORDER_DEADLINE"), "ORDER_DEADLINE", defaults.deadline)?,
        sweep_interval: duration_or(get("ORDER_SWEEP_INTERVAL"), "ORDER_SWEEP_INTERVAL", defaults.sweep_interval)?,
        sweep_batch: parse_or(get("ORDER_SWEEP_BATCH"), "ORDER_SWEEP_BATCH", defaults.sweep_batch)?,
    };
    if timing.max_checks < 1 {
        return Err(problem("ORDER_MAX_CHECKS", "must be at least 1"));
    }
    if timing.sweep_batch < 1 {
        return Err(problem("ORDER_SWEEP_BATCH", "must be at least 1"));
    }
    if timing.sweep_interval.is_zero() {
        return Err(problem("ORDER_SWEEP_INTERVAL", "must be longer than zero"));
    }
    if timing.backoff_base.is_zero() || timing.backoff_max < timing.backoff_base {
        return Err(problem("ORDER_BACKOFF_BASE", "must be longer than zero and not above ORDER_BACKOFF_MAX"));
    }
    Ok(timing)
}

fn problem(key: &'static str, problem: &str) -> ConfigError {
    ConfigError { key, problem: problem.to_owned() }
}

fn parse_or<T: std::str::FromStr>(value: Option<String>, key: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match value {
        None => Ok(default),
        Some(v) => v.parse().map_err(|e| problem(key, &format!("cannot parse {v:?}: {e}"))),
    }
}

/// Most threads `WS_THREADS` may ask for.
const MAX_WS_THREADS: usize = 256;

/// `WS_THREADS`, by default half the cores (at least one). These threads come
/// on top of the main runtime's (one per core), and the operating system shares
/// the cores between them: more session threads than that made the fan-out
/// slower on a 2-core machine (BENCHMARKS.md, fourth session).
fn ws_threads(value: Option<String>) -> Result<usize, ConfigError> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let threads = parse_or(value, "WS_THREADS", (cores / 2).max(1))?;
    if threads > MAX_WS_THREADS {
        return Err(problem("WS_THREADS", &format!("must be 0 to {MAX_WS_THREADS}, not {threads}")));
    }
    Ok(threads)
}

/// Parses durations written like `250ms`, `30s`, `10m`, `24h`.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    humantime::parse_duration(value).map_err(|e| format!("cannot parse duration {value:?}: {e}"))
}

fn duration_or(value: Option<String>, key: &'static str, default: Duration) -> Result<Duration, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) => parse_duration(&v).map_err(|e| problem(key, &e)),
    }
}

fn random_secret() -> Vec<u8> {
    use rand::RngCore;
    let mut bytes = vec![0u8; 48];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |key| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn refuses_to_start_without_a_secret_outside_demo() {
        let err = Config::from_lookup(false, lookup(&[])).unwrap_err();
        assert_eq!(err.key, "JWT_SECRET");
        assert!(Config::from_lookup(true, lookup(&[])).is_ok());
    }

    #[test]
    fn abuse_limits_have_safe_defaults_and_can_be_set() {
        const SECRET: (&str, &str) = ("JWT_SECRET", "0123456789abcdef0123456789abcdef");
        let defaults = Config::from_lookup(false, lookup(&[SECRET])).unwrap();
        assert_eq!(defaults.order_rate_limit, 30);
        assert_eq!(defaults.refresh_reuse_grace, Duration::from_secs(10));
        assert_eq!(defaults.login_throttle_max_entries, 100_000);
        assert!(defaults.password_hash_concurrency >= 1);
        assert!(defaults.allowed_hosts.is_empty());
        assert_eq!(defaults.job_retention, Duration::from_secs(90 * 86400));
        let retention = Config::from_lookup(false, lookup(&[SECRET, ("JOB_RETENTION", "36h")])).unwrap();
        assert_eq!(retention.job_retention, Duration::from_secs(36 * 3600));
        assert_eq!(
            Config::from_lookup(false, lookup(&[SECRET, ("JOB_RETENTION", "forever")])).unwrap_err().key,
            "JOB_RETENTION"
        );
        let set = Config::from_lookup(
            false,
            lookup(&[
                SECRET,
                ("ORDER_RATE_LIMIT", "3"),
                ("REFRESH_REUSE_GRACE", "2s"),
                ("PASSWORD_HASH_CONCURRENCY", "1"),
                ("ALLOWED_HOSTS", "Tasks.Example.com, , other.example"),
            ]),
        )
        .unwrap();
        assert_eq!(set.order_rate_limit, 3);
        assert_eq!(set.refresh_reuse_grace, Duration::from_secs(2));
        assert_eq!(set.password_hash_concurrency, 1);
        assert_eq!(set.allowed_hosts, vec!["tasks.example.com", "other.example"]);
        assert_eq!(
            Config::from_lookup(false, lookup(&[SECRET, ("ORDER_RATE_LIMIT", "x")])).unwrap_err().key,
            "ORDER_RATE_LIMIT"
        );
    }

    #[test]
    fn the_user_cache_time_defaults_to_a_second_and_is_capped() {
        const SECRET: (&str, &str) = ("JWT_SECRET", "0123456789abcdef0123456789abcdef");
        let ttl = |value: &'static str| {
            let pairs: &'static [(&str, &str)] = Box::leak(Box::new([SECRET, ("USER_CACHE_TTL", value)]));
            Config::from_lookup(false, lookup(pairs)).map(|c| c.user_cache_ttl)
        };
        assert_eq!(Config::from_lookup(false, lookup(&[SECRET])).unwrap().user_cache_ttl, Duration::from_secs(1));
        assert_eq!(ttl("0").unwrap(), Duration::ZERO);
        assert_eq!(ttl("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(ttl("1h").unwrap(), Duration::from_secs(60));
        assert_eq!(ttl("a while").unwrap_err().key, "USER_CACHE_TTL");
    }

    #[test]
    fn refuses_a_short_secret_even_in_demo() {
        let err = Config::from_lookup(true, lookup(&[("JWT_SECRET", "short")])).unwrap_err();
        assert_eq!(err.key, "JWT_SECRET");
    }

    #[test]
    fn parses_durations_and_origins() {
        let config = Config::from_lookup(
            false,
            lookup(&[
                ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
                ("WS_PING_INTERVAL", "250ms"),
                ("ALLOWED_ORIGINS", "https://a.example/, https://b.example"),
            ]),
        )
        .unwrap();
        assert_eq!(config.ws_ping_interval, Duration::from_millis(250));
        assert_eq!(config.allowed_origins, vec!["https://a.example", "https://b.example"]);
        let err = Config::from_lookup(
            false,
            lookup(&[("JWT_SECRET", "0123456789abcdef0123456789abcdef"), ("WS_PING_INTERVAL", "soon")]),
        )
        .unwrap_err();
        assert_eq!(err.key, "WS_PING_INTERVAL");
    }

    #[test]
    fn parses_the_websocket_limits() {
        let defaults = Config::from_lookup(true, lookup(&[])).unwrap();
        assert_eq!(defaults.ws_max_subscriptions, 1000);
        assert_eq!(defaults.ws_replay_max_rows, 10_000);
        assert_eq!(defaults.ws_max_sessions_per_user, 100);
        assert_eq!(defaults.ws_max_sessions, 10_000);
        assert_eq!((defaults.ws_subscribe_rate, defaults.ws_subscribe_burst), (10, 20));
        let config = Config::from_lookup(
            true,
            lookup(&[
                ("WS_MAX_SUBSCRIPTIONS", "5"),
                ("WS_REPLAY_MAX_ROWS", "0"),
                ("WS_MAX_SESSIONS_PER_USER", "0"),
                ("WS_MAX_SESSIONS", "7"),
                ("WS_SUBSCRIBE_RATE", "0"),
                ("WS_SUBSCRIBE_BURST", "3"),
            ]),
        )
        .unwrap();
        assert_eq!(config.ws_max_subscriptions, 5);
        assert_eq!(config.ws_replay_max_rows, 0, "zero: only live events, no replay");
        assert_eq!(config.ws_max_sessions_per_user, 1, "at least one");
        assert_eq!(config.ws_max_sessions, 7);
        assert_eq!((config.ws_subscribe_rate, config.ws_subscribe_burst), (0, 3));
        let err = Config::from_lookup(true, lookup(&[("WS_MAX_SESSIONS", "-1")])).unwrap_err();
        assert_eq!(err.key, "WS_MAX_SESSIONS");
    }

    #[test]
    fn session_threads_default_to_half_the_cores_and_are_bounded() {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let defaults = Config::from_lookup(true, lookup(&[])).unwrap();
        assert_eq!(defaults.ws_threads, (cores / 2).max(1));
        let set = Config::from_lookup(true, lookup(&[("WS_THREADS", "3")])).unwrap();
        assert_eq!(set.ws_threads, 3);
        let none = Config::from_lookup(true, lookup(&[("WS_THREADS", "0")])).unwrap();
        assert_eq!(none.ws_threads, 0, "zero: sessions on the main runtime");
        const BAD: [&[(&str, &str)]; 3] = [&[("WS_THREADS", "257")], &[("WS_THREADS", "-1")], &[("WS_THREADS", "two")]];
        for bad in BAD {
            let err = Config::from_lookup(true, lookup(bad)).unwrap_err();
            assert_eq!(err.key, "WS_THREADS", "{bad:?}");
        }
    }

    #[test]
    fn parses_the_scrape_allow_list_bus_secret_and_acquire_timeout() {
        const SECRET: (&str, &str) = ("JWT_SECRET", "0123456789abcdef0123456789abcdef");
        let defaults = Config::from_lookup(false, lookup(&[SECRET])).unwrap();
        assert!(defaults.scrape_allowed_hosts.is_empty(), "nothing internal is allowed by default");
        assert_eq!(defaults.bus_secret, None);
        assert_eq!(defaults.database_acquire_timeout, Duration::from_secs(10));
        let config = Config::from_lookup(
            false,
            lookup(&[
                SECRET,
                ("SCRAPE_ALLOWED_HOSTS", "shop.internal, 127.0.0.1:8080,[::1]:81"),
                ("BUS_SECRET", "bus-secret-bus-secret-bus-secret-0"),
                ("DATABASE_ACQUIRE_TIMEOUT", "2s"),
            ]),
        )
        .unwrap();
        assert_eq!(config.scrape_allowed_hosts, ["shop.internal", "127.0.0.1:8080", "[::1]:81"]);
        assert_eq!(config.bus_secret.as_deref(), Some(&b"bus-secret-bus-secret-bus-secret-0"[..]));
        assert_eq!(config.database_acquire_timeout, Duration::from_secs(2));
        for (key, value) in [
            ("SCRAPE_ALLOWED_HOSTS", "shop:http"),
            ("SCRAPE_ALLOWED_HOSTS", "http://shop"),
            ("BUS_SECRET", "short"),
            ("DATABASE_ACQUIRE_TIMEOUT", "1ms"),
        ] {
            let pairs: &'static [(&str, &str)] = Box::leak(Box::new([SECRET, (key, value)]));
            assert_eq!(Config::from_lookup(false, lookup(pairs)).unwrap_err().key, key);
        }
    }
}
