//! The `CurrentUser` extractor: a verified token for an active user, or 401.

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, Method, header, request::Parts},
};
use serde::Serialize;

use super::{Role, cookies, origin::origin_allowed, tokens::TokenKeys, user_lookup::UserLookup};
use crate::{
    error::{AppError, Result},
    state::AppState,
};

/// The authenticated caller, with the role read fresh from the database.
#[derive(Debug, Clone, Serialize)]
pub struct CurrentUser {
    pub id: i64,
    pub username: String,
    pub role: Role,
}

impl CurrentUser {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// 403 unless the caller is an ADMIN.
    pub fn require_admin(&self) -> Result<()> {
        if self.is_admin() { Ok(()) } else { Err(AppError::Forbidden("this needs the ADMIN role".into())) }
    }
}

/// Where the caller's token came from; cookie-borne writes get a CSRF Origin check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    Header,
    Cookie,
}

/// The bearer token of a request: the `Authorization` header first, then the cookie.
pub fn request_token(headers: &HeaderMap) -> Option<(&str, TokenSource)> {
    if let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).unwrap_or("").trim();
        return Some((token, TokenSource::Header));
    }
    cookies::read_cookie(headers, cookies::ACCESS_COOKIE).map(|t| (t, TokenSource::Cookie))
}

/// Verifies a token and loads its user; shared by REST and the WebSocket.
pub async fn authenticate(users: &UserLookup, keys: &TokenKeys, token: &str) -> Result<CurrentUser> {
    let user_id = keys.verify_access(token)?.user_id()?;
    let user = users.find(user_id).await?;
    match user {
        Some(user) if user.is_active => Ok(CurrentUser {
            id: user.id,
            username: user.username,
            role: Role::parse(&user.role)
                .ok_or_else(|| AppError::Internal(format!("user {} has an unknown role", user.id)))?,
        }),
        Some(_) => Err(AppError::Unauthenticated("this account is disabled".into())),
        None => Err(AppError::Unauthenticated("the access token is invalid".into())),
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let (token, source) = request_token(&parts.headers)
            .ok_or_else(|| AppError::Unauthenticated("sign in first: send Authorization: Bearer <token>".into()))?;
        if source == TokenSource::Cookie && !is_safe(&parts.method) {
            check_origin(&parts.headers, &state.config.allowed_origins)?;
        }
        authenticate(&state.user_lookup, &state.keys, token).await
    }
}

/// The CSRF rule of cookie-authenticated writes: a request whose `Origin` is
/// neither the server's own nor allowed is 403. (Browsers send `Origin` on every
/// cross-site write; a request without one does not come from a foreign page.)
pub fn check_origin(headers: &HeaderMap, allowed_origins: &[String]) -> Result<()> {
    let origin = headers.get(header::ORIGIN).map(|v| v.to_str().unwrap_or("(not text)"));
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match origin {
        Some(origin) if !origin_allowed(origin, host, allowed_origins) => {
            let shown: String = origin.chars().take(100).collect();
            Err(AppError::Forbidden(format!("requests from origin {shown} are not allowed")))
        }
        _ => Ok(()),
    }
}

/// An authenticated ADMIN; checked before the body is read, so a non-ADMIN gets 403 whatever it sent.
#[derive(Debug, Clone)]
pub struct AdminUser(pub CurrentUser);

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        user.require_admin()?;
        Ok(AdminUser(user))
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}
