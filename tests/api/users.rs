//! ADMIN user management.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn admins_create_list_and_change_users() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let (status, created) = app
        .post_json(
            "/api/users",
            Some(&admin),
            &json!({"username": "Carol", "password": "carol-password", "role": "ADMIN_LIMITED"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["username"], "carol");
    assert!(created.get("password_hash").is_none());
    let duplicate = app
        .post_json(
            "/api/users",
            Some(&admin),
            &json!({"username": "carol", "password": "carol-password", "role": "ADMIN"}),
        )
        .await;
    assert_error(&duplicate, StatusCode::CONFLICT, "conflict");
    for (body, field) in [
        (json!({"username": "x", "password": "long-enough", "role": "ADMIN"}), "username"),
        (json!({"username": "dave", "password": "short", "role": "ADMIN"}), "password"),
        (json!({"username": "dave", "password": "long-enough", "role": "ROOT"}), "role"),
    ] {
        let response = app.post_json("/api/users", Some(&admin), &body).await;
        assert_error(&response, StatusCode::BAD_REQUEST, "validation_failed");
        assert!(response.1["error"]["message"].as_str().unwrap().contains(field));
    }
    let (_, list) = app.get("/api/users", Some(&admin)).await;
    let names: Vec<_> = list.as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap().to_owned()).collect();
    assert_eq!(names, ["admin", "ann", "bob", "carol"]);

    let id = created["id"].as_i64().unwrap();
    let (status, promoted) = app
        .request(
            Method::PATCH,
            &format!("/api/users/{id}"),
            Some(&admin),
            Some(&json!({"role": "ADMIN", "password": "new-carol-password"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(promoted["role"], "ADMIN");
    assert_eq!(
        app.post_json("/api/auth/login", None, &json!({"username": "carol", "password": "new-carol-password"})).await.0,
        StatusCode::OK
    );
    assert_error(
        &app.request(Method::PATCH, "/api/users/99999", Some(&admin), Some(&json!({"is_active": false}))).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &app.request(Method::PATCH, &format!("/api/users/{id}"), Some(&admin), Some(&json!({"colour": "red"}))).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    );

    let admin_id = app.get("/api/me", Some(&admin)).await.1["id"].as_i64().unwrap();
    let demote_self = app
        .request(
            Method::PATCH,
            &format!("/api/users/{admin_id}"),
            Some(&admin),
            Some(&json!({"role": "ADMIN_LIMITED"})),
        )
        .await;
    assert_error(&demote_self, StatusCode::CONFLICT, "invalid_state");
}

#[tokio::test]
async fn only_admins_manage_users() {
    let app = spawn_app().await;
    let ann = app.token(ANN).await;
    assert_error(&app.get("/api/users", Some(&ann)).await, StatusCode::FORBIDDEN, "forbidden");
    assert_error(
        &app.post_json(
            "/api/users",
            Some(&ann),
            &json!({"username": "eve", "password": "eve-password", "role": "ADMIN"}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
}

#[tokio::test]
async fn bad_user_changes_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let ann_id = app.get("/api/me", Some(&app.token(ANN).await)).await.1["id"].as_i64().unwrap();
    let path = format!("/api/users/{ann_id}");
    for (body, field) in [(json!({"role": "OWNER"}), "role"), (json!({"password": "short"}), "password")] {
        let response = app.request(Method::PATCH, &path, Some(&admin), Some(&body)).await;
        assert_error(&response, StatusCode::BAD_REQUEST, "validation_failed");
        assert!(response.1["error"]["message"].as_str().unwrap().contains(field));
    }
    let (_, users) = app.get("/api/users", Some(&admin)).await;
    let ann = users.as_array().unwrap().iter().find(|u| u["id"] == ann_id).unwrap().clone();
    assert_eq!(ann["role"], "ADMIN_LIMITED");
    assert_eq!(
        app.post_json("/api/auth/login", None, &json!({"username": "ann", "password": ANN.1})).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_login_is_remembered_in_last_login_at() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let ann_of = |list: &serde_json::Value| list.as_array().unwrap().iter().find(|u| u["username"] == "ann").cloned();
    let (_, before) = app.get("/api/users", Some(&admin)).await;
    let ann = ann_of(&before).unwrap();
    assert!(ann["last_login_at"].is_null(), "{ann}");
    assert!(ann["updated_at"].is_string(), "{ann}");
    // A wrong password is no login.
    let refused =
        app.post_json("/api/auth/login", None, &json!({"username": "ann", "password": "wrong-password"})).await;
    assert_error(&refused, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_eq!(refused.1["error"]["message"], "invalid username or password", "{}", refused.1);
    let (_, after_failure) = app.get("/api/users", Some(&admin)).await;
    assert!(ann_of(&after_failure).unwrap()["last_login_at"].is_null());

    let started = chrono::Utc::now();
    app.token(ANN).await;
    let (_, after) = app.get("/api/users", Some(&admin)).await;
    let ann = ann_of(&after).unwrap();
    let at: chrono::DateTime<chrono::Utc> = ann["last_login_at"].as_str().unwrap().parse().unwrap();
    assert!(at >= started - chrono::Duration::seconds(1), "{ann}");
    assert_eq!(ann["updated_at"], ann_of(&before).unwrap()["updated_at"], "a login is not a change to the account");
}

#[tokio::test]
async fn admins_follow_user_changes_live_and_nobody_else_may() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let ann = app.token(ANN).await;
    let mut page = app.ws_subscribed(&admin, &["users"], None).await;

    let mut limited = app.ws(&ann).await;
    limited.send_json(json!({"type": "subscribe", "channels": ["users"]})).await;
    let refused = limited.next_json().await;
    assert_eq!((refused["type"].as_str(), refused["code"].as_str()), (Some("error"), Some("forbidden")), "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("ADMIN"), "{refused}");

    let body = json!({"username": "dora", "password": "dora-password", "role": "ADMIN_LIMITED"});
    let (_, dora) = app.post_json("/api/users", Some(&admin), &body).await;
    let created = page.expect_event("user.created").await;
    assert_eq!(created["channel"], "users");
    assert_eq!(created["data"], dora);
    assert!(created["data"].get("password_hash").is_none());

    let id = dora["id"].as_i64().unwrap();
    let path = format!("/api/users/{id}");
    let (_, disabled) = app.request(Method::PATCH, &path, Some(&admin), Some(&json!({"is_active": false}))).await;
    let updated = page.expect_event("user.updated").await;
    assert_eq!((updated["data"].clone(), updated["data"]["is_active"].as_bool()), (disabled, Some(false)));

    // A refused change writes no event: the next one is the barrier's.
    let admin_id = app.get("/api/me", Some(&admin)).await.1["id"].as_i64().unwrap();
    let self_disable = app
        .request(Method::PATCH, &format!("/api/users/{admin_id}"), Some(&admin), Some(&json!({"is_active": false})))
        .await;
    assert_error(&self_disable, StatusCode::CONFLICT, "invalid_state");
    assert!(self_disable.1["error"]["message"].as_str().unwrap().contains("disable yourself"));
    app.request(Method::PATCH, &path, Some(&admin), Some(&json!({"is_active": true, "role": "ADMIN"}))).await;
    let barrier = page.expect_event("user.updated").await;
    assert_eq!((barrier["data"]["is_active"].as_bool(), barrier["data"]["role"].as_str()), (Some(true), Some("ADMIN")));

    // Replay with since brings them back too.
    let mut late = app.ws_subscribed(&admin, &["users"], Some(0)).await;
    for kind in ["user.created", "user.updated", "user.updated"] {
        late.expect_event(kind).await;
    }
}

#[tokio::test]
async fn simultaneous_creates_of_one_username_give_one_user() {
    // Every hash at once, so all twenty reach the insert together (and none waits out its turn into a 503).
    let app = spawn_app_with(|c| c.password_hash_concurrency = 20).await;
    let admin = app.token(ADMIN).await;
    let attempts = (0..20).map(|_| {
        let body = json!({"username": "twin", "password": "twin-password", "role": "ADMIN_LIMITED"});
        let (app, admin) = (&app, &admin);
        async move { app.post_json("/api/users", Some(admin), &body).await }
    });
    assert_one_created_rest_conflict(&futures_util::future::join_all(attempts).await);
    let (_, list) = app.get("/api/users", Some(&admin)).await;
    assert_eq!(list.as_array().unwrap().iter().filter(|u| u["username"] == "twin").count(), 1);
}

#[tokio::test]
async fn users_and_workflows_have_no_single_entity_channels_even_for_admins() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let mut ws = app.ws(&admin).await;
    for name in ["users:1", "workflows:1"] {
        ws.send_json(json!({"type": "subscribe", "channels": [name]})).await;
        let refused = ws.next_json().await;
        assert_eq!(
            (refused["type"].as_str(), refused["code"].as_str()),
            (Some("error"), Some("unknown_channel")),
            "{refused}"
        );
        assert!(refused["message"].as_str().unwrap().contains(name), "{refused}");
    }
    // The collection channels stay open to an ADMIN.
    ws.send_json(json!({"type": "subscribe", "channels": ["users", "workflows"]})).await;
    assert_eq!(ws.next_json().await["type"], "subscribed");
}
