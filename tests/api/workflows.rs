//! Workflow templates: creating, changing and deactivating them, who sees which,
//! and the `workflows` channel that keeps the templates page live.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

fn keys(list: &Value) -> Vec<&str> {
    list.as_array().unwrap().iter().map(|w| w["key"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn admins_create_rename_reorder_and_deactivate_templates() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let ann = app.token(ANN).await;
    let mut page = app.ws_subscribed(&admin, &["workflows"], None).await;

    let body = json!({"key": "onboarding", "name": " Onboarding ", "subtasks": ["Call", " Sign "]});
    let (status, created) = app.post_json("/api/workflows", Some(&admin), &body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!((created["name"].as_str(), created["active"].as_bool()), (Some("Onboarding"), Some(true)));
    assert_eq!(created["subtasks"], json!(["Call", "Sign"]));
    let event = page.expect_event("workflow.created").await;
    assert_eq!((event["channel"].as_str(), event["data"]["key"].as_str()), (Some("workflows"), Some("onboarding")));

    // A taken key is a conflict, and the template is left as it was.
    let again = json!({"key": "onboarding", "name": "Other", "subtasks": ["X"]});
    assert_error(&app.post_json("/api/workflows", Some(&admin), &again).await, StatusCode::CONFLICT, "conflict");

    // Rename, reorder and add a subtask, in one PATCH or several.
    let path = "/api/workflows/onboarding";
    let (status, renamed) = app.request(Method::PATCH, path, Some(&admin), Some(&json!({"name": "Onboard"}))).await;
    assert_eq!((status, renamed["subtasks"].clone()), (StatusCode::OK, json!(["Call", "Sign"])));
    let reorder = json!({"subtasks": ["Sign", "Call", "File"]});
    let (_, reordered) = app.request(Method::PATCH, path, Some(&admin), Some(&reorder)).await;
    assert_eq!(
        (reordered["name"].as_str(), reordered["subtasks"].clone()),
        (Some("Onboard"), reorder["subtasks"].clone())
    );
    for _ in 0..2 {
        assert_eq!(page.expect_event("workflow.updated").await["data"]["active"], true);
    }

    // Deactivated: ADMINs still list it with its flag, ADMIN_LIMITED no longer sees it.
    let (_, inactive) = app.request(Method::PATCH, path, Some(&admin), Some(&json!({"active": false}))).await;
    assert_eq!(inactive["active"], false);
    assert_eq!(page.expect_event("workflow.updated").await["data"]["active"], false);
    let (_, all) = app.get("/api/workflows", Some(&admin)).await;
    assert_eq!(keys(&all), ["onboarding", "vehicle_registration"]);
    assert_eq!(all[0]["active"], false);
    let (_, offered) = app.get("/api/workflows", Some(&ann)).await;
    assert_eq!(keys(&offered), ["vehicle_registration"]);

    // Reactivated: offered again.
    app.request(Method::PATCH, path, Some(&admin), Some(&json!({"active": true}))).await;
    let (_, offered) = app.get("/api/workflows", Some(&ann)).await;
    assert_eq!(keys(&offered), ["onboarding", "vehicle_registration"]);
    assert_error(
        &app.request(Method::PATCH, "/api/workflows/nothing_here", Some(&admin), Some(&json!({"active": true}))).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

#[tokio::test]
async fn bad_templates_are_refused_with_the_field_named() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let long = "n".repeat(201);
    let many: Vec<String> = (0..51).map(|i| format!("Step {i}")).collect();
    for (body, field) in [
        (json!({"key": "Bad Key", "name": "x", "subtasks": ["a"]}), "key"),
        (json!({"key": "", "name": "x", "subtasks": ["a"]}), "key"),
        (json!({"key": "k".repeat(65), "name": "x", "subtasks": ["a"]}), "key"),
        (json!({"key": "ok", "name": "  ", "subtasks": ["a"]}), "name"),
        (json!({"key": "ok", "name": long, "subtasks": ["a"]}), "name"),
        (json!({"key": "ok", "name": "x", "subtasks": []}), "subtasks"),
        (json!({"key": "ok", "name": "x", "subtasks": many}), "subtasks"),
        (json!({"key": "ok", "name": "x", "subtasks": ["a", " "]}), "subtasks[1]"),
        (json!({"key": "ok", "name": "x", "subtasks": ["a", long]}), "subtasks[1]"),
        (json!({"key": "ok", "name": "x"}), "subtasks"),
        (json!({"key": "ok", "name": "x", "subtasks": ["a"], "colour": "red"}), "colour"),
    ] {
        let response = app.post_json("/api/workflows", Some(&admin), &body).await;
        assert_error(&response, StatusCode::BAD_REQUEST, "validation_failed");
        let message = response.1["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{field} in {message}");
    }
    let path = "/api/workflows/vehicle_registration";
    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"subtasks": []}), "subtasks"),
        (json!({"active": "no"}), "active"),
        (json!({"key": "other"}), "key"),
    ] {
        let response = app.request(Method::PATCH, path, Some(&admin), Some(&body)).await;
        assert_error(&response, StatusCode::BAD_REQUEST, "validation_failed");
        assert!(response.1["error"]["message"].as_str().unwrap().contains(field), "{}", response.1);
    }
    let malformed = app.request(Method::PATCH, "/api/workflows/Bad%00Key", Some(&admin), Some(&json!({}))).await;
    assert_error(&malformed, StatusCode::BAD_REQUEST, "validation_failed");
    let (_, list) = app.get("/api/workflows", Some(&admin)).await;
    assert_eq!(keys(&list), ["vehicle_registration"], "nothing was created");
    assert_eq!(list[0]["subtasks"].as_array().unwrap().len(), 4, "nothing was changed");
}

#[tokio::test]
async fn only_admins_change_templates_or_follow_them() {
    let app = spawn_app().await;
    let ann = app.token(ANN).await;
    let body = json!({"key": "mine", "name": "Mine", "subtasks": ["a"]});
    assert_error(&app.post_json("/api/workflows", Some(&ann), &body).await, StatusCode::FORBIDDEN, "forbidden");
    let change = json!({"active": false});
    let response = app.request(Method::PATCH, "/api/workflows/vehicle_registration", Some(&ann), Some(&change)).await;
    assert_error(&response, StatusCode::FORBIDDEN, "forbidden");
    assert_error(&app.post_json("/api/workflows", None, &body).await, StatusCode::UNAUTHORIZED, "unauthenticated");
    let mut ws = app.ws(&ann).await;
    ws.send_json(json!({"type": "subscribe", "channels": ["workflows"]})).await;
    let refused = ws.next_json().await;
    assert_eq!((refused["type"].as_str(), refused["code"].as_str()), (Some("error"), Some("forbidden")));
}

#[tokio::test]
async fn an_inactive_template_is_refused_for_new_tasks_but_old_tasks_keep_it() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let ann = app.token(ANN).await;
    let earlier = app.create_task(&ann, "Created while active").await;
    let path = "/api/workflows/vehicle_registration";
    app.request(Method::PATCH, path, Some(&admin), Some(&json!({"active": false}))).await;

    for token in [&ann, &admin] {
        let body = json!({"title": "Too late", "workflow": "vehicle_registration"});
        let response = app.post_json("/api/tasks", Some(token), &body).await;
        assert_error(&response, StatusCode::BAD_REQUEST, "validation_failed");
        let message = response.1["error"]["message"].as_str().unwrap();
        assert!(message.starts_with("workflow:") && message.contains("inactive"), "{message}");
    }
    // The task created before is approved with the template's subtasks.
    let approved = app.approve(&admin, earlier["id"].as_i64().unwrap()).await;
    assert_eq!(approved["subtasks"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn put_keeps_the_flag_unless_it_names_one() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let mut page = app.ws_subscribed(&admin, &["workflows"], None).await;
    let path = "/api/workflows/quick_check";
    let definition = json!({"name": "Quick check", "subtasks": ["Look", "Sign"]});
    let (status, created) = app.request(Method::PUT, path, Some(&admin), Some(&definition)).await;
    assert_eq!((status, created["active"].as_bool()), (StatusCode::OK, Some(true)));
    assert_eq!(page.expect_event("workflow.created").await["data"]["key"], "quick_check");

    let off = json!({"name": "Quick check", "subtasks": ["Look"], "active": false});
    assert_eq!(app.request(Method::PUT, path, Some(&admin), Some(&off)).await.1["active"], false);
    let (_, replaced) = app.request(Method::PUT, path, Some(&admin), Some(&definition)).await;
    assert_eq!(replaced["active"], false, "a PUT without active keeps the current value");
    assert_eq!(replaced["subtasks"], json!(["Look", "Sign"]));
    for _ in 0..2 {
        page.expect_event("workflow.updated").await;
    }
}

#[tokio::test]
async fn simultaneous_creates_of_one_key_give_one_template() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let attempts = (0..20).map(|i| {
        let body = json!({"key": "race", "name": format!("Race {i}"), "subtasks": ["a"]});
        let (app, admin) = (&app, &admin);
        async move { app.post_json("/api/workflows", Some(admin), &body).await }
    });
    assert_one_created_rest_conflict(&futures_util::future::join_all(attempts).await);
}
