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
