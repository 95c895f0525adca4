//! The browser pages, embedded in the binary: no build step, nothing to deploy beside it.

use axum::{
    Router,
    extract::Path,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};

use crate::{error::AppError, state::AppState};

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:literal) => {
        Asset { name: $name, content_type: $type, body: include_bytes!(concat!("../web/", $name)) }
    };
}

const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("admin.html", "text/html; charset=utf-8"),
    asset!("my.html", "text/html; charset=utf-8"),
    asset!("jobs.html", "text/html; charset=utf-8"),
    asset!("stores.html", "text/html; charset=utf-8"),
    asset!("orders.html", "text/html; charset=utf-8"),
    asset!("assets/style.css", "text/css; charset=utf-8"),
    asset!("assets/api.js", "text/javascript; charset=utf-8"),
    asset!("assets/live.js", "text/javascript; charset=utf-8"),
    asset!("assets/ui.js", "text/javascript; charset=utf-8"),
    asset!("assets/login.js", "text/javascript; charset=utf-8"),
    asset!("assets/admin.js", "text/javascript; charset=utf-8"),
    asset!("assets/my.js", "text/javascript; charset=utf-8"),
    asset!("assets/jobs.js", "text/javascript; charset=utf-8"),
    asset!("assets/stores.js", "text/javascript; charset=utf-8"),
    asset!("assets/orders.js", "text/javascript; charset=utf-8"),
    asset!("assets/favicon.svg", "image/svg+xml"),
];

/// Pages allow only their own scripts and styles, and talk only to this server.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { page("index.html") }))
        .route("/admin", get(|| async { page("admin.html") }))
        .route("/my", get(|| async { page("my.html") }))
        .route("/jobs", get(|| async { page("jobs.html") }))
        .route("/stores", get(|| async { page("stores.html") }))
        .route("/orders", get(|| async { page("orders.html") }))
        .route("/favicon.ico", get(|| async { page("assets/favicon.svg") }))
        .route("/assets/{file}", get(asset))
}

async fn asset(Path(file): Path<String>) -> Response {
    page(&format!("assets/{file}"))
}

fn page(name: &str) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        return AppError::NotFound(format!("no such file: {name}")).into_response();
    };
    let mut response = (StatusCode::OK, asset.body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if asset.content_type.starts_with("text/html") {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}
