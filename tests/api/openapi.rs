//! `GET /api/openapi.json`: served without auth, and it describes every REST route
//! the router has — a new route without its `#[utoipa::path]` fails here.

use std::path::Path;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{ADMIN, spawn_app};

/// Routes that are not part of the REST API: the WebSocket (docs/API.md describes it).
/// Pages (src/web.rs) and the demo shop (src/demo.rs) are not scanned.
const NOT_REST: [&str; 1] = ["/ws"];

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// Every `.route("path", get(..).post(..))` in src/, as (method, path).
fn routes_in_source() -> Vec<(String, String)> {
    let mut routes = Vec::new();
    let mut files = Vec::new();
    collect_sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        if name == "web.rs" || name == "demo.rs" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (start, _) in text.match_indices(".route(") {
            let call = balanced(&text[start + ".route".len()..]);
            let path = call
                .split('"')
                .nth(1)
                .unwrap_or_else(|| panic!("{}: a .route( without a literal path: {call}", file.display()));
            let methods = methods_in(call);
            assert!(!methods.is_empty(), "{}: no method found in .route{call}", file.display());
            routes.extend(methods.into_iter().map(|m| (m, path.to_owned())));
        }
    }
    routes.retain(|(_, path)| !NOT_REST.contains(&path.as_str()));
    routes.sort();
    routes
}

fn collect_sources(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_sources(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// `(…)` at the start of `text`, up to its matching parenthesis.
fn balanced(text: &str) -> &str {
    let mut depth = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &text[..=i];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced .route(: {text}")
}

/// The method routers named in a `.route(…)` call: `get(x).post(y)` gives get, post.
fn methods_in(call: &str) -> Vec<String> {
    let bytes = call.as_bytes();
    let mut found = Vec::new();
    for method in METHODS {
        for (i, _) in call.match_indices(&format!("{method}(")) {
            let before = if i == 0 { b' ' } else { bytes[i - 1] };
            if !(before.is_ascii_alphanumeric() || before == b'_') {
                found.push(method.to_owned());
            }
        }
    }
    found
}

fn documented(doc: &Value) -> Vec<(String, String)> {
    let mut operations: Vec<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| item.as_object().unwrap().keys().map(move |m| (m.clone(), path.clone())))
        .collect();
    operations.sort();
    operations
}

#[tokio::test]
async fn the_description_lists_exactly_the_routes_the_router_serves() {
    let app = spawn_app().await;
    let response = app.http.get(app.url("/api/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "served without a token");
    assert_eq!(response.headers()["content-type"], "application/json");
    let doc: Value = response.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");

    let in_source = routes_in_source();
    assert!(in_source.len() >= 40, "the scan found the routers: {in_source:?}");
    assert_eq!(documented(&doc), in_source, "documented operations (left) vs routes in src/ (right)");

    // And the router really serves each of them: never the fallback 404 or a 405.
    let token = app.token(ADMIN).await;
    for (method, path) in documented(&doc) {
        let concrete = path.replace("{key}", "some_key").replace(['{', '}'], "").replace("subtask_id", "1");
        let concrete = concrete.replace("item_id", "1").replace("/id", "/1");
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let (status, body) = app.request(method.clone(), &concrete, Some(&token), None).await;
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {concrete}: {body}");
        assert!(
            !(status == StatusCode::NOT_FOUND && body["error"]["message"] == "no such resource"),
            "{method} {concrete} is not routed"
        );
    }
}

#[tokio::test]
async fn every_error_response_is_described_with_the_error_shape_and_secured_operations_name_both_schemes() {
    let app = spawn_app().await;
    let (status, doc) = app.get("/api/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["cookie"]["in"], "cookie");
    assert_eq!(schemes["cookie"]["name"], "taskwire_access");
    let error = &doc["components"]["schemas"]["ErrorBody"];
    assert_eq!(error["required"], serde_json::json!(["error"]));

    let admin_only = |path: &str| !path.starts_with("/api/tasks") && !path.starts_with("/api/orders");
    for (method, path) in documented(&doc) {
        let operation = &doc["paths"][&path][&method];
        let responses = operation["responses"].as_object().unwrap();
        let public = operation["security"] == serde_json::json!([{}]);
        if path.starts_with("/api/") && !path.starts_with("/api/auth/") && path != "/api/openapi.json" {
            assert!(!public, "{method} {path} needs a token");
            assert!(responses.contains_key("401"), "{method} {path} documents 401");
            assert!(responses.contains_key("503"), "{method} {path} documents 503");
        }
        if operation.get("requestBody").is_some() {
            for status in ["400", "413"] {
                assert!(responses.contains_key(status), "{method} {path} documents {status}");
            }
        }
        if path.contains('{') {
            assert!(responses.contains_key("404") || path.starts_with("/api/workflows"), "{method} {path}: 404");
        }
        if !public && admin_only(&path) && !["/api/me", "/api/workflows"].contains(&path.as_str()) {
            assert!(responses.contains_key("403"), "{method} {path} documents 403 for ADMIN_LIMITED");
        }
        for (status, response) in responses {
            if status.starts_with('4') || (status == "503" && path != "/ready") {
                let schema = &response["content"]["application/json"]["schema"]["$ref"];
                assert_eq!(schema, "#/components/schemas/ErrorBody", "{method} {path} {status}");
            }
        }
    }
    let statuses = &doc["components"]["schemas"]["TaskStatus"]["enum"];
    assert_eq!(statuses, &serde_json::json!(["pending_approval", "approved", "rejected", "completed"]));
}
