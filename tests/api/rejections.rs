//! Every kind of request the framework refuses before a handler runs gets the
//! API's error shape: `{"error":{"code","message"}}` as JSON, with the documented status.

use reqwest::{Method, StatusCode, header};
use serde_json::Value;

use crate::helpers::*;

/// Sends a raw request and checks status, code, JSON content type and a message.
async fn expect_rejection(app: &TestApp, request: reqwest::RequestBuilder, status: StatusCode, code: &str) -> String {
    let _ = app;
    let response = request.send().await.expect("the request is sent");
    assert_eq!(response.status(), status);
    let content_type = response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    assert!(content_type.starts_with("application/json"), "content type {content_type:?}");
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"].as_str().expect("a message").to_owned();
    assert!(!message.is_empty());
    message
}

#[tokio::test]
async fn framework_rejections_use_the_error_shape() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let http = &app.http;
    let authed = |method: Method, path: &str| http.request(method, app.url(path)).bearer_auth(&admin);

    let bad_json =
        authed(Method::POST, "/api/tasks").header(header::CONTENT_TYPE, "application/json").body("{not json");
    expect_rejection(&app, bad_json, StatusCode::BAD_REQUEST, "invalid_json").await;

    let wrong_type = authed(Method::POST, "/api/tasks").header(header::CONTENT_TYPE, "text/plain").body("{}");
    let message = expect_rejection(&app, wrong_type, StatusCode::BAD_REQUEST, "invalid_json").await;
    assert!(message.contains("application/json"), "{message}");

    let bad_path = authed(Method::GET, "/api/tasks/abc");
    expect_rejection(&app, bad_path, StatusCode::BAD_REQUEST, "validation_failed").await;
    let bad_worker_path = authed(Method::POST, "/api/jobs/x1/finish").json(&serde_json::json!({"status": "completed"}));
    expect_rejection(&app, bad_worker_path, StatusCode::BAD_REQUEST, "validation_failed").await;

    let bad_query = authed(Method::GET, "/api/jobs?before=yesterday");
    let message = expect_rejection(&app, bad_query, StatusCode::BAD_REQUEST, "validation_failed").await;
    assert!(message.contains("before"), "{message}");

    let unknown_route = authed(Method::GET, "/api/no-such-thing");
    expect_rejection(&app, unknown_route, StatusCode::NOT_FOUND, "not_found").await;

    let wrong_method = authed(Method::DELETE, "/api/tasks");
    expect_rejection(&app, wrong_method, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;

    let huge = format!(r#"{{"title":"{}"}}"#, "x".repeat(2 * 1024 * 1024));
    let too_large = authed(Method::POST, "/api/tasks").header(header::CONTENT_TYPE, "application/json").body(huge);
    expect_rejection(&app, too_large, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

    let plain_http_to_ws = http.get(app.url("/ws"));
    let response = plain_http_to_ws.send().await.unwrap();
    assert!(response.status().is_client_error(), "{}", response.status());
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(body["error"]["code"], "validation_failed", "{body}");
}
