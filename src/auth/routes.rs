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

/// The refresh token of the body, or — for the pages — of its cookie.
fn presented_refresh_token(request: RefreshRequest, headers: &HeaderMap) -> Option<String> {
    request
        .refresh_token
        .filter(|t| !t.is_empty())
        .or_else(|| cookies::read_cookie(headers, cookies::REFRESH_COOKIE).map(str::to_owned))
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
    let token = presented_refresh_token(request, &headers)
        .ok_or_else(|| AppError::field("refresh_token", "must not be empty"))?;
    let pair = service::refresh(&state, &token).await?;
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
    service::logout(&state, presented_refresh_token(request, &headers).as_deref()).await?;
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
