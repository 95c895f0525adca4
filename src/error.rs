//! One error type for every handler, rendered as `{"error":{"code","message"}}`.

use axum::{
    Json,
    extract::{
        FromRequest, FromRequestParts, Path, Query, Request,
        rejection::{JsonRejection, PathRejection, QueryRejection},
    },
    http::{HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use serde::de::DeserializeOwned;
use serde_json::json;

/// Shorthand used by services and handlers.
pub type Result<T, E = AppError> = std::result::Result<T, E>;

/// Every failure a client can see; 4xx variants carry a message that is safe to show.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    InvalidJson(String),
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("the access token has expired")]
    TokenExpired,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("this method is not allowed on this resource")]
    MethodNotAllowed,
    #[error("{0}")]
    InvalidState(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    AlreadyRunning(String),
    #[error("the request body is larger than the limit of {0} bytes")]
    PayloadTooLarge(usize),
    #[error("too many failed login attempts; try again in {0} seconds")]
    RateLimited(u64),
    /// Any other rate limit (orders per minute …): 429 with `Retry-After`.
    #[error("{message}")]
    TooMany { retry_after: u64, message: String },
    #[error("{0}")]
    Unavailable(String),
    /// A request the HTTP or WebSocket protocol layer refuses (e.g. `GET /ws`
    /// without upgrade headers): it keeps that layer's 4xx status.
    #[error("{message}")]
    Protocol { status: StatusCode, message: String },
    #[error(transparent)]
    Database(sea_orm::DbErr),
    #[error("{0}")]
    Internal(String),
}

impl AppError {
    /// The same failure for another caller it hit (a batch shares one database
    /// error): 503 stays 503, anything else is the 500 it was.
    pub fn copied(&self) -> AppError {
        match self {
            AppError::Unavailable(message) => AppError::Unavailable(message.clone()),
            other => AppError::Internal(other.to_string()),
        }
    }

    /// A 400 naming the offending field, the way every validation error reads.
    pub fn field(field: &str, problem: &str) -> Self {
        AppError::Validation(format!("{field}: {problem}"))
    }

    /// A required text field, trimmed: 1 to `max` characters, else a 400 naming `field`.
    pub fn bounded_text(field: &str, value: &str, max: usize) -> std::result::Result<String, AppError> {
        let value = value.trim();
        if value.is_empty() || value.chars().count() > max {
            return Err(AppError::field(field, &format!("must be 1 to {max} characters long")));
        }
        Ok(value.to_owned())
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::InvalidJson(_) | AppError::Validation(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthenticated(_) | AppError::TokenExpired => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AppError::InvalidState(_) | AppError::Conflict(_) | AppError::AlreadyRunning(_) => StatusCode::CONFLICT,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::RateLimited(_) | AppError::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Protocol { status, .. } => *status,
            AppError::Database(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable, machine-readable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::InvalidJson(_) => "invalid_json",
            AppError::Validation(_) | AppError::Protocol { .. } => "validation_failed",
            AppError::Unauthenticated(_) => "unauthenticated",
            AppError::TokenExpired => "token_expired",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound(_) => "not_found",
            AppError::MethodNotAllowed => "method_not_allowed",
            AppError::InvalidState(_) => "invalid_state",
            AppError::Conflict(_) => "conflict",
            AppError::AlreadyRunning(_) => "already_running",
            AppError::PayloadTooLarge(_) => "payload_too_large",
            AppError::RateLimited(_) | AppError::TooMany { .. } => "rate_limited",
            AppError::Unavailable(_) => "unavailable",
            AppError::Database(_) | AppError::Internal(_) => "internal",
        }
    }

    /// The message shown to the client; internal details never leave the server.
    pub fn public_message(&self) -> String {
        match self {
            AppError::Database(_) | AppError::Internal(_) => {
                "an unexpected error occurred; it has been logged".to_owned()
            }
            other => other.to_string(),
        }
    }
}

impl From<sea_orm::DbErr> for AppError {
    /// A database that cannot be reached is 503 `unavailable`; anything else it says is a 500.
    fn from(err: sea_orm::DbErr) -> Self {
        if database_unreachable(&err) {
            tracing::warn!(error = %err, "the database is unavailable");
            return AppError::Unavailable("the database is unavailable right now; try again shortly".into());
        }
        AppError::Database(err)
    }
}

/// Whether the error says the database cannot be reached (no connection, a
/// connection cut, a server shutting down or starting up) rather than that the query was wrong.
fn database_unreachable(err: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr, sqlx};
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(cause)) | DbErr::Query(RuntimeErr::SqlxError(cause)) => match cause {
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
                true
            }
            // SQLSTATE class 08 (connection exception) and 57P (operator intervention: shutdown, restart).
            sqlx::Error::Database(db) => {
                db.code().is_some_and(|code| code.starts_with("08") || code.starts_with("57P"))
            }
            _ => false,
        },
        _ => false,
    }
}

/// Details of a 500, left in the response extensions for the logging middleware.
#[derive(Clone, Debug)]
pub struct InternalErrorDetail(pub String);

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = json!({"error": {"code": self.code(), "message": self.public_message()}});
        let mut response = (status, Json(body)).into_response();
        match &self {
            AppError::Unauthenticated(_) | AppError::TokenExpired => {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            AppError::RateLimited(seconds) | AppError::TooMany { retry_after: seconds, .. } => {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*seconds));
            }
            AppError::Database(_) | AppError::Internal(_) => {
                response.extensions_mut().insert(InternalErrorDetail(self.to_string()));
            }
            _ => {}
        }
        response
    }
}

/// `Json<T>` whose rejections use our error shape, naming the field at fault.
pub struct AppJson<T>(pub T);

impl<S, T> FromRequest<S> for AppJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    /// What `Json` does (content type, body, parse), then the NUL rule.
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !json_content_type(req.headers()) {
            return Err(AppError::InvalidJson("expected a body with Content-Type: application/json".into()));
        }
        let body = axum::body::Bytes::from_request(req, state).await.map_err(bytes_rejection)?;
        let Json(value) = Json::<T>::from_bytes(&body).map_err(json_rejection)?;
        refuse_nul_in_json(&body)?;
        Ok(AppJson(value))
    }
}

/// `application/json` or any `+json` type, as `Json` accepts.
fn json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    match essence.split_once('/') {
        Some((kind, subtype)) => kind == "application" && (subtype == "json" || subtype.ends_with("+json")),
        None => false,
    }
}

fn bytes_rejection(rejection: axum::extract::rejection::BytesRejection) -> AppError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::PayloadTooLarge(crate::app::BODY_LIMIT_BYTES)
    } else {
        AppError::InvalidJson(rejection.body_text())
    }
}

/// Text never holds U+0000: PostgreSQL cannot store it, so every backend refuses it
/// alike, as input, before any service sees it.
const NUL_REFUSED: &str = "text must not contain the NUL character (\\u0000)";

/// A valid JSON document holds a NUL only as the escape `\u0000` (raw control
/// characters are not valid JSON); an escape is one preceded by an even run of backslashes.
fn refuse_nul_in_json(body: &[u8]) -> Result<()> {
    let escaped_nul = body.windows(6).enumerate().any(|(at, window)| {
        window == b"\\u0000" && body[..at].iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 0
    });
    if escaped_nul { Err(AppError::Validation(NUL_REFUSED.into())) } else { Ok(()) }
}

fn json_rejection(rejection: JsonRejection) -> AppError {
    match rejection {
        JsonRejection::JsonDataError(err) => AppError::Validation(err.body_text()),
        JsonRejection::JsonSyntaxError(err) => AppError::InvalidJson(err.body_text()),
        JsonRejection::MissingJsonContentType(_) => {
            AppError::InvalidJson("expected a body with Content-Type: application/json".into())
        }
        JsonRejection::BytesRejection(err) if err.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            AppError::PayloadTooLarge(crate::app::BODY_LIMIT_BYTES)
        }
        other => AppError::InvalidJson(other.body_text()),
    }
}

/// `Path<T>` whose rejections use our error shape: a segment that does not parse is 400 naming it.
pub struct AppPath<T>(pub T);

impl<S, T> FromRequestParts<S> for AppPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(AppPath(value)),
            Err(PathRejection::FailedToDeserializePathParams(err)) => Err(AppError::Validation(err.body_text())),
            Err(other) => Err(AppError::Internal(other.body_text())),
        }
    }
}

/// `Query<T>` whose rejections use our error shape: a value that does not parse is 400 naming it.
pub struct AppQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for AppQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // A `%` always starts an escape in a valid query, so `%00` is exactly an encoded NUL.
        if parts.uri.query().is_some_and(|query| query.contains("%00")) {
            return Err(AppError::Validation(NUL_REFUSED.into()));
        }
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(AppQuery(value)),
            Err(QueryRejection::FailedToDeserializeQueryString(err)) => Err(AppError::Validation(err.body_text())),
            Err(other) => Err(AppError::Validation(other.body_text())),
        }
    }
}

/// A JSON body that may be left out: an empty body gives `T::default()`; anything
/// else must be valid JSON for `T`, with the same errors as [`AppJson`].
pub struct OptionalJson<T>(pub T);

impl<S, T> FromRequest<S> for OptionalJson<T>
where
    T: DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let body = axum::body::Bytes::from_request(req, state).await.map_err(bytes_rejection)?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        let value = serde_json::from_slice(&body).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => AppError::Validation(e.to_string()),
            _ => AppError::InvalidJson(format!("the body is not valid JSON: {e}")),
        })?;
        refuse_nul_in_json(&body)?;
        Ok(OptionalJson(value))
    }
}

impl<T: serde::Serialize> IntoResponse for AppJson<T> {
    fn into_response(self) -> Response {
        Json(self.0).into_response()
    }
}

/// Maps a unique-constraint violation to a 409 naming the field, leaving other errors alone.
pub trait ResultExt<T> {
    fn on_unique_violation(self, field: &str) -> Result<T>;
}

impl<T> ResultExt<T> for std::result::Result<T, sea_orm::DbErr> {
    fn on_unique_violation(self, field: &str) -> Result<T> {
        self.map_err(|err| match err.sql_err() {
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
                AppError::Conflict(format!("{field}: already taken"))
            }
            _ => AppError::Database(err),
        })
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{DbErr, RuntimeErr, sqlx};

    use super::*;

    #[test]
    fn a_database_that_cannot_be_reached_is_503_and_a_bad_query_is_500() {
        let cut = || sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        for unreachable in [
            DbErr::Exec(RuntimeErr::SqlxError(cut())),
            DbErr::Query(RuntimeErr::SqlxError(cut())),
            DbErr::Query(RuntimeErr::SqlxError(sqlx::Error::PoolTimedOut)),
            DbErr::Conn(RuntimeErr::Internal("refused".into())),
        ] {
            assert_eq!(AppError::from(unreachable).status(), StatusCode::SERVICE_UNAVAILABLE);
        }
        for wrong in [
            DbErr::Query(RuntimeErr::SqlxError(sqlx::Error::RowNotFound)),
            DbErr::Exec(RuntimeErr::Internal("syntax".into())),
            DbErr::RecordNotFound("x".into()),
        ] {
            assert_eq!(AppError::from(wrong).status(), StatusCode::INTERNAL_SERVER_ERROR);
        }
    }

    #[test]
    fn a_nul_escape_is_refused_but_an_escaped_backslash_before_u0000_is_not() {
        assert!(refuse_nul_in_json(br#"{"title":"a\u0000b"}"#).is_err());
        assert!(refuse_nul_in_json(br#"{"title":"a\\\u0000"}"#).is_err());
        assert!(refuse_nul_in_json(br#"{"title":"a\\u0000"}"#).is_ok());
        assert!(refuse_nul_in_json(br#"{"title":"\u00001"}"#).is_err());
        assert!(refuse_nul_in_json(br#"{"title":"u0000"}"#).is_ok());
    }

    #[test]
    fn json_content_types() {
        let mut headers = axum::http::HeaderMap::new();
        assert!(!json_content_type(&headers));
        for (value, json) in [
            ("application/json", true),
            ("Application/JSON; charset=utf-8", true),
            ("application/problem+json", true),
            ("text/json", false),
            ("text/plain", false),
        ] {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
            assert_eq!(json_content_type(&headers), json, "{value}");
        }
    }
}
