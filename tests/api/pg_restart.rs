//! PostgreSQL restarting under a running server: `/ready` reports it, changes fail
//! cleanly with 503, and afterwards every committed event reaches every session once.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Duration,
};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    helpers::*,
    scale::{read_events, until_ready_is},
};

/// Set to run the suite on a machine without PostgreSQL's server binaries: the test then skips, loudly.
const ALLOW_SKIP: &str = "TASKWIRE_ALLOW_SKIP_PG_RESTART";

/// A PostgreSQL cluster of the test's own, on a port of its own, that the test stops and starts.
struct OwnPostgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl OwnPostgres {
    /// The directory holding `initdb` and `pg_ctl`: `pg_config --bindir`, else the newest under /usr/lib/postgresql.
    fn server_binaries() -> Option<PathBuf> {
        let from_pg_config = Command::new("pg_config")
            .arg("--bindir")
            .output()
            .ok()
            .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .map(|dirs| dirs.filter_map(|d| d.ok()).map(|d| d.path().join("bin")).collect())
            .unwrap_or_default();
        versions.sort();
        from_pg_config.into_iter().chain(versions.into_iter().rev()).find(|bin| bin.join("initdb").is_file())
    }

    /// Creates and starts a cluster with trust authentication; `None` when the binaries are missing.
    async fn start() -> Option<OwnPostgres> {
        let bin = Self::server_binaries()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("taskwire-pg-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let cluster = OwnPostgres { bin, dir, port };
        if running_as_root() {
            // initdb refuses root: the cluster belongs to the postgres user.
            let owned = Command::new("chown").args(["postgres:", &cluster.dir.display().to_string()]).status();
            assert!(owned.is_ok_and(|s| s.success()), "chown the cluster directory to postgres");
        }
        let data = cluster.data().display().to_string();
        cluster.run("initdb", &["-D", &data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]).await;
        cluster.start_server().await;
        Some(cluster)
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Runs one of the server binaries, as the postgres user when the test runs as root,
    /// without blocking the runtime the server under test runs on.
    async fn run(&self, tool: &str, args: &[&str]) {
        let program = self.bin.join(tool);
        let mut command = if running_as_root() {
            let mut c = tokio::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            tokio::process::Command::new(&program)
        };
        let output = command.args(args).stdin(Stdio::null()).output().await.expect("the PostgreSQL tools run");
        assert!(output.status.success(), "{tool} {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    }

    async fn start_server(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off",
            self.port,
            self.dir.display()
        );
        let (data, log) = (self.data().display().to_string(), self.dir.join("log").display().to_string());
        self.run("pg_ctl", &["-D", &data, "-o", &options, "-l", &log, "-w", "-t", "20", "start"]).await;
    }

    /// A clean, fast shutdown: sessions are cut, committed work stays.
    async fn stop_server(&self) {
        self.run("pg_ctl", &["-D", &self.data().display().to_string(), "-m", "fast", "-w", "stop"]).await;
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let pg_ctl = self.bin.join("pg_ctl");
        let data = self.data();
        let mut command = if running_as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&pg_ctl);
            c
        } else {
            Command::new(&pg_ctl)
        };
        let _ = command.arg("-D").arg(&data).args(["-m", "immediate", "stop"]).output();
        let _ = std::fs::remove_dir_all(Path::new(&self.dir));
    }
}

fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[tokio::test]
async fn postgres_restarting_mid_run_fails_changes_cleanly_and_loses_or_repeats_no_event() {
    let Some(postgres) = OwnPostgres::start().await else {
        if std::env::var_os(ALLOW_SKIP).is_some() {
            eprintln!("SKIPPED: PostgreSQL's initdb/pg_ctl are not installed ({ALLOW_SKIP} is set)");
            return;
        }
        panic!("PostgreSQL's initdb and pg_ctl are needed (install postgresql, or set {ALLOW_SKIP}=1 to skip)");
    };
    let app = spawn_on(&postgres.url(), |c| c.database_acquire_timeout = Duration::from_millis(500)).await;
    for (user, role) in [(ADMIN, "ADMIN"), (ANN, "ADMIN_LIMITED"), (BOB, "ADMIN_LIMITED")] {
        taskwire::users::service::create_user(&app.state.db, user.0, user.1, role).await.unwrap();
    }
    let admin = app.token(ADMIN).await;
    let ann = app.token(ANN).await;
    let mut sessions = vec![
        app.ws_subscribed(&admin, &["tasks"], None).await,
        app.ws_subscribed(&admin, &["tasks"], None).await,
        app.ws_subscribed(&ann, &["tasks"], None).await,
    ];
    let before = app.create_task(&ann, "before").await;
    let before_id = before["id"].as_i64().unwrap();

    postgres.stop_server().await;
    let body = until_ready_is(&app, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(body["checks"]["database"], "down", "{body}");
    // Creates waiting together (one batch, and whoever queues behind it) and a
    // lone approval: each gets its own 503, none is written later.
    let approve = format!("/api/tasks/{before_id}/approve");
    let bodies: Vec<Value> =
        (0..8).map(|n| json!({"title": format!("during {n}"), "workflow": "vehicle_registration"})).collect();
    let (creates, approval) = tokio::join!(
        futures_util::future::join_all(bodies.iter().map(|body| app.post_json("/api/tasks", Some(&ann), body))),
        app.post(&approve, Some(&admin)),
    );
    for response in creates.iter().chain([&approval]) {
        assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    }

    postgres.start_server().await;
    until_ready_is(&app, StatusCode::OK).await;
    app.create_task(&ann, "after 1").await;
    app.approve(&admin, before_id).await;
    app.create_task(&ann, "after 2").await;

    let expected: Vec<(String, String)> = [
        ("task.created", "before"),
        ("task.created", "after 1"),
        ("task.approved", "before"),
        ("task.created", "after 2"),
    ]
    .iter()
    .map(|(e, t)| ((*e).to_owned(), (*t).to_owned()))
    .collect();
    for ws in &mut sessions {
        assert_eq!(read_events(ws, expected.len()).await.0, expected);
        ws.expect_silence().await;
    }
    let (_, tasks) = app.get("/api/tasks", Some(&admin)).await;
    let mut titles: Vec<&str> =
        tasks["items"].as_array().unwrap().iter().map(|t| t["title"].as_str().unwrap()).collect();
    titles.sort();
    assert_eq!(titles, ["after 1", "after 2", "before"], "nothing of the failed changes was kept");
    let (_, task) = app.get(&format!("/api/tasks/{before_id}"), Some(&admin)).await;
    assert_eq!((task["title"].as_str(), task["status"].as_str()), (Some("before"), Some("approved")));
}
