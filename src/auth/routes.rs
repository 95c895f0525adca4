//! `/api/auth/*` and `/api/me`.

use std::net::SocketAddr;

use axum::{
    Router,
    extract::{ConnectInfo, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Deserialize;

use super::{
    CurrentUser,
    client_address::client_address,
    cookies,
    current_user::{TokenSource, check_origin},
    service::{self, PublicUser, TokenPair},
};
use crate::{
    error::{AppError, AppJson, OptionalJson, Result},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/login", post(login))
        .route("/api/auth/refresh", post(refresh))
        .route("/api/auth/logout", post(logout))
        .route("/api/me", get(me))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct LoginRequest {
    username: String,
    password: String,
}

#[utoipa::path(
    post, path = "/api/auth/login", tag = "auth", security(()),
    request_body = LoginRequest,
    responses(
        (status = 200, description = "signed in; the tokens are also set as HttpOnly cookies", body = TokenPair),
        (status = 401, description = "wrong username or password, or a disabled account (`unauthenticated`)", body = crate::openapi::ErrorBody),
        (status = 429, description = "too many failed logins (`rate_limited`); see Retry-After", body = crate::openapi::ErrorBody,
            headers(("Retry-After" = u64, description = "seconds until the next attempt is allowed"))),
    )
)]
async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    AppJson(body): AppJson<LoginRequest>,
) -> Result<Response> {
    let address = client_address(peer, &headers, &state.config.trusted_proxies);
    let pair = service::login(&state, &body.username, &body.password, address).await?;
    Ok(with_cookies(&state, pair))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
struct RefreshRequest {
    refresh_token: Option<String>,
}

/// The refresh token of the body, or — for the pages — of its cookie, and where it came from.
/// A cookie-borne one is a write the browser adds on its own: it gets the same Origin check as
/// every cookie-authenticated write (403 from a foreign page).
fn presented_refresh_token(
    state: &AppState,
    request: RefreshRequest,
    headers: &HeaderMap,
) -> Result<Option<(String, TokenSource)>> {
    if let Some(token) = request.refresh_token.filter(|t| !t.is_empty()) {
        return Ok(Some((token, TokenSource::Header)));
    }
    let Some(token) = cookies::read_cookie(headers, cookies::REFRESH_COOKIE) else { return Ok(None) };
    check_origin(headers, &state.config.allowed_origins)?;
    Ok(Some((token.to_owned(), TokenSource::Cookie)))
}

#[utoipa::path(
    post, path = "/api/auth/refresh", tag = "auth", security(()),
    request_body(content = Option<RefreshRequest>, description = "optional: the pages send the refresh cookie instead"),
    responses(
        (status = 200, description = "a new token pair; the refresh token presented is spent", body = TokenPair),
        (status = 401, description = "the refresh token is unknown, expired, spent or revoked (`unauthenticated`)", body = crate::openapi::ErrorBody),
        (status = 403, description = "a cookie request from an origin that is not allowed (`forbidden`)", body = crate::openapi::ErrorBody),
    )
)]
async fn refresh(
    State(state): State<AppState>,
    headers: HeaderMap,
    OptionalJson(request): OptionalJson<RefreshRequest>,
) -> Result<Response> {
    let (token, source) = presented_refresh_token(&state, request, &headers)?
        .ok_or_else(|| AppError::field("refresh_token", "must not be empty"))?;
    let pair = service::refresh(&state, &token, source).await?;
    Ok(with_cookies(&state, pair))
}

#[utoipa::path(
    post, path = "/api/auth/logout", tag = "auth", security(()),
    request_body(content = Option<RefreshRequest>, description = "optional: the pages send the refresh cookie instead"),
    responses(
        (status = 204, description = "signed out: the refresh token is revoked and the cookies cleared"),
        (status = 403, description = "a cookie request from an origin that is not allowed (`forbidden`)", body = crate::openapi::ErrorBody),
    )
)]
async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    OptionalJson(request): OptionalJson<RefreshRequest>,
) -> Result<Response> {
    let presented = presented_refresh_token(&state, request, &headers)?;
    service::logout(&state, presented.as_ref().map(|(token, _)| token.as_str())).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    cookies::clear_token_cookies(response.headers_mut(), state.config.cookie_secure);
    Ok(response)
}

#[utoipa::path(
    get, path = "/api/me", tag = "auth",
    responses((status = 200, description = "the caller", body = PublicUser))
)]
async fn me(user: CurrentUser) -> AppJson<PublicUser> {
    AppJson(PublicUser { id: user.id, username: user.username, role: user.role })
}

fn with_cookies(state: &AppState, pair: TokenPair) -> Response {
    let mut headers = HeaderMap::new();
    cookies::set_token_cookies(
        &mut headers,
        &pair.access_token,
        pair.expires_in,
        &pair.refresh_token,
        state.config.refresh_token_ttl.as_secs(),
        state.config.cookie_secure,
    );
    (headers, AppJson(pair)).into_response()
}
