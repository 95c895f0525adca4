//! `/api/auth/*` and `/api/me`.

use std::net::SocketAddr;

use axum::{
    Router,
    body::Bytes,
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
    error::{AppError, AppJson, Result},
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

/// Accepts the refresh token in the body, or — for the pages — from its cookie.
async fn refresh(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response> {
    let request = parse_optional_body::<RefreshRequest>(&body)?.unwrap_or_default();
    let token = request
        .refresh_token
        .filter(|t| !t.is_empty())
        .or_else(|| cookies::read_cookie(&headers, cookies::REFRESH_COOKIE).map(str::to_owned))
        .ok_or_else(|| AppError::field("refresh_token", "must not be empty"))?;
    let pair = service::refresh(&state, &token).await?;
    Ok(with_cookies(&state, pair))
}

async fn logout(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response> {
    let request = parse_optional_body::<RefreshRequest>(&body)?.unwrap_or_default();
    let token =
        request.refresh_token.or_else(|| cookies::read_cookie(&headers, cookies::REFRESH_COOKIE).map(str::to_owned));
    service::logout(&state, token.as_deref()).await?;
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

/// An empty body is allowed; anything else must be valid JSON.
fn parse_optional_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<Option<T>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|e| AppError::InvalidJson(format!("the body is not valid JSON: {e}")))
}
