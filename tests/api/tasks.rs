//! The task workflow over REST, and the events each session receives.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn the_whole_workflow_reaches_the_right_sessions() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let ann = app.token(ANN).await;
    let bob = app.token(BOB).await;
    let mut admin_ws = app.ws_subscribed(&admin, &["tasks"], None).await;
    let mut ann_ws = app.ws_subscribed(&ann, &["tasks"], None).await;
    let mut bob_ws = app.ws_subscribed(&bob, &["tasks"], None).await;

    let task = app.create_task(&ann, "Register the blue van").await;
    let id = task["id"].as_i64().unwrap();
    assert_eq!(task["status"], "pending_approval");
    assert_eq!(task["created_by_name"], "ann");
    assert_eq!(task["assignee"], task["created_by"]);
    assert_eq!(task["subtasks"], json!([]));
    for ws in [&mut admin_ws, &mut ann_ws] {
        let event = ws.expect_event("task.created").await;
        assert_eq!(event["channel"], "tasks");
        assert_eq!(event["data"]["id"], id);
        assert_eq!(event["data"]["status"], "pending_approval");
    }

    let approved = app.approve(&admin, id).await;
    assert_eq!(approved["status"], "approved");
    assert_eq!(approved["decided_by_name"], "admin");
    let titles: Vec<_> =
        approved["subtasks"].as_array().unwrap().iter().map(|s| s["title"].as_str().unwrap().to_owned()).collect();
    assert_eq!(titles, ["Verify customer data", "Check documents", "Register vehicle", "Hand over keys"]);
    assert!(approved["subtasks"].as_array().unwrap().iter().all(|s| s["status"] == "open"));
    for ws in [&mut admin_ws, &mut ann_ws] {
        let event = ws.expect_event("task.approved").await;
        assert_eq!(event["data"]["subtasks"].as_array().unwrap().len(), 4);
    }

    let subtask_ids: Vec<i64> =
        approved["subtasks"].as_array().unwrap().iter().map(|s| s["id"].as_i64().unwrap()).collect();
    for (n, subtask_id) in subtask_ids.iter().enumerate() {
        let (status, body) = app.post(&format!("/api/tasks/{id}/subtasks/{subtask_id}/complete"), Some(&ann)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let last = n == subtask_ids.len() - 1;
        assert_eq!(body["status"], if last { "completed" } else { "approved" });
        for ws in [&mut admin_ws, &mut ann_ws] {
            let event = ws.expect_event("subtask.completed").await;
            let done = event["data"]["subtasks"].as_array().unwrap().iter().filter(|s| s["status"] == "done").count();
            assert_eq!(done, n + 1);
            if last {
                let completed = ws.expect_event("task.completed").await;
                assert_eq!(completed["data"]["status"], "completed");
                assert!(completed["data"]["completed_at"].is_string());
                assert!(completed["id"].as_i64() > event["id"].as_i64());
            }
        }
    }

    // Bob neither created nor is assigned the task: nothing reached him.
    bob_ws.expect_silence().await;
    let (status, body) = app.get(&format!("/api/tasks/{id}"), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "completed");
    assert!(
        body["subtasks"].as_array().unwrap().iter().all(|s| s["status"] == "done" && s["completed_by"].is_number())
    );
}

#[tokio::test]
async fn rejection_is_seen_live_and_ends_the_task() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let ann = app.token(ANN).await;
    let task = app.create_task(&ann, "Register a car").await;
    let id = task["id"].as_i64().unwrap();
    let mut ann_ws = app.ws_subscribed(&ann, &[&format!("task:{id}")], None).await;

    let missing_reason =
        app.post_json(&format!("/api/tasks/{id}/reject"), Some(&admin), &json!({"reason": "  "})).await;
    assert_error(&missing_reason, StatusCode::BAD_REQUEST, "validation_failed");
    assert!(missing_reason.1["error"]["message"].as_str().unwrap().contains("reason"));

    let (status, body) =
        app.post_json(&format!("/api/tasks/{id}/reject"), Some(&admin), &json!({"reason": "Documents missing"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "rejected");
    assert_eq!(body["reject_reason"], "Documents missing");
    let event = ann_ws.expect_event("task.rejected").await;
    assert_eq!(event["channel"], format!("task:{id}"));
    assert_eq!(event["data"]["reject_reason"], "Documents missing");

    let again = app.post(&format!("/api/tasks/{id}/approve"), Some(&admin)).await;
    assert_error(&again, StatusCode::CONFLICT, "invalid_state");
    assert!(again.1["error"]["message"].as_str().unwrap().contains("rejected"));
}

#[tokio::test]
async fn of_two_concurrent_approvals_exactly_one_wins() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let ann = app.token(ANN).await;
    for round in 0..5 {
        let task = app.create_task(&ann, &format!("Race {round}")).await;
        let path = format!("/api/tasks/{}/approve", task["id"]);
        let (a, b) = tokio::join!(app.post(&path, Some(&admin)), app.post(&path, Some(&admin)));
        let mut statuses = [a.0, b.0];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT], "{a:?} {b:?}");
        let loser = if a.0 == StatusCode::CONFLICT { a } else { b };
        assert_eq!(loser.1["error"]["code"], "invalid_state");
        let (_, current) = app.get(&format!("/api/tasks/{}", task["id"]), Some(&admin)).await;
        assert_eq!(current["subtasks"].as_array().unwrap().len(), 4, "subtasks generated exactly once");
    }
}

#[tokio::test]
async fn concurrent_completion_of_the_last_subtasks_completes_the_task_once() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let ann = app.token(ANN).await;
    let task = app.create_task(&ann, "Parallel work").await;
    let id = task["id"].as_i64().unwrap();
    let approved = app.approve(&admin, id).await;
    let mut admin_ws = app.ws_subscribed(&admin, &["tasks"], None).await;
    let subtasks: Vec<i64> =
        approved["subtasks"].as_array().unwrap().iter().map(|s| s["id"].as_i64().unwrap()).collect();
    let paths: Vec<String> = subtasks.iter().map(|sid| format!("/api/tasks/{id}/subtasks/{sid}/complete")).collect();
    let results = futures_util::future::join_all(paths.iter().map(|p| app.post(p, Some(&ann)))).await;
    assert!(results.iter().all(|(status, _)| *status == StatusCode::OK), "{results:?}");
    let mut kinds = Vec::new();
    for _ in 0..5 {
        kinds.push(admin_ws.next_json().await["event"].as_str().unwrap().to_owned());
    }
    assert_eq!(kinds.iter().filter(|k| *k == "subtask.completed").count(), 4);
    assert_eq!(kinds.last().unwrap(), "task.completed");
    admin_ws.expect_silence().await;
    let (_, current) = app.get(&format!("/api/tasks/{id}"), Some(&admin)).await;
    assert_eq!(current["status"], "completed");
}

#[tokio::test]
async fn visibility_follows_creator_and_assignee() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let ann = app.token(ANN).await;
    let bob = app.token(BOB).await;
    let bob_id = app.get("/api/me", Some(&bob)).await.1["id"].as_i64().unwrap();
    let own = app.create_task(&ann, "Ann's own").await;
    let (status, for_bob) = app
        .post_json(
            "/api/tasks",
            Some(&ann),
            &json!({"title": "For Bob", "workflow": "vehicle_registration", "assignee": bob_id}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(for_bob["assignee_name"], "bob");

    let titles = |body: &serde_json::Value| -> Vec<String> {
        body["items"].as_array().unwrap().iter().map(|t| t["title"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(titles(&app.get("/api/tasks", Some(&ann)).await.1), ["For Bob", "Ann's own"]);
    assert_eq!(titles(&app.get("/api/tasks", Some(&bob)).await.1), ["For Bob"]);
    assert_eq!(titles(&app.get("/api/tasks", Some(&admin)).await.1).len(), 2);

    let hidden = app.get(&format!("/api/tasks/{}", own["id"]), Some(&bob)).await;
    assert_error(&hidden, StatusCode::NOT_FOUND, "not_found");
    let missing = app.get("/api/tasks/999999", Some(&bob)).await;
    assert_error(&missing, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(
        hidden.1["error"]["message"].as_str().unwrap().replace(&own["id"].to_string(), "N"),
        missing.1["error"]["message"].as_str().unwrap().replace("999999", "N")
    );

    // Only the assignee (or an ADMIN) completes subtasks: Ann created the task but Bob is assigned.
    let approved = app.approve(&admin, for_bob["id"].as_i64().unwrap()).await;
    let first = approved["subtasks"][0]["id"].as_i64().unwrap();
    let path = format!("/api/tasks/{}/subtasks/{first}/complete", for_bob["id"]);
    assert_error(&app.post(&path, Some(&ann)).await, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(app.post(&path, Some(&bob)).await.0, StatusCode::OK);
}

#[tokio::test]
async fn lists_filter_by_status_and_paginate() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let ann = app.token(ANN).await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(app.create_task(&ann, &format!("Task {n}")).await["id"].as_i64().unwrap());
    }
    app.approve(&admin, ids[0]).await;
    let (_, page) = app.get("/api/tasks?status=approved", Some(&admin)).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let (_, page) = app.get("/api/tasks?status=pending_approval,approved&limit=2", Some(&admin)).await;
    let first: Vec<i64> = page["items"].as_array().unwrap().iter().map(|t| t["id"].as_i64().unwrap()).collect();
    assert_eq!(first, [ids[4], ids[3]]);
    let next = page["next_before"].as_i64().unwrap();
    let (_, page) = app.get(&format!("/api/tasks?limit=2&before={next}"), Some(&admin)).await;
    let second: Vec<i64> = page["items"].as_array().unwrap().iter().map(|t| t["id"].as_i64().unwrap()).collect();
    assert_eq!(second, [ids[2], ids[1]]);
    let (_, page) = app.get(&format!("/api/tasks?limit=2&before={}", ids[1]), Some(&admin)).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert!(page["next_before"].is_null());

    assert_error(&app.get("/api/tasks?status=done", Some(&admin)).await, StatusCode::BAD_REQUEST, "validation_failed");
    assert_error(&app.get("/api/tasks?limit=0", Some(&admin)).await, StatusCode::BAD_REQUEST, "validation_failed");
    assert_error(&app.get("/api/tasks?limit=abc", Some(&admin)).await, StatusCode::BAD_REQUEST, "validation_failed");
}

#[tokio::test]
async fn bad_task_input_gets_clear_errors_and_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let ann = app.token(ANN).await;
    let malformed = app
        .http
        .post(app.url("/api/tasks"))
        .bearer_auth(&ann)
        .header("content-type", "application/json")
        .body("{\"title\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = malformed.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_json");

    let cases = [
        (json!({"workflow": "vehicle_registration"}), "title"),
        (json!({"title": "   ", "workflow": "vehicle_registration"}), "title"),
        (json!({"title": "x".repeat(201), "workflow": "vehicle_registration"}), "title"),
        (json!({"title": "Car", "workflow": ""}), "workflow"),
        (json!({"title": "Car", "workflow": "no_such_flow"}), "workflow"),
        (json!({"title": "Car", "workflow": "vehicle_registration", "assignee": 424242}), "assignee"),
        (json!({"title": 5, "workflow": "vehicle_registration"}), "title"),
    ];
    for (body, field) in cases {
        let response = app.post_json("/api/tasks", Some(&ann), &body).await;
        assert_error(&response, StatusCode::BAD_REQUEST, "validation_failed");
        assert!(response.1["error"]["message"].as_str().unwrap().contains(field), "{field}: {}", response.1);
    }
    let oversized = app
        .post_json(
            "/api/tasks",
            Some(&ann),
            &json!({"title": "Big", "workflow": "vehicle_registration", "description": "x".repeat(2 * 1024 * 1024)}),
        )
        .await;
    assert_error(&oversized, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    let (_, list) = app.get("/api/tasks", Some(&admin)).await;
    assert_eq!(list["items"], json!([]), "no task was created by bad input");

    let task = app.create_task(&ann, "Fine").await;
    let id = task["id"].as_i64().unwrap();
    assert_error(&app.post(&format!("/api/tasks/{id}/approve"), Some(&ann)).await, StatusCode::FORBIDDEN, "forbidden");
    assert_error(&app.post("/api/tasks/987654/approve", Some(&admin)).await, StatusCode::NOT_FOUND, "not_found");
    assert_error(
        &app.post(&format!("/api/tasks/{id}/subtasks/1/complete"), Some(&ann)).await,
        StatusCode::CONFLICT,
        "invalid_state",
    );
    let approved = app.approve(&admin, id).await;
    let sid = approved["subtasks"][0]["id"].as_i64().unwrap();
    let path = format!("/api/tasks/{id}/subtasks/{sid}/complete");
    assert_eq!(app.post(&path, Some(&ann)).await.0, StatusCode::OK);
    let repeated = app.post(&path, Some(&ann)).await;
    assert_error(&repeated, StatusCode::CONFLICT, "invalid_state");
    assert!(repeated.1["error"]["message"].as_str().unwrap().contains("already done"));
    assert_error(
        &app.post(&format!("/api/tasks/{id}/subtasks/999999/complete"), Some(&ann)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(&app.get("/api/tasks/not-a-number", Some(&ann)).await, StatusCode::BAD_REQUEST, "validation_failed");
    assert_error(
        &app.request(reqwest::Method::DELETE, "/api/tasks", Some(&ann), None).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
    assert_error(&app.get("/api/nothing-here", Some(&ann)).await, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn workflows_are_data_that_admins_edit() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let ann = app.token(ANN).await;
    let (status, list) = app.get("/api/workflows", Some(&ann)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list[0]["key"], "vehicle_registration");
    assert_eq!(list[0]["subtasks"].as_array().unwrap().len(), 4);

    let definition = json!({"name": "Quick check", "subtasks": ["Look", "Sign"]});
    assert_error(
        &app.request(reqwest::Method::PUT, "/api/workflows/quick_check", Some(&ann), Some(&definition)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let (status, saved) =
        app.request(reqwest::Method::PUT, "/api/workflows/quick_check", Some(&admin), Some(&definition)).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    for bad in [
        json!({"name": "", "subtasks": ["a"]}),
        json!({"name": "x", "subtasks": []}),
        json!({"name": "x", "subtasks": [" "]}),
    ] {
        assert_error(
            &app.request(reqwest::Method::PUT, "/api/workflows/quick_check", Some(&admin), Some(&bad)).await,
            StatusCode::BAD_REQUEST,
            "validation_failed",
        );
    }
    assert_error(
        &app.request(reqwest::Method::PUT, "/api/workflows/Bad%20Key", Some(&admin), Some(&definition)).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    );

    let (_, task) =
        app.post_json("/api/tasks", Some(&ann), &json!({"title": "Quick", "workflow": "quick_check"})).await;
    let approved = app.approve(&admin, task["id"].as_i64().unwrap()).await;
    let titles: Vec<_> =
        approved["subtasks"].as_array().unwrap().iter().map(|s| s["title"].as_str().unwrap().to_owned()).collect();
    assert_eq!(titles, ["Look", "Sign"]);
}

#[tokio::test]
async fn a_tasks_history_says_who_did_what_when() {
    let app = spawn_app().await;
    let (admin, ann, bob) = (app.token(ADMIN).await, app.token(ANN).await, app.token(BOB).await);
    let task = app.create_task(&ann, "Register the van").await;
    let id = task["id"].as_i64().unwrap();
    let approved = app.approve(&admin, id).await;
    let subtasks: Vec<i64> =
        approved["subtasks"].as_array().unwrap().iter().map(|s| s["id"].as_i64().unwrap()).collect();
    for subtask in &subtasks {
        let (status, _) = app.post(&format!("/api/tasks/{id}/subtasks/{subtask}/complete"), Some(&ann)).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, history) = app.get(&format!("/api/tasks/{id}/history"), Some(&ann)).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    let entries = history.as_array().unwrap();
    let kinds: Vec<&str> = entries.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    let mut expected = vec!["created", "approved"];
    expected.extend(std::iter::repeat_n("subtask_completed", subtasks.len()));
    expected.push("completed");
    assert_eq!(kinds, expected);
    assert_eq!(entries[0]["actor"]["name"], "ann");
    assert_eq!(entries[1]["actor"]["name"], "admin");
    assert_eq!(entries[2]["subtask"]["id"], subtasks[0]);
    assert_eq!(entries[2]["actor"]["name"], "ann");
    assert_eq!(entries.last().unwrap()["actor"], serde_json::Value::Null, "the server completed it");

    let rejected = app.create_task(&ann, "Wrong form").await["id"].as_i64().unwrap();
    let reason = json!({"reason": "use form B"});
    assert_eq!(app.post_json(&format!("/api/tasks/{rejected}/reject"), Some(&admin), &reason).await.0, StatusCode::OK);
    let (_, history) = app.get(&format!("/api/tasks/{rejected}/history"), Some(&admin)).await;
    assert_eq!(history[1]["kind"], "rejected");
    assert_eq!(history[1]["reason"], "use form B");

    // Whoever may not see the task may not see its history either.
    assert_error(&app.get(&format!("/api/tasks/{id}/history"), Some(&bob)).await, StatusCode::NOT_FOUND, "not_found");
    assert_error(&app.get("/api/tasks/999999/history", Some(&admin)).await, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn lists_search_titles_and_filter_by_workflow_and_assignee() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let ann = app.token(ANN).await;
    let bob = app.token(BOB).await;
    let bob_id = app.get("/api/me", Some(&bob)).await.1["id"].as_i64().unwrap();
    let quick = json!({"name": "Quick check", "subtasks": ["Look"]});
    let (status, _) = app.request(reqwest::Method::PUT, "/api/workflows/quick_check", Some(&admin), Some(&quick)).await;
    assert_eq!(status, StatusCode::OK);
    let create = |token: &str, title: &str, workflow: &str, assignee: Option<i64>| {
        let mut body = json!({"title": title, "workflow": workflow});
        if let Some(assignee) = assignee {
            body["assignee"] = json!(assignee);
        }
        let (app, token) = (&app, token.to_owned());
        async move {
            let (status, task) = app.post_json("/api/tasks", Some(&token), &body).await;
            assert_eq!(status, StatusCode::CREATED, "{task}");
            task["id"].as_i64().unwrap()
        }
    };
    let golf = create(&ann, "Register Golf for J. Smith", "vehicle_registration", None).await;
    let cyrillic = create(&ann, "Регистрация ГОЛЬФ", "quick_check", None).await;
    let for_bob = create(&ann, "Golf keys for Bob", "quick_check", Some(bob_id)).await;
    let literal = create(&bob, "100% done_ish", "vehicle_registration", None).await;

    let ids = |path: String, token: String| {
        let app = &app;
        async move {
            let (status, page) = app.get(&path, Some(&token)).await;
            assert_eq!(status, StatusCode::OK, "{path}: {page}");
            page["items"].as_array().unwrap().iter().map(|t| t["id"].as_i64().unwrap()).collect::<Vec<_>>()
        }
    };
    // Case-insensitive, anywhere in the title, Unicode included.
    assert_eq!(ids("/api/tasks?q=golf".into(), admin.clone()).await, [for_bob, golf]);
    assert_eq!(ids("/api/tasks?q=%20GOLF%20".into(), admin.clone()).await, [for_bob, golf], "trimmed");
    assert_eq!(ids("/api/tasks?q=гольф".into(), admin.clone()).await, [cyrillic]);
    // `%` and `_` are plain characters, not wildcards.
    assert_eq!(ids("/api/tasks?q=0%25%20d".into(), admin.clone()).await, [literal]);
    assert_eq!(ids("/api/tasks?q=e_i".into(), admin.clone()).await, [literal]);
    assert_eq!(ids("/api/tasks?q=_".into(), admin.clone()).await, [literal]);
    assert_eq!(ids("/api/tasks?q=%25".into(), admin.clone()).await, [literal]);
    // Workflow and assignee, combined with each other, the search and the status.
    assert_eq!(ids("/api/tasks?workflow=quick_check".into(), admin.clone()).await, [for_bob, cyrillic]);
    assert_eq!(ids(format!("/api/tasks?assignee={bob_id}"), admin.clone()).await, [literal, for_bob]);
    assert_eq!(
        ids(format!("/api/tasks?assignee={bob_id}&workflow=quick_check&q=keys"), admin.clone()).await,
        [for_bob]
    );
    app.approve(&admin, golf).await;
    assert_eq!(ids("/api/tasks?q=golf&status=approved".into(), admin.clone()).await, [golf]);
    assert!(ids("/api/tasks?workflow=nope".into(), admin.clone()).await.is_empty());
    // Filters never widen what a user may see: Bob sees his own and the one assigned to him.
    assert_eq!(ids("/api/tasks?q=golf".into(), bob.clone()).await, [for_bob]);
    assert!(ids(format!("/api/tasks?assignee={}", 1), bob.clone()).await.is_empty());

    let too_long = format!("/api/tasks?q={}", "a".repeat(201));
    assert_error(&app.get(&too_long, Some(&admin)).await, StatusCode::BAD_REQUEST, "validation_failed");
    assert!(ids(format!("/api/tasks?q={}", "a".repeat(200)), admin.clone()).await.is_empty());
    assert_error(&app.get("/api/tasks?assignee=bob", Some(&admin)).await, StatusCode::BAD_REQUEST, "validation_failed");
}

/// Creates share transactions under load (group commit); each request must still
/// get its own answer, refusals must stay per request, and every session must see
/// each created task exactly once, in id order.
#[tokio::test]
async fn simultaneous_creates_are_each_answered_and_announced_once_in_id_order() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let ann = app.token(ANN).await;
    let bob = app.token(BOB).await;
    let (_, users) = app.get("/api/users", Some(&admin)).await;
    let bob_id = users.as_array().unwrap().iter().find(|u| u["username"] == "bob").unwrap()["id"].as_i64().unwrap();
    let retired = json!({"key": "retired", "name": "Retired", "subtasks": ["One"]});
    assert_eq!(app.post_json("/api/workflows", Some(&admin), &retired).await.0, StatusCode::CREATED);
    let off = app.request(Method::PATCH, "/api/workflows/retired", Some(&admin), Some(&json!({"active": false}))).await;
    assert_eq!(off.0, StatusCode::OK, "{off:?}");
    let mut admin_ws = app.ws_subscribed(&admin, &["tasks"], None).await;
    let mut bob_ws = app.ws_subscribed(&bob, &["tasks"], None).await;

    // 60 requests at once: 30 good ones (half assigned to bob), 30 refused for three reasons.
    let bodies: Vec<Value> = (0..60)
        .map(|n| {
            let title = format!("T{n}");
            match (n < 30, n % 3) {
                (true, _) if n % 2 == 0 => json!({"title": title, "workflow": "vehicle_registration"}),
                (true, _) => json!({"title": title, "workflow": "vehicle_registration", "assignee": bob_id}),
                (false, 0) => json!({"title": title, "workflow": "retired"}),
                (false, 1) => json!({"title": title, "workflow": "no_such_flow"}),
                (false, _) => json!({"title": title, "workflow": "vehicle_registration", "assignee": 999_999}),
            }
        })
        .collect();
    let answers =
        futures_util::future::join_all(bodies.iter().map(|b| app.post_json("/api/tasks", Some(&ann), b))).await;

    let mut created = Vec::new();
    for (n, (body, answer)) in bodies.iter().zip(&answers).enumerate() {
        let (status, reply) = answer;
        if n < 30 {
            assert_eq!(*status, StatusCode::CREATED, "{n}: {reply}");
            assert_eq!(reply["title"], body["title"], "each request gets its own task");
            let to_bob = body.get("assignee").is_some();
            assert_eq!(reply["assignee_name"], if to_bob { "bob" } else { "ann" }, "{reply}");
            created.push((reply["id"].as_i64().unwrap(), reply["title"].as_str().unwrap().to_owned(), to_bob));
        } else {
            assert_error(answer, StatusCode::BAD_REQUEST, "validation_failed");
            let message = reply["error"]["message"].as_str().unwrap();
            let expected = match n % 3 {
                0 => "\"retired\" is inactive",
                1 => "no workflow named \"no_such_flow\"",
                _ => "no active user with id 999999",
            };
            assert!(message.contains(expected), "{n}: {message}");
        }
    }
    created.sort();
    assert!(created.windows(2).all(|w| w[0].0 < w[1].0), "distinct ids");

    let (mut seen, mut event_ids) = (Vec::new(), Vec::new());
    for _ in 0..created.len() {
        let event = admin_ws.expect_event("task.created").await;
        seen.push((event["data"]["id"].as_i64().unwrap(), event["data"]["title"].as_str().unwrap().to_owned()));
        event_ids.push(event["id"].as_i64().unwrap());
    }
    assert!(event_ids.windows(2).all(|w| w[0] < w[1]), "event ids ascend: {event_ids:?}");
    let expected: Vec<(i64, String)> = created.iter().map(|(id, title, _)| (*id, title.clone())).collect();
    assert_eq!(seen, expected, "every created task once, in id order");
    admin_ws.expect_silence().await;
    let bobs: Vec<i64> = created.iter().filter(|(_, _, to_bob)| *to_bob).map(|(id, _, _)| *id).collect();
    let mut bob_saw = Vec::new();
    for _ in 0..bobs.len() {
        bob_saw.push(bob_ws.expect_event("task.created").await["data"]["id"].as_i64().unwrap());
    }
    assert_eq!(bob_saw, bobs, "bob sees exactly the tasks assigned to him");
    bob_ws.expect_silence().await;

    let (_, listed) = app.get("/api/tasks?limit=200", Some(&admin)).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 30, "nothing refused was written");
    for (id, _, _) in &created {
        let (_, history) = app.get(&format!("/api/tasks/{id}/history"), Some(&ann)).await;
        assert_eq!(history[0]["kind"], "created", "{history}");
        assert_eq!(history[0]["actor"]["name"], "ann");
    }
}
