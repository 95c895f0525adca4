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

#[derive(Deserialize)]
struct LoginRequest {
    username: String,
    password: String,
}

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

#[derive(Deserialize, Default)]
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
