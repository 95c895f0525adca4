//! The same code on the real PostgreSQL: migrations and a whole workflow, in a database of its own.

use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn migrations_and_the_workflow_run_on_postgres() {
    let (database, url) = TestDatabase::create_postgres().await;
    let mut app = spawn_on(&url, |_| {}).await;
    for (user, role) in [(ADMIN, "ADMIN"), (ANN, "ADMIN_LIMITED")] {
        taskwire::users::service::create_user(&app.state.db, user.0, user.1, role).await.unwrap();
    }
    let admin = app.token(ADMIN).await;
    let ann = app.token(ANN).await;
    let mut admin_ws = app.ws_subscribed(&admin, &["tasks"], None).await;

    let task = app.create_task(&ann, "On PostgreSQL").await;
    let id = task["id"].as_i64().unwrap();
    admin_ws.expect_event("task.created").await;
    let path = format!("/api/tasks/{id}/approve");
    let (a, b) = tokio::join!(app.post(&path, Some(&admin)), app.post(&path, Some(&admin)));
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);
    let approved = admin_ws.expect_event("task.approved").await;
    let subtasks: Vec<i64> =
        approved["data"]["subtasks"].as_array().unwrap().iter().map(|s| s["id"].as_i64().unwrap()).collect();
    let paths: Vec<String> = subtasks.iter().map(|sid| format!("/api/tasks/{id}/subtasks/{sid}/complete")).collect();
    let results = futures_util::future::join_all(paths.iter().map(|p| app.post(p, Some(&ann)))).await;
    assert!(results.iter().all(|(s, _)| *s == StatusCode::OK), "{results:?}");
    let mut last_id = approved["id"].as_i64().unwrap();
    for n in 0..5 {
        let frame = admin_ws.next_json().await;
        assert!(frame["id"].as_i64().unwrap() > last_id, "ids arrive in increasing order");
        last_id = frame["id"].as_i64().unwrap();
        assert_eq!(frame["event"], if n < 4 { "subtask.completed" } else { "task.completed" });
    }
    let (_, current) = app.get(&format!("/api/tasks/{id}"), Some(&admin)).await;
    assert_eq!(current["status"], "completed");

    // A reconnecting client replays from the outbox on PostgreSQL too.
    let mut replay = app.ws_subscribed(&admin, &["tasks"], Some(0)).await;
    let mut replayed = Vec::new();
    for _ in 0..7 {
        replayed.push(replay.next_json().await["event"].as_str().unwrap().to_owned());
    }
    assert_eq!(replayed[..2], ["task.created", "task.approved"]);
    assert_eq!(replayed.last().unwrap(), "task.completed");
    app.stop().await;
    drop(database);
}

#[tokio::test]
async fn one_postgres_instance_keeps_no_user_row_either() {
    // Without Redis, instances on one PostgreSQL still share the outbox: another
    // instance may change an account, so each request reads it.
    let (database, url) = TestDatabase::create_postgres().await;
    let mut app = spawn_on(&url, |c| c.user_cache_ttl = std::time::Duration::from_secs(60)).await;
    taskwire::users::service::create_user(&app.state.db, ANN.0, ANN.1, "ADMIN_LIMITED").await.unwrap();
    let ann = app.token(ANN).await;
    let ann_id = app.get("/api/me", Some(&ann)).await.1["id"].as_i64().unwrap();
    assert_eq!(app.get("/api/me", Some(&ann)).await.0, StatusCode::OK);
    disable_in_the_database(&app, ann_id).await;
    assert_error(&app.get("/api/me", Some(&ann)).await, StatusCode::UNAUTHORIZED, "unauthenticated");
    app.stop().await;
    drop(database);
}
