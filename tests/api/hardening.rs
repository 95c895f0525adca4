//! Abuse resistance, tried as an attacker would: login bursts, metrics
//! cardinality, DNS rebinding, refresh-token reuse and races, the last ADMIN
//! under concurrent demotions, the order rate limit and the pages' headers.

use std::time::Duration;

use futures_util::future::join_all;
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::{
    helpers::*,
    provider::{API_KEY, FakeProvider},
};

fn login_body(username: &str, password: &str) -> Value {
    json!({"username": username, "password": password})
}

#[tokio::test]
async fn a_burst_of_wrong_passwords_gets_no_more_guesses_than_the_limit() {
    let app = spawn_app().await;
    let attempts = (0..120).map(|n| {
        let app = &app;
        async move { app.post_json("/api/auth/login", None, &login_body("ann", &format!("guess-{n}"))).await.0 }
    });
    let statuses = join_all(attempts).await;
    let unauthorized = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let limited = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!(unauthorized, 5, "LOGIN_MAX_FAILURES guesses, no more: {statuses:?}");
    assert_eq!(limited, 115, "{statuses:?}");
    // Even the right password is refused now: the username is locked for the window.
    let right = app.post_json("/api/auth/login", None, &login_body(ANN.0, ANN.1)).await;
    assert_error(&right, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
}

#[tokio::test]
async fn an_overlong_username_or_password_is_refused_before_any_work() {
    let app = spawn_app().await;
    let long_name = "a".repeat(65);
    for _ in 0..10 {
        let response = app.post_json("/api/auth/login", None, &login_body(&long_name, "whatever-password")).await;
        assert_error(&response, StatusCode::BAD_REQUEST, "validation_failed");
        assert!(response.1["error"]["message"].as_str().unwrap().starts_with("username:"));
    }
    let long_password = app.post_json("/api/auth/login", None, &login_body("ann", &"p".repeat(5000))).await;
    assert_error(&long_password, StatusCode::BAD_REQUEST, "validation_failed");
    // None of these counted against the address: a real login still works.
    assert_eq!(app.post_json("/api/auth/login", None, &login_body(ANN.0, ANN.1)).await.0, StatusCode::OK);
}

/// The number of series (non-comment lines) `/metrics` exports.
async fn metric_series(app: &TestApp) -> usize {
    let text = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines().filter(|line| !line.starts_with('#')).count()
}

#[tokio::test]
async fn junk_methods_and_paths_do_not_grow_the_metrics() {
    let app = spawn_app().await;
    let junk = |n: usize| {
        let method = Method::from_bytes(format!("JUNK{n}").as_bytes()).unwrap();
        app.http.request(method, app.url(&format!("/no/such/path/{n}"))).send()
    };
    // One of each kind first, so the `other` and `unmatched` series exist.
    junk(0).await.unwrap();
    app.http.get(app.url("/nothing-here")).send().await.unwrap();
    metric_series(&app).await; // `/metrics` counts itself from its second read on.
    let before = metric_series(&app).await;
    for batch in 0..20 {
        let requests = (0..50).map(|i| junk(batch * 50 + i + 1));
        for response in join_all(requests).await {
            assert!(response.unwrap().status().is_client_error());
        }
    }
    assert_eq!(metric_series(&app).await, before, "1000 junk requests added series");
}

#[tokio::test]
async fn a_loopback_server_refuses_foreign_host_names() {
    let app = spawn_app().await;
    let port = app.url("/").split(':').nth(2).unwrap().trim_end_matches('/').to_owned();
    let with_host = |path: &str, host: &str| app.http.get(app.url(path)).header(header::HOST, host.to_owned()).send();
    for path in ["/", "/admin", "/api/me", "/health", "/ws"] {
        let response = with_host(path, &format!("evil.example:{port}")).await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(response.headers().contains_key("x-request-id"), "a refusal has a request id too: {path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "forbidden");
    }
    assert_eq!(with_host("/health", &format!("localhost:{port}")).await.unwrap().status(), StatusCode::OK);
    assert_eq!(with_host("/health", &format!("127.0.0.1:{port}")).await.unwrap().status(), StatusCode::OK);

    let listed = spawn_app_with(|c| c.allowed_hosts = vec!["tasks.example.com".into()]).await;
    let response =
        listed.http.get(listed.url("/health")).header(header::HOST, "tasks.example.com").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn reusing_a_rotated_refresh_token_also_ends_the_users_sessions() {
    let app = spawn_app().await;
    let (_, first) = app.post_json("/api/auth/login", None, &login_body(ANN.0, ANN.1)).await;
    let access = first["access_token"].as_str().unwrap();
    let stolen = first["refresh_token"].as_str().unwrap();
    let mut ws = app.ws_subscribed(access, &["tasks"], None).await;
    let (status, _) = app.post_json("/api/auth/refresh", None, &json!({"refresh_token": stolen})).await;
    assert_eq!(status, StatusCode::OK);
    let replay = app.post_json("/api/auth/refresh", None, &json!({"refresh_token": stolen})).await;
    assert_error(&replay, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_eq!(ws.expect_close().await, 4401, "the live session ends with the tokens");
}

/// A refresh presented as the pages present it: in the cookie.
async fn refresh_with_cookie(app: &TestApp, token: &str, origin: Option<&str>) -> (StatusCode, Value) {
    let mut request = app.http.post(app.url("/api/auth/refresh")).header("cookie", format!("taskwire_refresh={token}"));
    if let Some(origin) = origin {
        request = request.header(header::ORIGIN, origin);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn two_tabs_refreshing_at_once_stay_signed_in() {
    let app = spawn_app_with(|c| c.refresh_reuse_grace = Duration::from_millis(1500)).await;
    let (_, login) = app.post_json("/api/auth/login", None, &login_body(ANN.0, ANN.1)).await;
    let shared = login["refresh_token"].as_str().unwrap().to_owned();
    let tabs = join_all((0..2).map(|_| refresh_with_cookie(&app, &shared, None))).await;
    for (status, pair) in &tabs {
        assert_eq!(*status, StatusCode::OK, "{pair}");
    }
    // Neither tab was signed out: each new refresh token works.
    for (_, pair) in tabs {
        let next = pair["refresh_token"].as_str().unwrap();
        assert_eq!(refresh_with_cookie(&app, next, None).await.0, StatusCode::OK);
    }
    // After the grace window the shared token is plain reuse again: everything is revoked.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(refresh_with_cookie(&app, &shared, None).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn refresh_and_logout_by_cookie_from_a_foreign_origin_are_refused() {
    let app = spawn_app().await;
    let (_, login) = app.post_json("/api/auth/login", None, &login_body(ANN.0, ANN.1)).await;
    let token = login["refresh_token"].as_str().unwrap();
    let foreign = refresh_with_cookie(&app, token, Some("https://evil.example")).await;
    assert_error(&foreign, StatusCode::FORBIDDEN, "forbidden");
    let logout = app
        .http
        .post(app.url("/api/auth/logout"))
        .header("cookie", format!("taskwire_refresh={token}"))
        .header(header::ORIGIN, "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::FORBIDDEN);
    // The token was neither rotated nor revoked by those requests.
    let own = app.url("/");
    let (status, _) = refresh_with_cookie(&app, token, Some(own.trim_end_matches('/'))).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn two_admins_demoting_each_other_at_once_leave_one_admin() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let (status, second) = app
        .post_json(
            "/api/users",
            Some(&admin),
            &json!({"username": "second", "password": "second-password", "role": "ADMIN"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    let second_id = second["id"].as_i64().unwrap();
    let (_, me) = app.get("/api/me", Some(&admin)).await;
    let admin_id = me["id"].as_i64().unwrap();
    let second_token = app.token(("second", "second-password")).await;
    let (second_path, admin_path) = (format!("/api/users/{second_id}"), format!("/api/users/{admin_id}"));
    for change in [json!({"role": "ADMIN_LIMITED"}), json!({"is_active": false})] {
        let (a, b) = tokio::join!(
            app.request(Method::PATCH, &second_path, Some(&admin), Some(&change)),
            app.request(Method::PATCH, &admin_path, Some(&second_token), Some(&change)),
        );
        assert!(!(a.0 == StatusCode::OK && b.0 == StatusCode::OK), "both demotions went through: {a:?} {b:?}");
        assert!(a.0 == StatusCode::OK || b.0 == StatusCode::OK, "one of them wins: {a:?} {b:?}");
        // Whoever still is an ADMIN lists the users and restores the other for the next round.
        let acting = if a.0 == StatusCode::OK { &admin } else { &second_token };
        let target = if a.0 == StatusCode::OK { second_id } else { admin_id };
        let (_, users) = app.get("/api/users", Some(acting)).await;
        let users = users.as_array().expect("the remaining ADMIN lists the users");
        let active_admins = users.iter().filter(|u| u["role"] == "ADMIN" && u["is_active"] == true).count();
        assert_eq!(active_admins, 1, "{users:?}");
        let restore = json!({"role": "ADMIN", "is_active": true});
        let (status, body) =
            app.request(Method::PATCH, &format!("/api/users/{target}"), Some(acting), Some(&restore)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // The lone remaining ADMIN cannot be disabled by anyone.
    let demote = app
        .request(
            Method::PATCH,
            &format!("/api/users/{second_id}"),
            Some(&admin),
            Some(&json!({"role": "ADMIN_LIMITED"})),
        )
        .await;
    assert_eq!(demote.0, StatusCode::OK, "{demote:?}");
    let last = app
        .request(Method::PATCH, &format!("/api/users/{admin_id}"), Some(&admin), Some(&json!({"is_active": false})))
        .await;
    assert_error(&last, StatusCode::CONFLICT, "invalid_state");
}

#[tokio::test]
async fn order_creation_is_rate_limited_per_user() {
    let provider = FakeProvider::start().await;
    let url = provider.url();
    let app = spawn_app_with(move |c| {
        c.provider_url = Some(url);
        c.provider_api_key = Some(API_KEY.into());
        c.order_rate_limit = 5;
        c.order_timing.first_check_delay = Duration::from_secs(3600);
    })
    .await;
    let ann = app.token(ANN).await;
    let bob = app.token(BOB).await;
    let order = json!({"product": "game", "package": "basic", "user_identifier": "player-1"});
    let burst = join_all((0..20).map(|_| app.post_json("/api/orders", Some(&ann), &order))).await;
    let created = burst.iter().filter(|(s, _)| *s == StatusCode::CREATED).count();
    assert_eq!(created, 5, "{burst:?}");
    for refused in burst.iter().filter(|(s, _)| *s != StatusCode::CREATED) {
        assert_error(refused, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    }
    let response = app.http.post(app.url("/api/orders")).bearer_auth(&ann).json(&order).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response.headers()[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=61).contains(&retry_after), "{retry_after}");
    // Another user has a budget of their own.
    assert_eq!(app.post_json("/api/orders", Some(&bob), &order).await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn every_page_carries_the_security_headers() {
    let app = spawn_app().await;
    for path in ["/", "/admin", "/my", "/jobs", "/stores", "/orders"] {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers();
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        let connect = csp.split(';').map(str::trim).find(|d| d.starts_with("connect-src")).unwrap();
        assert_eq!(connect, "connect-src 'self'", "{path}: no WebSocket to any other host");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
        assert_eq!(headers[header::REFERRER_POLICY], "same-origin", "{path}");
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY", "{path}");
    }
}

#[tokio::test]
async fn a_cors_preflight_passes_the_host_guard_and_carries_a_request_id() {
    let app = spawn_app_with(|c| c.allowed_origins = vec!["https://app.example".into()]).await;
    let preflight = |host: String| {
        app.http
            .request(reqwest::Method::OPTIONS, app.url("/api/tasks"))
            .header(header::HOST, host)
            .header(header::ORIGIN, "https://app.example")
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .send()
    };
    let port = app.url("/").split(':').nth(2).unwrap().trim_end_matches('/').to_owned();
    let allowed = preflight(format!("localhost:{port}")).await.unwrap();
    assert_eq!(allowed.status(), StatusCode::OK);
    assert_eq!(allowed.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example");
    assert!(allowed.headers().contains_key("x-request-id"));
    let foreign = preflight(format!("evil.example:{port}")).await.unwrap();
    assert_eq!(
        foreign.status(),
        StatusCode::FORBIDDEN,
        "a preflight to a foreign host name is refused like any request"
    );
}
