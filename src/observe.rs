//! What every HTTP request passes through, in one layer: its request id, the
//! DNS-rebinding guard of a loopback listener, its tracing span, its metrics,
//! and the log line of a 5xx. It is the outermost layer, so CORS preflights
//! pass through it too.
//!
//! One layer instead of five, because each layer costs every request — every
//! WebSocket handshake too — a clone of the route it wraps and a boxed future.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use axum::{
    extract::{MatchedPath, Request, State},
    http::{HeaderName, HeaderValue, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tracing::{Instrument, error, warn};

use crate::{
    auth,
    error::{AppError, InternalErrorDetail},
    metrics::record_http,
    state::AppState,
};

/// The header carrying a request's id, on the request and on its response.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The layer's state: the application, and how ids are made.
#[derive(Clone)]
pub struct Observed {
    state: AppState,
    ids: Arc<RequestIds>,
}

impl Observed {
    /// Made once per router: the id prefix is drawn here.
    pub fn new(state: AppState) -> Self {
        Observed { state, ids: Arc::new(RequestIds::new()) }
    }
}

/// Request ids: a per-process random prefix and a counter — unique, short, ordered.
struct RequestIds {
    prefix: String,
    next: AtomicU64,
}

impl RequestIds {
    fn new() -> Self {
        RequestIds { prefix: format!("{:06x}", rand::random::<u32>() & 0xff_ffff), next: AtomicU64::new(0) }
    }

    fn next(&self) -> HeaderValue {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        HeaderValue::try_from(format!("{}-{n}", self.prefix)).expect("hex, a dash and digits are a valid header value")
    }
}

/// The layer: see the module's documentation. A request that already carries
/// an id (from a proxy in front) keeps it.
pub async fn observe(State(observed): State<Observed>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = match request.headers().get(REQUEST_ID) {
        Some(id) => id.clone(),
        None => {
            let id = observed.ids.next();
            request.headers_mut().insert(REQUEST_ID, id.clone());
            id
        }
    };
    let method = request.method().clone();
    let uri = request.uri().clone();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let span = tracing::info_span!("http", %method, path = %uri.path(), request_id = %text(&id));
    let mut response = match foreign_host(&observed, &request) {
        Some(refusal) => refusal.into_response(),
        None => next.run(request).instrument(span).await,
    };
    record_http(&observed.state.metrics, &method, route.as_ref(), response.status(), started.elapsed());
    let status = response.status();
    if let Some(InternalErrorDetail(detail)) = response.extensions().get::<InternalErrorDetail>() {
        error!(request_id = %text(&id), %method, path = %uri.path(), error = %detail, "request failed");
    } else if status.is_server_error() {
        // A 503 (database or Redis unreachable, a full queue) says what the client may do; the operator sees it here.
        warn!(request_id = %text(&id), %method, path = %uri.path(), status = status.as_u16(), "request not served");
    }
    response.headers_mut().insert(REQUEST_ID, id);
    response
}

/// The refusal for a request addressed to a host name the guard does not allow.
/// The guard matters only when the server listens on loopback (DNS rebinding):
/// behind a proxy on a public address, the proxy decides which names reach it.
fn foreign_host(observed: &Observed, request: &Request) -> Option<AppError> {
    if !observed.state.config.bind.ip().is_loopback() {
        return None;
    }
    let host = request.headers().get(header::HOST).map(|v| v.to_str().unwrap_or("\u{fffd}"));
    if auth::host::host_allowed(host, &observed.state.config.allowed_hosts) {
        return None;
    }
    let shown: String = host.unwrap_or_default().chars().take(100).collect();
    Some(AppError::Forbidden(format!(
        "this server answers only to localhost; the host {shown:?} is not in ALLOWED_HOSTS"
    )))
}

fn text(value: &HeaderValue) -> &str {
    value.to_str().unwrap_or("-")
}
