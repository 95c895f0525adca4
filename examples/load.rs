//! taskwire's load tool: opens many WebSocket sessions, drives task events
//! through the REST API, and reports fan-out latency percentiles, throughput
//! and server memory per connection.
//!
//! By default it starts `target/release/taskwire serve --demo` itself on a
//! fresh SQLite database (so it can read the server's memory), e.g.:
//!
//! ```text
//! cargo build --release && cargo run --release --example load -- --sessions 2000 --events 200
//! ```
//!
//! Scale-out: `--instances 2 --database-url postgres://… --redis-url redis://…`
//! starts that many servers sharing the database and Redis, spreads the sessions
//! across them and writes through the first one only, so the other instances'
//! sessions receive over Redis; latency is then also reported per instance.
//!
//! `--url http://host:port` targets a running server instead (with demo users;
//! add `--pid` to report its memory).

use std::{
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::Barrier;
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

#[derive(Parser, Debug)]
#[command(about = "Load-test taskwire's WebSocket fan-out")]
struct Args {
    /// Concurrent WebSocket sessions (ADMIN, subscribed to `tasks`).
    #[arg(long, default_value_t = 1000)]
    sessions: usize,
    /// Task events to drive through the REST API.
    #[arg(long, default_value_t = 100)]
    events: usize,
    /// Concurrent REST writers.
    #[arg(long, default_value_t = 4)]
    writers: usize,
    /// A running server to target instead of starting one.
    #[arg(long)]
    url: Option<String>,
    /// The running server's pid, to report its memory.
    #[arg(long)]
    pid: Option<u32>,
    /// The server binary to start.
    #[arg(long, default_value = "target/release/taskwire")]
    server_bin: String,
    /// Servers to start; more than one needs a shared PostgreSQL and Redis.
    #[arg(long, default_value_t = 1)]
    instances: usize,
    /// Database of the started servers (default: a fresh SQLite file).
    #[arg(long)]
    database_url: Option<String>,
    /// Redis of the started servers.
    #[arg(long)]
    redis_url: Option<String>,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let shared_database = args.database_url.as_deref().is_some_and(|url| url.starts_with("postgres"));
    if args.instances > 1 && (args.redis_url.is_none() || !shared_database) {
        panic!("--instances above 1 needs --database-url postgres://… and --redis-url redis://…");
    }
    raise_fd_limit();
    let mut servers = Vec::new();
    let bases: Vec<String> = match &args.url {
        Some(url) => vec![url.trim_end_matches('/').to_owned()],
        None => {
            let mut bases = Vec::new();
            for _ in 0..args.instances {
                let (child, url) = start_server(&args).await;
                servers.push(child);
                bases.push(url);
            }
            bases
        }
    };
    let pids: Vec<u32> =
        if servers.is_empty() { args.pid.into_iter().collect() } else { servers.iter().map(Child::id).collect() };
    let http = reqwest::Client::new();
    let admin = login(&http, &bases[0], "admin", "admin-demo").await;
    let worker = login(&http, &bases[0], "worker", "worker-demo").await;
    let ws_urls: Vec<String> = bases.iter().map(|b| format!("{}/ws", b.replacen("http", "ws", 1))).collect();

    let rss_before = total_rss_kib(&pids);
    println!("opening {} sessions on {} instance(s) …", args.sessions, ws_urls.len());
    let opened = Instant::now();
    let ready = Arc::new(Barrier::new(args.sessions + 1));
    let expected = args.events;
    let started = Instant::now();
    let sent_at: Arc<Vec<AtomicU64>> = Arc::new((0..expected).map(|_| AtomicU64::new(0)).collect());
    let gate = Arc::new(tokio::sync::Semaphore::new(200));
    let mut sessions = Vec::with_capacity(args.sessions);
    for n in 0..args.sessions {
        let instance = n % ws_urls.len();
        let ws_url = ws_urls[instance].clone();
        let (token, ready, sent_at, gate) = (admin.clone(), ready.clone(), sent_at.clone(), gate.clone());
        sessions.push(tokio::spawn(async move {
            let permit = gate.acquire_owned().await.unwrap();
            let mut request = ws_url.into_client_request().unwrap();
            request.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
            let (mut ws, _) = tokio_tungstenite::connect_async(request).await.expect("connect");
            next_text(&mut ws).await; // ready
            let subscribe = json!({"type": "subscribe", "channels": ["tasks"]}).to_string();
            ws.send(Message::Text(subscribe.into())).await.unwrap();
            next_text(&mut ws).await; // subscribed
            drop(permit);
            ready.wait().await;
            let mut latencies = Vec::with_capacity(expected);
            while latencies.len() < expected {
                let Ok(Some(text)) = tokio::time::timeout(Duration::from_secs(30), next_text(&mut ws)).await else {
                    break;
                };
                let received = started.elapsed().as_micros() as u64;
                let frame: Value = serde_json::from_str(&text).unwrap();
                if frame["event"] != "task.created" {
                    continue;
                }
                let title = frame["data"]["title"].as_str().unwrap_or_default();
                let seq = title.strip_prefix("load-").and_then(|n| n.parse::<usize>().ok()).unwrap_or(usize::MAX);
                if let Some(sent) = sent_at.get(seq) {
                    latencies.push(received.saturating_sub(sent.load(Ordering::Acquire)));
                }
            }
            (instance, latencies)
        }));
    }
    ready.wait().await;
    let open_secs = opened.elapsed().as_secs_f64();
    let rss_after = total_rss_kib(&pids);

    println!("driving {} events with {} writers through {} …", args.events, args.writers, bases[0]);
    let driving = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let mut writers = Vec::new();
    for _ in 0..args.writers {
        let (http, base, token, next, sent_at) =
            (http.clone(), bases[0].clone(), worker.clone(), next.clone(), sent_at.clone());
        writers.push(tokio::spawn(async move {
            loop {
                let seq = next.fetch_add(1, Ordering::Relaxed) as usize;
                if seq >= expected {
                    break;
                }
                sent_at[seq].store(started.elapsed().as_micros() as u64, Ordering::Release);
                let response = http
                    .post(format!("{base}/api/tasks"))
                    .bearer_auth(&token)
                    .json(&json!({"title": format!("load-{seq}"), "workflow": "vehicle_registration"}))
                    .send()
                    .await
                    .expect("POST /api/tasks");
                assert_eq!(response.status(), 201, "creating a task failed");
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let write_secs = driving.elapsed().as_secs_f64();
    let mut all = Vec::with_capacity(args.sessions * expected);
    let mut by_instance: Vec<Vec<u64>> = vec![Vec::new(); ws_urls.len()];
    for session in sessions {
        let (instance, latencies) = session.await.unwrap();
        by_instance[instance].extend(&latencies);
        all.extend(latencies);
    }
    let deliver_secs = driving.elapsed().as_secs_f64();
    all.sort_unstable();

    println!("\n## taskwire load: {} sessions × {} events, {} instance(s)", args.sessions, args.events, ws_urls.len());
    println!("sessions opened            {:>10.2} s ({:.0}/s)", open_secs, args.sessions as f64 / open_secs);
    println!("events written             {:>10.2} s ({:.0} events/s)", write_secs, args.events as f64 / write_secs);
    println!(
        "deliveries                 {:>10} of {} ({:.0}/s)",
        all.len(),
        args.sessions * expected,
        all.len() as f64 / deliver_secs
    );
    println!("fan-out latency p50        {:>10.2} ms", percentile(&all, 0.50));
    println!("fan-out latency p90        {:>10.2} ms", percentile(&all, 0.90));
    println!("fan-out latency p99        {:>10.2} ms", percentile(&all, 0.99));
    println!("fan-out latency max        {:>10.2} ms", all.last().map_or(0.0, |us| *us as f64 / 1000.0));
    if by_instance.len() > 1 {
        for (n, latencies) in by_instance.iter_mut().enumerate() {
            latencies.sort_unstable();
            let via = if n == 0 { "the writers' instance" } else { "over Redis" };
            println!(
                "instance {n} ({via}): p50 {:.2} ms, p99 {:.2} ms, {} deliveries",
                percentile(latencies, 0.50),
                percentile(latencies, 0.99),
                latencies.len()
            );
        }
    }
    if let (Some(before), Some(after)) = (rss_before, rss_after) {
        println!("server RSS                 {:>10} KiB → {} KiB", before, after);
        println!(
            "memory per idle session    {:>10.1} KiB",
            (after.saturating_sub(before)) as f64 / args.sessions as f64
        );
    }
    for mut child in servers {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// The `p` quantile of sorted microsecond latencies, in milliseconds.
fn percentile(sorted: &[u64], p: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1)))
        .map_or(0.0, |us| *us as f64 / 1000.0)
}

async fn next_text<S>(ws: &mut S) -> Option<String>
where
    S: StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    while let Some(message) = ws.next().await {
        if let Ok(Message::Text(text)) = message {
            return Some(text.to_string());
        }
    }
    None
}

async fn login(http: &reqwest::Client, base: &str, username: &str, password: &str) -> String {
    let response: Value = http
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .expect("login request")
        .json()
        .await
        .expect("login response");
    response["access_token"].as_str().expect("demo users exist (serve --demo)").to_owned()
}

/// Starts one `serve --demo` server and waits until it is ready.
async fn start_server(args: &Args) -> (Child, String) {
    let binary = &args.server_bin;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = std::env::temp_dir().join(format!("taskwire-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let database =
        args.database_url.clone().unwrap_or_else(|| format!("sqlite://{}?mode=rwc", dir.join("load.db").display()));
    let mut command = Command::new(binary);
    if let Some(redis) = &args.redis_url {
        command.env("REDIS_URL", redis).env("REDIS_KEY_PREFIX", format!("taskwire-load-{}:", std::process::id()));
    }
    let mut child = command
        .args(["serve", "--demo"])
        .env("TASKWIRE_BIND", format!("127.0.0.1:{port}"))
        .env("DATABASE_URL", database)
        .env("CATALOG_DIR", dir.join("catalog"))
        .env("JWT_SECRET", "load-tool-secret-load-tool-secret-0123456789")
        .env("RUST_LOG", "warn")
        // Every load session is the same ADMIN: lift the per-user and total session caps for the run.
        .env("WS_MAX_SESSIONS_PER_USER", (args.sessions + 100).to_string())
        .env("WS_MAX_SESSIONS", (args.sessions + 100).to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {binary} (run `cargo build --release` first): {e}"));
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..200 {
        if reqwest::get(format!("{url}/ready")).await.is_ok_and(|r| r.status().is_success()) {
            return (child, url);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server did not become ready");
}

/// Resident memory of all the processes, from /proc.
fn total_rss_kib(pids: &[u32]) -> Option<u64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|pid| rss_kib(*pid)).sum()
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Thousands of sockets need more than the default 1024 descriptors (the servers inherit this).
fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}
