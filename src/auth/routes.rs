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
