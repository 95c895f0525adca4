//! Login, tokens, cookies, refresh rotation, logout and throttling.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn login_returns_tokens_and_sets_http_only_cookies() {
    let app = spawn_app().await;
    let response = app
        .http
        .post(app.url("/api/auth/login"))
        .json(&json!({"username": "ann", "password": ANN.1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cookies: Vec<String> =
        response.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("taskwire_access=") && c.contains("HttpOnly") && c.contains("SameSite=Strict")),
        "{cookies:?}"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["user"]["username"], "ann");
    assert_eq!(body["user"]["role"], "ADMIN_LIMITED");
    assert!(body["refresh_token"].as_str().unwrap().len() >= 32);

    let (status, me) = app.get("/api/me", Some(body["access_token"].as_str().unwrap())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me, json!({"id": body["user"]["id"], "username": "ann", "role": "ADMIN_LIMITED"}));

    // The cookie alone authenticates a browser.
    let browser = reqwest::Client::builder().cookie_store(true).build().unwrap();
    browser.post(app.url("/api/auth/login")).json(&json!({"username": "ann", "password": ANN.1})).send().await.unwrap();
    let me = browser.get(app.url("/api/me")).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    // Logout clears it.
    let out = browser.post(app.url("/api/auth/logout")).send().await.unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert_eq!(browser.get(app.url("/api/me")).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn unknown_users_and_wrong_passwords_get_the_same_401() {
    let app = spawn_app().await;
    let wrong =
        app.post_json("/api/auth/login", None, &json!({"username": "ann", "password": "not-her-password"})).await;
    let unknown =
        app.post_json("/api/auth/login", None, &json!({"username": "nobody", "password": "whatever-password"})).await;
    assert_error(&wrong, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_eq!(wrong.1, unknown.1);
    assert_eq!(unknown.0, StatusCode::UNAUTHORIZED);
    assert_error(
        &app.post_json("/api/auth/login", None, &json!({"username": "", "password": "x"})).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    );
    assert_error(
        &app.post_json("/api/auth/login", None, &json!({"username": "ann"})).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    );
}

#[tokio::test]
async fn repeated_failures_are_throttled_with_429() {
    let app = spawn_app().await;
    for _ in 0..5 {
        let response =
            app.post_json("/api/auth/login", None, &json!({"username": "ann", "password": "guess-guess"})).await;
        assert_eq!(response.0, StatusCode::UNAUTHORIZED);
    }
    let response = app
        .http
        .post(app.url("/api/auth/login"))
        .json(&json!({"username": "ann", "password": ANN.1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "even the right password waits out the window");
    assert!(response.headers().get("retry-after").is_some());
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    // Another user is not locked out by Ann's failures.
    assert_eq!(
        app.post_json("/api/auth/login", None, &json!({"username": "bob", "password": BOB.1})).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_signs_the_user_out() {
    let app = spawn_app().await;
    let (_, first) = app.post_json("/api/auth/login", None, &json!({"username": "ann", "password": ANN.1})).await;
    let r1 = first["refresh_token"].as_str().unwrap();
    let (status, second) = app.post_json("/api/auth/refresh", None, &json!({"refresh_token": r1})).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let r2 = second["refresh_token"].as_str().unwrap();
    assert_ne!(r1, r2);
    assert_eq!(app.get("/api/me", Some(second["access_token"].as_str().unwrap())).await.0, StatusCode::OK);

    // Presenting the rotated token again is theft or replay: every token of the user dies.
    assert_error(
        &app.post_json("/api/auth/refresh", None, &json!({"refresh_token": r1})).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    assert_error(
        &app.post_json("/api/auth/refresh", None, &json!({"refresh_token": r2})).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    assert_error(
        &app.post_json("/api/auth/refresh", None, &json!({"refresh_token": "garbage"})).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    assert_error(
        &app.post_json("/api/auth/refresh", None, &json!({})).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    );

    // Logout revokes the presented token.
    let (_, fresh) = app.post_json("/api/auth/login", None, &json!({"username": "ann", "password": ANN.1})).await;
    let r3 = fresh["refresh_token"].as_str().unwrap();
    assert_eq!(app.post_json("/api/auth/logout", None, &json!({"refresh_token": r3})).await.0, StatusCode::NO_CONTENT);
    assert_error(
        &app.post_json("/api/auth/refresh", None, &json!({"refresh_token": r3})).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
}

#[tokio::test]
async fn missing_bad_and_expired_tokens_are_401() {
    let app = spawn_app().await;
    let none = app.get("/api/tasks", None).await;
    assert_error(&none, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_error(&app.get("/api/tasks", Some("not.a.jwt")).await, StatusCode::UNAUTHORIZED, "unauthenticated");
    let expired = expired_token(1);
    assert_error(&app.get("/api/tasks", Some(&expired)).await, StatusCode::UNAUTHORIZED, "token_expired");
    let response = app.http.get(app.url("/api/me")).send().await.unwrap();
    assert_eq!(response.headers().get("www-authenticate").unwrap(), "Bearer");
}

#[tokio::test]
async fn a_disabled_user_loses_access_at_once() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let ann = app.token(ANN).await;
    let ann_id = app.get("/api/me", Some(&ann)).await.1["id"].as_i64().unwrap();
    let (status, _) = app
        .request(
            reqwest::Method::PATCH,
            &format!("/api/users/{ann_id}"),
            Some(&admin),
            Some(&json!({"is_active": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_error(&app.get("/api/me", Some(&ann)).await, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_error(
        &app.post_json("/api/auth/login", None, &json!({"username": "ann", "password": ANN.1})).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
}

#[tokio::test]
async fn the_user_cache_never_outlives_a_change_made_through_the_api() {
    // A long cache (SQLite only: one instance): only the change itself can make the server read the row again.
    let app = spawn_sqlite_app_with(|c| c.user_cache_ttl = Duration::from_secs(60)).await;
    let (admin, ann) = (app.token(ADMIN).await, app.token(ANN).await);
    let ann_id = app.get("/api/me", Some(&ann)).await.1["id"].as_i64().unwrap();
    // Changed outside the server: the kept row still answers (what the TTL bounds).
    disable_in_the_database(&app, ann_id).await;
    assert_eq!(app.get("/api/me", Some(&ann)).await.0, StatusCode::OK, "served from the cache");
    // Changed through the API: refused on the very next request.
    let path = format!("/api/users/{ann_id}");
    let (status, _) =
        app.request(reqwest::Method::PATCH, &path, Some(&admin), Some(&json!({"is_active": false}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_error(&app.get("/api/me", Some(&ann)).await, StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[tokio::test]
async fn a_role_change_racing_requests_is_seen_by_every_request_after_it() {
    let app = spawn_sqlite_app_with(|c| c.user_cache_ttl = Duration::from_secs(60)).await;
    let (admin, ann) = (app.token(ADMIN).await, app.token(ANN).await);
    // Read through the ADMIN's list, so ann's own row is not kept yet: her
    // racing requests read it while it changes.
    let users = app.get("/api/users", Some(&admin)).await.1;
    let ann_id = users.as_array().unwrap().iter().find(|u| u["username"] == "ann").unwrap()["id"].as_i64().unwrap();
    // Requests keep reading ann's row while her role changes: a row read before
    // the change must not be kept after it.
    let racing = futures_util::future::join_all((0..60).map(|_| app.get("/api/me", Some(&ann))));
    let (path, promote) = (format!("/api/users/{ann_id}"), json!({"role": "ADMIN"}));
    let change = app.request(reqwest::Method::PATCH, &path, Some(&admin), Some(&promote));
    let (answers, (status, _)) = tokio::join!(racing, change);
    assert_eq!(status, StatusCode::OK);
    for (status, me) in answers {
        assert_eq!(status, StatusCode::OK, "{me}");
    }
    let after = futures_util::future::join_all((0..30).map(|_| app.get("/api/me", Some(&ann)))).await;
    for (status, me) in after {
        assert_eq!((status, me["role"].as_str()), (StatusCode::OK, Some("ADMIN")), "{me}");
    }
}

#[tokio::test]
async fn without_a_user_cache_every_request_reads_the_account() {
    let app = spawn_sqlite_app_with(|c| c.user_cache_ttl = Duration::ZERO).await;
    let ann = app.token(ANN).await;
    let ann_id = app.get("/api/me", Some(&ann)).await.1["id"].as_i64().unwrap();
    disable_in_the_database(&app, ann_id).await;
    assert_error(&app.get("/api/me", Some(&ann)).await, StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[tokio::test]
async fn a_kept_account_is_read_again_once_the_cache_time_passes() {
    // (That a kept row answers within its time is `the_user_cache_never_outlives_…`.)
    let app = spawn_sqlite_app_with(|c| c.user_cache_ttl = Duration::from_millis(200)).await;
    let ann = app.token(ANN).await;
    let ann_id = app.get("/api/me", Some(&ann)).await.1["id"].as_i64().unwrap();
    disable_in_the_database(&app, ann_id).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let answer = app.get("/api/me", Some(&ann)).await;
        if answer.0 == StatusCode::UNAUTHORIZED {
            assert_error(&answer, StatusCode::UNAUTHORIZED, "unauthenticated");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still served 10 s after a 200 ms cache time");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_session_revocation_read_from_the_outbox_also_drops_the_kept_account() {
    // A revocation that reaches the hub some other way than this process's own
    // change (found by the outbox catch-up here) also makes the next request read the account.
    let app = spawn_sqlite_app_with(|c| {
        c.user_cache_ttl = Duration::from_secs(60);
        c.outbox_catch_up = Duration::from_millis(50);
    })
    .await;
    let ann = app.token(ANN).await;
    let ann_id = app.get("/api/me", Some(&ann)).await.1["id"].as_i64().unwrap();
    disable_in_the_database(&app, ann_id).await;
    assert_eq!(app.get("/api/me", Some(&ann)).await.0, StatusCode::OK, "served from the cache");
    let mut session = app.ws(&ann).await;
    {
        use sea_orm::TransactionTrait;
        use taskwire::events::{control, outbox};
        let txn = app.state.db.begin().await.unwrap();
        outbox::append(&txn, vec![control::revoke_sessions(ann_id)]).await.unwrap();
        txn.commit().await.unwrap();
    }
    assert_eq!(session.expect_close().await, 4401, "the hub obeyed the revocation");
    assert_error(&app.get("/api/me", Some(&ann)).await, StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[tokio::test]
async fn cookie_authenticated_writes_from_a_foreign_origin_are_refused() {
    let app = spawn_app().await;
    let ann = app.token(ANN).await;
    let body = json!({"title": "CSRF", "workflow": "vehicle_registration"});
    let foreign = app
        .http
        .post(app.url("/api/tasks"))
        .header("cookie", format!("taskwire_access={ann}"))
        .header("origin", "http://evil.example")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    let own_origin = app
        .http
        .post(app.url("/api/tasks"))
        .header("cookie", format!("taskwire_access={ann}"))
        .header("origin", app.address.clone())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(own_origin.status(), StatusCode::CREATED);
}

/// A token for the user that expired a while ago, signed with the test secret.
pub fn expired_token(user_id: i64) -> String {
    let now = chrono::Utc::now().timestamp();
    let claims =
        json!({"sub": user_id.to_string(), "username": "admin", "role": "ADMIN", "iat": now - 2000, "exp": now - 1000});
    let secret = taskwire::Config::for_tests("sqlite::memory:").jwt_secret;
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &jsonwebtoken::EncodingKey::from_secret(&secret))
        .unwrap()
}

#[tokio::test]
async fn changing_a_user_ends_their_live_sessions() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let ann = app.token(ANN).await;
    let ann_id = app.get("/api/me", Some(&ann)).await.1["id"].as_i64().unwrap();
    let mut ann_ws = app.ws_subscribed(&ann, &["tasks"], None).await;
    let mut admin_ws = app.ws_subscribed(&admin, &["tasks"], None).await;
    let promote = json!({"role": "ADMIN"});
    let path = format!("/api/users/{ann_id}");
    let (status, _) = app.request(reqwest::Method::PATCH, &path, Some(&admin), Some(&promote)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ann_ws.expect_close().await, 4401, "she reconnects and gets her new role");
    admin_ws.expect_silence().await;
}

#[tokio::test]
async fn role_checks_come_before_body_checks() {
    let app = spawn_app().await;
    let ann = app.token(ANN).await;
    let task = app.create_task(&ann, "Mine").await;
    let path = format!("/api/tasks/{}/reject", task["id"]);
    let garbage = app.post_json(&path, Some(&ann), &json!({"nonsense": true})).await;
    assert_error(&garbage, StatusCode::FORBIDDEN, "forbidden");
    let empty = app.post_json("/api/users", Some(&ann), &json!({})).await;
    assert_error(&empty, StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_address_is_throttled_on_its_own() {
    let app = spawn_app_with(|c| {
        c.login_max_failures = 1;
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let attempt = |client: &'static str, username: String| {
        let request = app.http.post(app.url("/api/auth/login")).header("x-forwarded-for", client);
        async move {
            request.json(&json!({"username": username, "password": "wrong-password"})).send().await.unwrap().status()
        }
    };
    // One address may fail four times as often as one username (here 4).
    for n in 0..4 {
        assert_eq!(attempt("203.0.113.7", format!("guess{n}")).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(attempt("203.0.113.7", "guess9".into()).await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        attempt("198.51.100.9", "other".into()).await,
        StatusCode::UNAUTHORIZED,
        "another client is not locked out"
    );

    // Without trusting the proxy the header means nothing: everyone shares its address.
    let untrusting = spawn_app_with(|c| c.login_max_failures = 1).await;
    for n in 0..4 {
        let response = untrusting
            .http
            .post(untrusting.url("/api/auth/login"))
            .header("x-forwarded-for", format!("203.0.113.{n}"))
            .json(&json!({"username": format!("guess{n}"), "password": "wrong-password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let spoofed = untrusting
        .http
        .post(untrusting.url("/api/auth/login"))
        .header("x-forwarded-for", "198.51.100.200")
        .json(&json!({"username": "fresh", "password": "wrong-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(spoofed.status(), StatusCode::TOO_MANY_REQUESTS, "a forged header does not escape the limit");
}

/// Under a burst, the user rows behind tokens are read together in one query;
/// each request must still be answered as its own caller, and a disabled
/// account must be refused in the very next burst.
#[tokio::test]
async fn simultaneous_requests_are_each_answered_as_their_own_caller() {
    let app = spawn_app().await;
    let tokens = [app.token(ADMIN).await, app.token(ANN).await, app.token(BOB).await];
    let names = ["admin", "ann", "bob"];
    let burst = || futures_util::future::join_all((0..90).map(|n| app.get("/api/me", Some(&tokens[n % 3]))));
    for (n, (status, me)) in burst().await.into_iter().enumerate() {
        assert_eq!(status, StatusCode::OK, "{me}");
        assert_eq!(me["username"], names[n % 3], "request {n}");
    }
    let bob_id = burst().await[2].1["id"].as_i64().unwrap();
    let disable = json!({"is_active": false});
    let path = format!("/api/users/{bob_id}");
    assert_eq!(app.request(reqwest::Method::PATCH, &path, Some(&tokens[0]), Some(&disable)).await.0, StatusCode::OK);
    for (n, answer) in burst().await.into_iter().enumerate() {
        if n % 3 == 2 {
            assert_error(&answer, StatusCode::UNAUTHORIZED, "unauthenticated");
        } else {
            assert_eq!((answer.0, answer.1["username"].as_str()), (StatusCode::OK, Some(names[n % 3])), "{n}");
        }
    }
}
