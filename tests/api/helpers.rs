//! `spawn_app()` and the HTTP / WebSocket clients the tests share.

use std::{
    path::PathBuf,
    sync::{
        Once,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use taskwire::{Application, Config, state::AppState};
use tokio::{net::TcpStream, sync::oneshot, task::JoinHandle};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest, protocol::frame::coding::CloseCode},
};

/// How long a test waits for something that should happen.
pub const WAIT: Duration = Duration::from_secs(10);
/// How long a test watches for something that must not happen.
pub const QUIET: Duration = Duration::from_millis(700);

pub const ADMIN: (&str, &str) = ("admin", "admin-password");
pub const ANN: (&str, &str) = ("ann", "ann-password");
pub const BOB: (&str, &str) = ("bob", "bob-password");

static TRACING: Once = Once::new();

fn init_tracing() {
    TRACING.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            tracing_subscriber::fmt().with_env_filter("info,taskwire=debug,sqlx=warn").with_test_writer().init();
        }
    });
}

/// Where a test's data lives; dropped with the test.
pub enum TestDatabase {
    Sqlite { dir: PathBuf },
    Postgres { admin_url: String, name: String },
}

impl TestDatabase {
    /// A fresh database on the backend `TEST_DATABASE` names (SQLite by default).
    pub async fn create() -> (TestDatabase, String) {
        match std::env::var("TEST_DATABASE").as_deref() {
            Ok("postgres") => Self::create_postgres().await,
            _ => Self::create_sqlite(),
        }
    }

    pub fn create_sqlite() -> (TestDatabase, String) {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "taskwire-test-{}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).expect("create a temporary directory");
        let url = format!("sqlite://{}?mode=rwc", dir.join("taskwire.db").display());
        (TestDatabase::Sqlite { dir }, url)
    }

    pub async fn create_postgres() -> (TestDatabase, String) {
        use sea_orm::ConnectionTrait;
        let admin_url =
            std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!("taskwire_test_{:016x}", rand::random::<u64>());
        let admin = sea_orm::Database::connect(&admin_url).await.expect("PostgreSQL at TEST_POSTGRES_URL answers");
        admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create a test database");
        admin.close().await.ok();
        let base = admin_url.rsplit_once('/').map(|(base, _)| base).unwrap_or(&admin_url);
        let url = format!("{base}/{name}");
        (TestDatabase::Postgres { admin_url, name }, url)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match self {
            TestDatabase::Sqlite { dir } => {
                let _ = std::fs::remove_dir_all(dir);
            }
            TestDatabase::Postgres { admin_url, name } => {
                let (admin_url, name) = (admin_url.clone(), name.clone());
                // Dropped from a plain thread: the test's runtime may be shutting down.
                let _ = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                    runtime.block_on(async {
                        use sea_orm::ConnectionTrait;
                        if let Ok(admin) = sea_orm::Database::connect(&admin_url).await {
                            let _ =
                                admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                            admin.close().await.ok();
                        }
                    });
                })
                .join();
            }
        }
    }
}

/// HTTP and WebSocket access to one server by its address — in-process or a process of its own.
pub struct Api {
    pub address: String,
    pub ws_url: String,
    pub http: reqwest::Client,
}

/// A running server and what a test needs to talk to it (its `Api` through `Deref`).
pub struct TestApp {
    api: Api,
    pub state: AppState,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    // Last, so the database is dropped after the server stopped.
    pub database: Option<TestDatabase>,
}

/// A server on a fresh database, with users admin (ADMIN), ann and bob (ADMIN_LIMITED).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like `spawn_app`, with the configuration adjusted first.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_on(TestDatabase::create().await, adjust).await
}

/// Like `spawn_app_with`, on SQLite whatever `TEST_DATABASE` says (for what only SQLite does).
pub async fn spawn_sqlite_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_on(TestDatabase::create_sqlite(), adjust).await
}

async fn spawn_app_on((database, url): (TestDatabase, String), adjust: impl FnOnce(&mut Config)) -> TestApp {
    let mut app = spawn_on(&url, adjust).await;
    app.database = Some(database);
    for (user, role) in [(ADMIN, "ADMIN"), (ANN, "ADMIN_LIMITED"), (BOB, "ADMIN_LIMITED")] {
        taskwire::users::service::create_user(&app.state.db, user.0, user.1, role).await.expect("create a test user");
    }
    app
}

/// A server on an existing database (no users added); the caller owns the database.
pub async fn spawn_on(database_url: &str, adjust: impl FnOnce(&mut Config)) -> TestApp {
    init_tracing();
    let mut config = Config::for_tests(database_url);
    adjust(&mut config);
    let app = Application::build(config).await.expect("the application starts");
    let api = Api::new(&format!("http://{}", app.local_addr()));
    let state = app.state().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    TestApp { api, state, stop: Some(stop), server: Some(server), database: None }
}

impl TestApp {
    /// Stops the server gracefully and waits until it has.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("the server task").expect("the server stops cleanly");
        }
    }
}

impl std::ops::Deref for TestApp {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

impl Api {
    /// A client of the server at `address` (`http://host:port`).
    pub fn new(address: &str) -> Api {
        Api {
            address: address.to_owned(),
            ws_url: format!("{}/ws", address.replacen("http", "ws", 1)),
            http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Logs in and returns the access token.
    pub async fn token(&self, (username, password): (&str, &str)) -> String {
        let response =
            self.post_json("/api/auth/login", None, &json!({"username": username, "password": password})).await;
        assert_eq!(response.0, StatusCode::OK, "login as {username}: {}", response.1);
        response.1["access_token"].as_str().unwrap().to_owned()
    }

    /// Sends a request with an optional bearer token and JSON body; returns status and JSON body.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("the request is sent");
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let json =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, json)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.request(Method::GET, path, token, None).await
    }

    pub async fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> (StatusCode, Value) {
        self.request(Method::POST, path, token, Some(body)).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.request(Method::POST, path, token, None).await
    }

    /// Creates a task and returns it.
    pub async fn create_task(&self, token: &str, title: &str) -> Value {
        let (status, body) = self
            .post_json("/api/tasks", Some(token), &json!({"title": title, "workflow": "vehicle_registration"}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    /// Approves a task and returns it.
    pub async fn approve(&self, token: &str, task_id: i64) -> Value {
        let (status, body) = self.post(&format!("/api/tasks/{task_id}/approve"), Some(token)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// Opens an authenticated WebSocket and waits for `ready`.
    pub async fn ws(&self, token: &str) -> WsClient {
        let mut request = self.ws_url.as_str().into_client_request().unwrap();
        request.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
        let mut client = WsClient::connect(request).await;
        let ready = client.next_json().await;
        assert_eq!(ready["type"], "ready", "{ready}");
        client
    }

    /// An authenticated WebSocket subscribed to `channels` (optionally since an id), acknowledged.
    pub async fn ws_subscribed(&self, token: &str, channels: &[&str], since: Option<i64>) -> WsClient {
        let mut client = self.ws(token).await;
        client.subscribe(channels, since).await;
        client
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Asserts the API's error shape and code.
pub fn assert_error(response: &(StatusCode, Value), status: StatusCode, code: &str) {
    assert_eq!(response.0, status, "unexpected status, body: {}", response.1);
    assert_eq!(response.1["error"]["code"], code, "unexpected body: {}", response.1);
    let message = response.1["error"]["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "an error message is expected: {}", response.1);
}

/// Asserts that of simultaneous creations of one thing exactly one got 201 and every other 409 `conflict`.
pub fn assert_one_created_rest_conflict(results: &[(StatusCode, Value)]) {
    let created = results.iter().filter(|(status, _)| *status == StatusCode::CREATED).count();
    assert_eq!(created, 1, "{results:?}");
    for response in results.iter().filter(|(status, _)| *status != StatusCode::CREATED) {
        assert_error(response, StatusCode::CONFLICT, "conflict");
    }
}

/// A WebSocket test client.
pub struct WsClient {
    pub stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl WsClient {
    pub async fn connect(request: tokio_tungstenite::tungstenite::handshake::client::Request) -> WsClient {
        let (stream, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request))
            .await
            .expect("the WebSocket handshake finishes in time")
            .expect("the WebSocket handshake succeeds");
        WsClient { stream }
    }

    pub async fn send_json(&mut self, value: Value) {
        self.stream.send(Message::Text(value.to_string().into())).await.expect("send a frame");
    }

    /// The next JSON text frame (pings are answered by the library underneath).
    pub async fn next_json(&mut self) -> Value {
        match self.next_message(WAIT).await {
            Some(Message::Text(text)) => serde_json::from_str(text.as_str()).expect("frames are JSON"),
            other => panic!("expected a JSON frame, got {other:?}"),
        }
    }

    /// The next text or close message within `within`; `None` on timeout.
    pub async fn next_message(&mut self, within: Duration) -> Option<Message> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let message = tokio::time::timeout_at(deadline, self.stream.next()).await.ok()??;
            match message {
                Ok(Message::Ping(_) | Message::Pong(_)) => continue,
                Ok(message) => return Some(message),
                Err(_) => return None,
            }
        }
    }

    pub async fn subscribe(&mut self, channels: &[&str], since: Option<i64>) {
        let mut message = json!({"type": "subscribe", "channels": channels});
        if let Some(since) = since {
            message["since"] = json!(since);
        }
        self.send_json(message).await;
        let ack = self.next_json().await;
        assert_eq!(ack["type"], "subscribed", "{ack}");
    }

    /// The next event frame, checking its name.
    pub async fn expect_event(&mut self, kind: &str) -> Value {
        let frame = self.next_json().await;
        assert_eq!(frame["type"], "event", "expected {kind}, got {frame}");
        assert_eq!(frame["event"], kind, "expected {kind}, got {frame}");
        frame
    }

    /// Asserts that no frame at all arrives for a while.
    pub async fn expect_silence(&mut self) {
        if let Some(message) = self.next_message(QUIET).await {
            panic!("expected nothing, got {message:?}");
        }
    }

    /// Waits for the server's close frame and returns its code.
    pub async fn expect_close(&mut self) -> u16 {
        loop {
            match self.next_message(WAIT).await {
                Some(Message::Close(Some(frame))) => return u16::from(frame.code),
                Some(Message::Close(None)) => return u16::from(CloseCode::Status),
                Some(Message::Text(_)) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    }
}

/// Disables a user behind the server's back, as an operator with SQL would.
pub async fn disable_in_the_database(app: &TestApp, user_id: i64) {
    use sea_orm::{ConnectionTrait, Statement};
    let sql = format!("UPDATE users SET is_active = false WHERE id = {user_id}");
    app.state.db.execute(Statement::from_string(app.state.db.get_database_backend(), sql)).await.unwrap();
}

/// Polls a condition until it holds (for state with no event to await, like a session count).
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Appends `count` task events that no ADMIN_LIMITED user may see, without the
/// bus (the hub's outbox catch-up dispatches them).
pub async fn append_hidden_task_events(app: &TestApp, count: i64) {
    use sea_orm::TransactionTrait;
    use taskwire::events::{NewEvent, Topic, outbox};
    let txn = app.state.db.begin().await.unwrap();
    let events = (1..=count)
        .map(|n| NewEvent {
            topic: Topic::Tasks,
            entity_id: n,
            kind: "task.created",
            payload: json!({"id": n}).to_string(),
            audience: vec![],
        })
        .collect();
    outbox::append(&txn, events).await.unwrap();
    txn.commit().await.unwrap();
}
