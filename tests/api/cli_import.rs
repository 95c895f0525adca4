//! `taskwire import-catalog [FILE]`, run as the built binary: progress lines when
//! not on a terminal, a non-zero exit when the import fails or the lock is held.

use std::process::{Command, Output};

use sea_orm::{EntityTrait, PaginatorTrait};
use taskwire::{entity::product, jobs::service::Runner};

use crate::{helpers::*, scraping::tempdir_with};

const CSV: &str = include_str!("../fixtures/catalog/catalog.csv");

/// Runs `taskwire import-catalog ARGS` on the database at `url` with catalogs in `dir`.
fn import_catalog(url: &str, dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let secret = taskwire::Config::for_tests("sqlite::memory:").jwt_secret;
    let mut command = Command::new(env!("CARGO_BIN_EXE_taskwire"));
    command
        .arg("import-catalog")
        .args(args)
        .env("DATABASE_URL", url)
        .env("CATALOG_DIR", dir)
        .env("JWT_SECRET", String::from_utf8(secret).unwrap())
        .env_remove("REDIS_URL")
        .env_remove("RUST_LOG");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("the taskwire binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn the_command_imports_with_progress_lines_and_exits_zero() {
    let dir = tempdir_with(&[("catalog.csv", CSV)]);
    let (_database, url) = TestDatabase::create().await;
    let output = tokio::task::spawn_blocking({
        let (url, dir) = (url.clone(), dir.clone());
        move || import_catalog(&url, &dir, &["catalog.csv"], &[])
    })
    .await
    .unwrap();
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(output.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("imported 12 of 13 products; 2 items failed"), "{stdout}");
    // Not a terminal: plain lines, no bar, no carriage returns.
    assert!(!stderr.contains('\r') && !stderr.contains("[#"), "{stderr}");
    assert!(stderr.lines().any(|l| l.contains("completed: 13 / 13 (100%) · 2 failed")), "{stderr}");
    let db = taskwire::db::connect(&url).await.unwrap();
    assert_eq!(product::Entity::find().count(&db).await.unwrap(), 12);
    db.close().await.ok();

    // A path to a file elsewhere works too.
    let other = tempdir_with(&[("more.csv", "sku,name\nX-1,Extra\n")]);
    let path = other.join("more.csv").display().to_string();
    let output = tokio::task::spawn_blocking({
        let (url, dir) = (url.clone(), dir.clone());
        move || import_catalog(&url, &dir, &[&path], &[])
    })
    .await
    .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(other);
}

#[tokio::test]
async fn a_failing_import_or_an_unknown_file_exits_non_zero() {
    let dir = tempdir_with(&[("bad.csv", "id,title\n1,Ball\n")]);
    let (_database, url) = TestDatabase::create().await;
    let output = tokio::task::spawn_blocking({
        let (url, dir) = (url.clone(), dir.clone());
        move || import_catalog(&url, &dir, &["bad.csv"], &[])
    })
    .await
    .unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("failed") && stderr.contains("sku and name"), "{stderr}");

    let output = tokio::task::spawn_blocking({
        let (url, dir) = (url.clone(), dir.clone());
        move || import_catalog(&url, &dir, &["nope.csv"], &[])
    })
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("no catalog file \"nope.csv\""), "{}", text(&output.stderr));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn an_import_running_elsewhere_makes_the_command_exit_non_zero() {
    let dir = tempdir_with(&[("catalog.csv", CSV)]);
    let app = spawn_app().await;
    let url = app.state.config.database_url.clone();
    // An import running on a server (the database knows it even without a shared lock backend).
    let running = crate::jobs::stored_job(&app, "catalog_import", None, Runner::External, true).await;
    let output = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || import_catalog(&url, &dir, &["catalog.csv"], &[])
    })
    .await
    .unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("job {} is already running", running.id)), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_command_takes_the_cluster_wide_lock_in_redis() {
    use std::sync::Arc;
    use taskwire::lock::{Locks, RedisLock};
    const IMPORT_LOCK: &str = "catalog_import";
    let dir = tempdir_with(&[("catalog.csv", CSV)]);
    let (_database, url) = TestDatabase::create().await;
    let prefix = format!("taskwire-cli-{:08x}:", rand::random::<u32>());
    let redis = "redis://127.0.0.1:6379";
    let locks = Locks::new(Arc::new(RedisLock::new(redis, &prefix).unwrap()), std::time::Duration::from_secs(30));
    // Another instance holds the import lock.
    let held = locks.try_acquire(IMPORT_LOCK).await.unwrap().expect("the lock is free");
    let env = [("REDIS_URL", redis), ("REDIS_KEY_PREFIX", prefix.as_str())];
    let run = |env: Vec<(String, String)>| {
        let (url, dir) = (url.clone(), dir.clone());
        tokio::task::spawn_blocking(move || {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            import_catalog(&url, &dir, &[], &env)
        })
    };
    let owned = || env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
    let output = run(owned()).await.unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("another catalog import"), "{}", text(&output.stderr));
    held.release().await;
    let output = run(owned()).await.unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let _ = std::fs::remove_dir_all(dir);
}
