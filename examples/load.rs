//! taskwire's load tool: opens many WebSocket sessions, drives task events
//! through the REST API, and reports fan-out latency percentiles, throughput,
//! server memory per connection and server CPU per delivery.
//!
//! By default it starts `target/release/taskwire serve --demo` itself on a
//! fresh SQLite database (so it can read the server's memory and CPU), e.g.:
//!
//! ```text
//! cargo build --release --bin taskwire --examples
//! target/release/examples/load --sessions 2000 --events 200
//! ```
//!
//! Modes (see BENCHMARKS.md for the command behind every figure):
//! - default: `--sessions` subscribe to `tasks`, `--writers` create `--events`
//!   tasks as fast as they can (or at `--rate` events per second).
//! - `--compare`: the same run against taskwire and then against the bare
//!   fan-out server (`examples/bare.rs`), and the ratios side by side.
//! - `--replay N`: writes N events, then times one session's `since` replay of them.
//! - `--storm`: `--jobs` external jobs each reporting progress `--reports-per-sec`
//!   times a second while `--sessions` dashboards follow `jobs`.
//!
//! Scale-out: `--instances 2 --database-url postgres://… --redis-url redis://…`
//! starts that many servers sharing the database and Redis, spreads the sessions
//! across them and spreads the writers too (`--write-to all`) or writes through
//! the first one only (the default), so the other instances' sessions receive
//! over Redis; latency is then also reported per instance.
//!
//! `--url http://host:port` targets a running server instead (with demo users;
//! add `--pid` to report its memory and CPU).

use std::{
    collections::HashMap,
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

#[derive(Parser, Debug, Clone)]
#[command(about = "Load-test taskwire's WebSocket fan-out")]
struct Args {
    /// Concurrent WebSocket sessions (ADMIN, subscribed to `tasks`, or to `jobs` with --storm).
    #[arg(long, default_value_t = 1000)]
    sessions: usize,
    /// Task events to drive through the REST API.
    #[arg(long, default_value_t = 100)]
    events: usize,
    /// Concurrent REST writers.
    #[arg(long, default_value_t = 4)]
    writers: usize,
    /// Events per second in all (paced writers); 0 means as fast as the writers go.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Run against taskwire, then against the bare fan-out server, and print the ratios.
    #[arg(long)]
    compare: bool,
    /// With --compare: run taskwire and the bare server alternately this many
    /// times and print every run's ratios and their medians (the machine's speed
    /// drifts; one pair of runs can mislead).
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// The bare fan-out server binary (`cargo build --release --example bare`).
    #[arg(long, default_value = "target/release/examples/bare")]
    bare_bin: String,
    /// Time one session's `since` replay of this many events (written first).
    #[arg(long)]
    replay: Option<usize>,
    /// A progress storm: external jobs reporting many times a second.
    #[arg(long)]
    storm: bool,
    /// Jobs in the storm.
    #[arg(long, default_value_t = 200)]
    jobs: usize,
    /// Progress reports per job per second in the storm.
    #[arg(long, default_value_t = 50)]
    reports_per_sec: u32,
    /// How long the storm lasts, in seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// A running server to target instead of starting one.
    #[arg(long)]
    url: Option<String>,
    /// The running server's pid, to report its memory and CPU.
    #[arg(long)]
    pid: Option<u32>,
    /// The server binary to start.
    #[arg(long, default_value = "target/release/taskwire")]
    server_bin: String,
    /// Servers to start; more than one needs a shared PostgreSQL and Redis.
    #[arg(long, default_value_t = 1)]
    instances: usize,
    /// Write through the first instance only (`first`) or through every instance in turn (`all`).
    #[arg(long, default_value = "first")]
    write_to: String,
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
    // Thousands of sockets need more than the default 1024 descriptors (the servers inherit this).
    taskwire::fd_limit::raise_to_hard_limit();
    if args.storm {
        return storm(&args).await;
    }
    if let Some(events) = args.replay {
        return replay(&args, events).await;
    }
    if !args.compare {
        assert!(args.repeat <= 1, "--repeat alternates taskwire and the bare server: it needs --compare");
        return fan_out(&args, Target::Taskwire).await.print(&args);
    }
    let mut pairs = Vec::new();
    for _ in 0..args.repeat.max(1) {
        let taskwire = fan_out(&args, Target::Taskwire).await;
        taskwire.print(&args);
        let bare = fan_out(&args, Target::Bare).await;
        bare.print(&args);
        print_ratios(&taskwire, &bare);
        pairs.push((taskwire, bare));
    }
    if pairs.len() > 1 {
        print_median_ratios(&pairs);
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Target {
    Taskwire,
    Bare,
}

/// What one fan-out run measured.
struct Report {
    name: &'static str,
    instances: usize,
    sessions: usize,
    expected: usize,
    open_secs: f64,
    write_secs: f64,
    deliver_secs: f64,
    /// Request sent → event received, per delivery, sorted (µs).
    latencies: Vec<u64>,
    /// REST answer received → event received, per delivery, sorted (µs; 0 when the event came first).
    after_answer: Vec<u64>,
    /// Per event: request sent → its first arrival at any session, sorted (µs).
    to_first: Vec<u64>,
    /// Per event: first → last arrival across sessions, sorted (µs).
    spread: Vec<u64>,
    by_instance: Vec<Vec<u64>>,
    rss: Option<(u64, u64)>,
    /// Server CPU seconds while the events were written and delivered.
    cpu_secs: Option<f64>,
    /// Server CPU seconds while the sessions were opened.
    open_cpu_secs: Option<f64>,
}

/// The servers of one run, killed when it ends.
struct Servers {
    children: Vec<Child>,
    bases: Vec<String>,
    pids: Vec<u32>,
}

impl Drop for Servers {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn servers(args: &Args, target: Target) -> Servers {
    if let Some(url) = &args.url
        && target == Target::Taskwire
    {
        let pids = args.pid.into_iter().collect();
        return Servers { children: Vec::new(), bases: vec![url.trim_end_matches('/').to_owned()], pids };
    }
    let mut children = Vec::new();
    let mut bases = Vec::new();
    let instances = if target == Target::Bare { 1 } else { args.instances };
    for _ in 0..instances {
        let (child, url) = start_server(args, target).await;
        children.push(child);
        bases.push(url);
    }
    let pids = children.iter().map(Child::id).collect();
    Servers { children, bases, pids }
}

async fn fan_out(args: &Args, target: Target) -> Report {
    let servers = servers(args, target).await;
    let bases = &servers.bases;
    let http = reqwest::Client::new();
    let admin = login(&http, &bases[0], "admin", "admin-demo").await;
    let worker = login(&http, &bases[0], "worker", "worker-demo").await;
    let ws_urls: Vec<String> = bases.iter().map(|b| format!("{}/ws", b.replacen("http", "ws", 1))).collect();
    let name = if target == Target::Bare { "bare fan-out server" } else { "taskwire" };

    let rss_before = total_rss_kib(&servers.pids);
    let open_cpu_before = total_cpu_secs(&servers.pids);
    println!("[{name}] opening {} sessions on {} instance(s) …", args.sessions, ws_urls.len());
    let opened = Instant::now();
    let ready = Arc::new(Barrier::new(args.sessions + 1));
    let expected = args.events;
    let started = Instant::now();
    let sent_at: Arc<Vec<AtomicU64>> = Arc::new((0..expected).map(|_| AtomicU64::new(0)).collect());
    let answered_at: Arc<Vec<AtomicU64>> = Arc::new((0..expected).map(|_| AtomicU64::new(0)).collect());
    let gate = Arc::new(tokio::sync::Semaphore::new(200));
    let mut sessions = Vec::with_capacity(args.sessions);
    for n in 0..args.sessions {
        let instance = n % ws_urls.len();
        let ws_url = ws_urls[instance].clone();
        let (token, ready, gate) = (admin.clone(), ready.clone(), gate.clone());
        sessions.push(tokio::spawn(async move {
            let permit = gate.acquire_owned().await.unwrap();
            let mut ws = subscribed(&ws_url, &token, "tasks", None).await;
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
                if seq < expected {
                    latencies.push((seq, received));
                }
            }
            (instance, latencies)
        }));
    }
    ready.wait().await;
    let open_secs = opened.elapsed().as_secs_f64();
    let rss_after = total_rss_kib(&servers.pids);
    let open_cpu_secs = total_cpu_secs(&servers.pids).zip(open_cpu_before).map(|(after, before)| after - before);

    let cpu_before = total_cpu_secs(&servers.pids);
    let driving = Instant::now();
    let write_bases: Vec<String> = if args.write_to == "all" { bases.clone() } else { vec![bases[0].clone()] };
    let pace = (args.rate > 0.0).then(|| Duration::from_secs_f64(1.0 / args.rate));
    println!(
        "[{name}] driving {} events with {} writers through {} instance(s){} …",
        args.events,
        args.writers,
        write_bases.len(),
        pace.map(|_| format!(" at {} events/s", args.rate)).unwrap_or_default()
    );
    let next = Arc::new(AtomicU64::new(0));
    let mut writers = Vec::new();
    for n in 0..args.writers {
        let (http, base, token, next, sent_at, answered_at) = (
            http.clone(),
            write_bases[n % write_bases.len()].clone(),
            worker.clone(),
            next.clone(),
            sent_at.clone(),
            answered_at.clone(),
        );
        writers.push(tokio::spawn(async move {
            loop {
                let seq = next.fetch_add(1, Ordering::Relaxed) as usize;
                if seq >= expected {
                    break;
                }
                if let Some(pace) = pace {
                    tokio::time::sleep_until((driving + pace * seq as u32).into()).await;
                }
                sent_at[seq].store(started.elapsed().as_micros() as u64, Ordering::Release);
                create_task(&http, &base, &token, &format!("load-{seq}")).await;
                answered_at[seq].store(started.elapsed().as_micros() as u64, Ordering::Release);
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let write_secs = driving.elapsed().as_secs_f64();
    let mut latencies = Vec::with_capacity(args.sessions * expected);
    let mut after_answer = Vec::with_capacity(args.sessions * expected);
    let mut by_instance: Vec<Vec<u64>> = vec![Vec::new(); ws_urls.len()];
    // Per event, its first and last arrival at any session: the write path and the fan-out's spread.
    let mut arrivals = vec![(u64::MAX, 0u64); expected];
    for session in sessions {
        let (instance, mine) = session.await.unwrap();
        for (seq, received) in mine {
            let (first, last) = &mut arrivals[seq];
            (*first, *last) = ((*first).min(received), (*last).max(received));
            let latency = received.saturating_sub(sent_at[seq].load(Ordering::Acquire));
            // An event may arrive before its REST answer: that counts as 0.
            after_answer.push(received.saturating_sub(answered_at[seq].load(Ordering::Acquire)));
            by_instance[instance].push(latency);
            latencies.push(latency);
        }
    }
    let deliver_secs = driving.elapsed().as_secs_f64();
    let cpu_secs = total_cpu_secs(&servers.pids).zip(cpu_before).map(|(after, before)| after - before);
    latencies.sort_unstable();
    after_answer.sort_unstable();
    let arrived = arrivals.iter().enumerate().filter(|(_, (first, _))| *first != u64::MAX);
    let (mut to_first, mut spread): (Vec<u64>, Vec<u64>) = arrived
        .map(|(seq, (first, last))| (first.saturating_sub(sent_at[seq].load(Ordering::Acquire)), last - first))
        .unzip();
    to_first.sort_unstable();
    spread.sort_unstable();
    for list in &mut by_instance {
        list.sort_unstable();
    }
    Report {
        name,
        instances: ws_urls.len(),
        sessions: args.sessions,
        expected,
        open_secs,
        write_secs,
        deliver_secs,
        latencies,
        after_answer,
        to_first,
        spread,
        by_instance,
        rss: rss_before.zip(rss_after),
        cpu_secs,
        open_cpu_secs,
    }
}

impl Report {
    fn per_session_kib(&self) -> Option<f64> {
        self.rss.map(|(before, after)| after.saturating_sub(before) as f64 / self.sessions as f64)
    }

    fn handshakes_per_sec(&self) -> f64 {
        self.sessions as f64 / self.open_secs
    }

    /// Server CPU microseconds per session opened (handshake, authentication, `ready`, subscribe).
    fn cpu_us_per_session(&self) -> Option<f64> {
        self.open_cpu_secs.map(|cpu| cpu * 1e6 / self.sessions as f64)
    }

    /// Server CPU microseconds per delivered event frame.
    fn cpu_us_per_delivery(&self) -> Option<f64> {
        self.cpu_secs.filter(|_| !self.latencies.is_empty()).map(|cpu| cpu * 1e6 / self.latencies.len() as f64)
    }

    fn print(&self, args: &Args) {
        let all = &self.latencies;
        println!(
            "\n## {}: {} sessions × {} events, {} instance(s)",
            self.name, self.sessions, self.expected, self.instances
        );
        println!(
            "sessions opened            {:>10.2} s ({:.0}/s: handshake, ready, subscribe)",
            self.open_secs,
            self.handshakes_per_sec()
        );
        println!(
            "events written             {:>10.2} s ({:.0} events/s, {} writers)",
            self.write_secs,
            self.expected as f64 / self.write_secs,
            args.writers
        );
        println!(
            "deliveries                 {:>10} of {} ({:.0}/s)",
            all.len(),
            self.sessions * self.expected,
            all.len() as f64 / self.deliver_secs
        );
        println!("fan-out latency p50        {:>10.2} ms", percentile(all, 0.50));
        println!("fan-out latency p90        {:>10.2} ms", percentile(all, 0.90));
        println!("fan-out latency p99        {:>10.2} ms", percentile(all, 0.99));
        println!("fan-out latency max        {:>10.2} ms", all.last().map_or(0.0, |us| *us as f64 / 1000.0));
        println!(
            "event after the REST answer p50 {:.2} ms, p99 {:.2} ms",
            percentile(&self.after_answer, 0.50),
            percentile(&self.after_answer, 0.99)
        );
        println!(
            "request → first session   p50 {:.2} ms, p99 {:.2} ms (the write path)",
            percentile(&self.to_first, 0.50),
            percentile(&self.to_first, 0.99)
        );
        println!(
            "first → last session      p50 {:.2} ms, p99 {:.2} ms (one event's fan-out)",
            percentile(&self.spread, 0.50),
            percentile(&self.spread, 0.99)
        );
        if self.by_instance.len() > 1 {
            for (n, latencies) in self.by_instance.iter().enumerate() {
                println!(
                    "instance {n}: p50 {:.2} ms, p99 {:.2} ms, {} deliveries",
                    percentile(latencies, 0.50),
                    percentile(latencies, 0.99),
                    latencies.len()
                );
            }
        }
        if let (Some((before, after)), Some(per_session)) = (self.rss, self.per_session_kib()) {
            println!("server RSS                 {:>10} KiB → {} KiB", before, after);
            println!("memory per idle session    {:>10.1} KiB", per_session);
        }
        if let (Some(cpu), Some(per_delivery)) = (self.cpu_secs, self.cpu_us_per_delivery()) {
            println!("server CPU while driving   {:>10.2} s ({:.2} µs per delivery)", cpu, per_delivery);
        }
    }
}

type Measure = fn(&Report) -> Option<f64>;

/// What `--compare` sets side by side: name, unit, decimals shown, how it is read off a run.
const MEASURES: [(&str, &str, usize, Measure); 8] = [
    ("memory per idle session", "KiB", 1, Report::per_session_kib),
    ("sessions opened per second", "", 0, |r| Some(r.handshakes_per_sec())),
    ("server CPU per session opened", "µs", 1, Report::cpu_us_per_session),
    ("fan-out p50", "ms", 2, |r| Some(percentile(&r.latencies, 0.50))),
    ("fan-out p99", "ms", 2, |r| Some(percentile(&r.latencies, 0.99))),
    ("request → first session p50", "ms", 2, |r| Some(percentile(&r.to_first, 0.50))),
    ("first → last session p50", "ms", 2, |r| Some(percentile(&r.spread, 0.50))),
    ("server CPU per delivery", "µs", 2, Report::cpu_us_per_delivery),
];

/// taskwire's figure divided by the bare server's, where both exist.
fn ratio(measure: Measure, taskwire: &Report, bare: &Report) -> Option<f64> {
    match (measure(taskwire), measure(bare)) {
        (Some(ours), Some(theirs)) if theirs > 0.0 => Some(ours / theirs),
        _ => None,
    }
}

fn print_ratios(taskwire: &Report, bare: &Report) {
    println!("\n## taskwire ÷ bare fan-out server (same sessions, events, writers)");
    println!("| measure | taskwire | bare | ratio |");
    println!("|---|---|---|---|");
    for (name, unit, decimals, measure) in MEASURES {
        let shown =
            |value: Option<f64>| format!("{:.decimals$} {unit}", value.unwrap_or(f64::NAN)).trim_end().to_owned();
        let ratio = ratio(measure, taskwire, bare).map_or("n/a".into(), |r| format!("{r:.2}×"));
        println!("| {name} | {} | {} | {ratio} |", shown(measure(taskwire)), shown(measure(bare)));
    }
    println!(
        "| deliveries | {} of {} | {} of {} | |",
        taskwire.latencies.len(),
        taskwire.sessions * taskwire.expected,
        bare.latencies.len(),
        bare.sessions * bare.expected
    );
}

/// Every run's ratio per measure, and the median of each figure and ratio.
fn print_median_ratios(pairs: &[(Report, Report)]) {
    let median = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        let middle = values.len() / 2;
        match values.len() {
            0 => None,
            n if n % 2 == 0 => Some((values[middle - 1] + values[middle]) / 2.0),
            _ => Some(values[middle]),
        }
    };
    println!("\n## taskwire ÷ bare fan-out server, {} alternating runs", pairs.len());
    println!("| measure | ratio per run | median taskwire | median bare | median ratio |");
    println!("|---|---|---|---|---|");
    for (name, unit, decimals, measure) in MEASURES {
        let per_run: Vec<Option<f64>> = pairs.iter().map(|(ours, theirs)| ratio(measure, ours, theirs)).collect();
        let each: Vec<String> = per_run.iter().map(|r| r.map_or("n/a".into(), |r| format!("{r:.2}"))).collect();
        let ratios: Vec<f64> = per_run.into_iter().flatten().collect();
        let figure = |side: fn(&(Report, Report)) -> &Report| {
            median(pairs.iter().filter_map(|pair| measure(side(pair))).collect())
                .map_or("n/a".into(), |v| format!("{v:.decimals$} {unit}").trim_end().to_owned())
        };
        println!(
            "| {name} | {} | {} | {} | {} |",
            each.join(" / "),
            figure(|(ours, _)| ours),
            figure(|(_, theirs)| theirs),
            median(ratios).map_or("n/a".into(), |r| format!("{r:.2}×"))
        );
    }
}

/// Creates one task over REST (the event every run counts), asserting `201`.
async fn create_task(http: &reqwest::Client, base: &str, token: &str, title: &str) {
    let response = http
        .post(format!("{base}/api/tasks"))
        .bearer_auth(token)
        .json(&json!({"title": title, "workflow": "vehicle_registration"}))
        .send()
        .await
        .expect("POST /api/tasks");
    assert_eq!(response.status(), 201, "creating a task failed");
}

/// Writes `events` tasks, then times one session's replay of all of them with `since`.
async fn replay(args: &Args, events: usize) {
    let servers = servers(args, Target::Taskwire).await;
    let base = &servers.bases[0];
    let http = reqwest::Client::new();
    let admin = login(&http, base, "admin", "admin-demo").await;
    let worker = login(&http, base, "worker", "worker-demo").await;
    let ws_url = format!("{}/ws", base.replacen("http", "ws", 1));
    // The id before the first event: the `ready` of a session opened now.
    let mut probe = connect(&ws_url, &admin).await;
    let since = serde_json::from_str::<Value>(&next_text(&mut probe).await.unwrap()).unwrap()["last_event_id"]
        .as_i64()
        .unwrap();
    println!("writing {events} events with {} writers …", args.writers);
    let next = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..args.writers)
        .map(|_| {
            let (http, base, token, next) = (http.clone(), base.clone(), worker.clone(), next.clone());
            tokio::spawn(async move {
                while (next.fetch_add(1, Ordering::Relaxed) as usize) < events {
                    create_task(&http, &base, &token, "replayed").await;
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let mut runs = Vec::new();
    for _ in 0..5 {
        let mut ws = connect(&ws_url, &admin).await;
        next_text(&mut ws).await; // ready
        let started = Instant::now();
        let subscribe = json!({"type": "subscribe", "channels": ["tasks"], "since": since}).to_string();
        ws.send(Message::Text(subscribe.into())).await.unwrap();
        let mut received = 0;
        let mut last_id = since;
        while received < events {
            let text = tokio::time::timeout(Duration::from_secs(30), next_text(&mut ws)).await.unwrap().unwrap();
            let frame: Value = serde_json::from_str(&text).unwrap();
            match frame["type"].as_str() {
                Some("event") => {
                    let id = frame["id"].as_i64().unwrap();
                    assert!(id > last_id, "replay in id order");
                    last_id = id;
                    received += 1;
                }
                Some("subscribed") => {}
                other => panic!("unexpected {other:?}: {text}"),
            }
        }
        runs.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    runs.sort_by(f64::total_cmp);
    println!("\n## `since` replay of {events} events to one session (5 runs)");
    println!(
        "subscribe → last replayed event: best {:.1} ms, median {:.1} ms, worst {:.1} ms",
        runs[0], runs[2], runs[4]
    );
}

/// External jobs reporting progress many times a second; dashboards follow `jobs`.
async fn storm(args: &Args) {
    let servers = servers(args, Target::Taskwire).await;
    let base = servers.bases[0].clone();
    let http = reqwest::Client::builder().pool_max_idle_per_host(args.jobs).build().unwrap();
    let admin = login(&http, &base, "admin", "admin-demo").await;
    let ws_url = format!("{}/ws", base.replacen("http", "ws", 1));
    let seconds = args.seconds;
    let per_sec = args.reports_per_sec;
    let reports = seconds * u64::from(per_sec);

    let mut job_ids = Vec::new();
    for n in 0..args.jobs {
        let body = json!({"kind": "storm", "name": format!("storm {n}"), "items_total": reports});
        let job: Value = http
            .post(format!("{base}/api/jobs"))
            .bearer_auth(&admin)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        job_ids.push(job["id"].as_i64().expect("job created"));
    }
    let index: Arc<HashMap<i64, usize>> = Arc::new(job_ids.iter().enumerate().map(|(n, id)| (*id, n)).collect());
    let started = Instant::now();
    // sent[job][k]: when the report with items_processed = k + 1 was sent.
    let sent: Arc<Vec<Vec<AtomicU64>>> =
        Arc::new((0..args.jobs).map(|_| (0..reports).map(|_| AtomicU64::new(0)).collect()).collect());
    println!("[storm] {} dashboards subscribe to jobs …", args.sessions);
    let ready = Arc::new(Barrier::new(args.sessions + 1));
    let done = tokio_util::sync::CancellationToken::new();
    let mut dashboards = Vec::new();
    for _ in 0..args.sessions {
        let (ws_url, token, ready, sent, index, done) =
            (ws_url.clone(), admin.clone(), ready.clone(), sent.clone(), index.clone(), done.clone());
        let jobs = args.jobs;
        dashboards.push(tokio::spawn(async move {
            let mut ws = subscribed(&ws_url, &token, "jobs", None).await;
            ready.wait().await;
            let mut latencies = Vec::new();
            // When each job's progress events arrived, in µs since the start.
            let mut events_per_job: Vec<Vec<u64>> = vec![Vec::new(); jobs];
            loop {
                let text = tokio::select! {
                    text = next_text(&mut ws) => match text { Some(text) => text, None => break },
                    _ = done.cancelled() => break,
                };
                let received = started.elapsed().as_micros() as u64;
                let frame: Value = serde_json::from_str(&text).unwrap();
                if frame["event"] != "job.progress" {
                    continue;
                }
                let Some(&job) = frame["data"]["id"].as_i64().and_then(|id| index.get(&id)) else { continue };
                events_per_job[job].push(received);
                let processed = frame["data"]["items_processed"].as_u64().unwrap_or(0);
                if let Some(at) = processed.checked_sub(1).and_then(|k| sent[job].get(k as usize)) {
                    latencies.push(received.saturating_sub(at.load(Ordering::Acquire)));
                }
            }
            (latencies, events_per_job)
        }));
    }
    ready.wait().await;
    println!("[storm] {} jobs report {per_sec} times a second for {seconds} s …", args.jobs);
    let cpu_before = total_cpu_secs(&servers.pids);
    let storm_started = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / per_sec as f64);
    let late = Arc::new(AtomicU64::new(0));
    let reporters: Vec<_> = job_ids
        .iter()
        .enumerate()
        .map(|(job, &id)| {
            let (http, base, token, sent, late) =
                (http.clone(), base.clone(), admin.clone(), sent.clone(), late.clone());
            tokio::spawn(async move {
                let offset = interval.mul_f64(job as f64 / sent.len() as f64); // spread the jobs over one interval
                for k in 0..reports {
                    let due = storm_started + offset + interval * k as u32;
                    if Instant::now() > due + interval {
                        late.fetch_add(1, Ordering::Relaxed);
                    }
                    tokio::time::sleep_until(due.into()).await;
                    sent[job][k as usize].store(started.elapsed().as_micros() as u64, Ordering::Release);
                    let response = http
                        .post(format!("{base}/api/jobs/{id}/progress"))
                        .bearer_auth(&token)
                        .json(&json!({"items_processed": k + 1}))
                        .send()
                        .await
                        .expect("progress");
                    assert_eq!(response.status(), 200, "a progress report failed");
                }
            })
        })
        .collect();
    for reporter in reporters {
        reporter.await.unwrap();
    }
    let storm_secs = storm_started.elapsed().as_secs_f64();
    // The last announcements are owed for at most one coalescing window.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cpu_secs = total_cpu_secs(&servers.pids).zip(cpu_before).map(|(after, before)| after - before);
    done.cancel();
    let mut latencies = Vec::new();
    let (mut max_rate, mut max_in_a_second) = (0.0_f64, 0usize);
    for dashboard in dashboards {
        let (mine, per_job) = dashboard.await.unwrap();
        latencies.extend(mine);
        for arrivals in per_job {
            max_rate = max_rate.max(event_rate(&arrivals));
            max_in_a_second = max_in_a_second.max(most_within(&arrivals, 1_000_000));
        }
    }
    latencies.sort_unstable();
    let total_reports = args.jobs as u64 * reports;
    println!(
        "\n## progress storm: {} jobs × {per_sec} reports/s, {} dashboards, {seconds} s",
        args.jobs, args.sessions
    );
    println!(
        "reports sent               {:>10} in {:.2} s ({:.0}/s; {} started late)",
        total_reports,
        storm_secs,
        total_reports as f64 / storm_secs,
        late.load(Ordering::Relaxed)
    );
    println!("job.progress events per job per second (max over jobs and dashboards) {:.2}", max_rate);
    println!("most job.progress events of one job within any 1 s of arrival {max_in_a_second}");
    println!("report → dashboard p50     {:>10.2} ms", percentile(&latencies, 0.50));
    println!("report → dashboard p99     {:>10.2} ms", percentile(&latencies, 0.99));
    if let Some(cpu) = cpu_secs {
        println!(
            "server CPU                 {:>10.2} s over {:.2} s ({:.0}% of one core)",
            cpu,
            storm_secs,
            cpu / storm_secs * 100.0
        );
    }
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(ws_url: &str, token: &str) -> Socket {
    let mut request = ws_url.into_client_request().unwrap();
    request.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    tokio_tungstenite::connect_async(request).await.expect("connect").0
}

/// A session past `ready` and `subscribed` on one channel.
async fn subscribed(ws_url: &str, token: &str, channel: &str, since: Option<i64>) -> Socket {
    let mut ws = connect(ws_url, token).await;
    next_text(&mut ws).await; // ready
    let mut subscribe = json!({"type": "subscribe", "channels": [channel]});
    if let Some(since) = since {
        subscribe["since"] = json!(since);
    }
    ws.send(Message::Text(subscribe.to_string().into())).await.unwrap();
    next_text(&mut ws).await; // subscribed
    ws
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

/// Starts one server (`serve --demo`, or the bare fan-out server) and waits until it is ready.
async fn start_server(args: &Args, target: Target) -> (Child, String) {
    let binary = if target == Target::Bare { &args.bare_bin } else { &args.server_bin };
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = std::env::temp_dir().join(format!("taskwire-load-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let database =
        args.database_url.clone().unwrap_or_else(|| format!("sqlite://{}?mode=rwc", dir.join("load.db").display()));
    let mut command = Command::new(binary);
    if let Some(redis) = &args.redis_url {
        command.env("REDIS_URL", redis).env("REDIS_KEY_PREFIX", format!("taskwire-load-{}:", std::process::id()));
    }
    if target == Target::Taskwire {
        command.args(["serve", "--demo"]);
    }
    let mut child = command
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
        .unwrap_or_else(|e| {
            panic!("cannot start {binary} (run `cargo build --release --bin taskwire --examples` first): {e}")
        });
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..400 {
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

/// User plus system CPU seconds the processes have used, from /proc.
fn total_cpu_secs(pids: &[u32]) -> Option<f64> {
    if pids.is_empty() {
        return None;
    }
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    pids.iter()
        .map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // Fields after the parenthesised command name; utime and stime are the 12th and 13th of them.
            let rest = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let utime: f64 = fields.get(11)?.parse().ok()?;
            let stime: f64 = fields.get(12)?.parse().ok()?;
            Some((utime + stime) / ticks)
        })
        .sum()
}

/// Events per second between the first and the last arrival (a fence-post-free rate).
fn event_rate(arrivals: &[u64]) -> f64 {
    match (arrivals.first(), arrivals.last()) {
        (Some(first), Some(last)) if last > first => (arrivals.len() - 1) as f64 / ((last - first) as f64 / 1e6),
        _ => 0.0,
    }
}

/// The most arrivals within any `window_us`, arrival times in order.
fn most_within(arrivals: &[u64], window_us: u64) -> usize {
    let mut start = 0;
    let mut most = 0;
    for (end, &at) in arrivals.iter().enumerate() {
        while at - arrivals[start] >= window_us {
            start += 1;
        }
        most = most.max(end + 1 - start);
    }
    most
}
