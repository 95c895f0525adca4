//! Login, refresh-token rotation and logout.

use std::net::IpAddr;

use chrono::{Duration as ChronoDuration, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde::Serialize;
use tracing::{instrument, warn};

use super::{
    current_user::TokenSource,
    tokens::{hash_refresh_token, new_refresh_token},
};
use crate::{
    entity::{refresh_token, user},
    error::{AppError, Result},
    events::{control, outbox::in_transaction},
    state::AppState,
    users::{
        Role,
        model::MAX_USERNAME_LEN,
        service::{record_login, revoke_refresh_tokens, revoke_tokens_where},
    },
};

/// The token pair a login or refresh hands out.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    #[schema(value_type = String, example = "Bearer")]
    pub token_type: &'static str,
    pub expires_in: u64,
    pub user: PublicUser,
}

/// The user as the login response and `/api/me` show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublicUser {
    pub id: i64,
    pub username: String,
    pub role: Role,
}

const BAD_CREDENTIALS: &str = "invalid username or password";
/// argon2 reads the whole password; nobody types more than this.
const MAX_PASSWORD_BYTES: usize = 1024;

/// Checks the password (throttled) and issues a token pair.
#[instrument(skip(state, password))]
pub async fn login(state: &AppState, username: &str, password: &str, address: IpAddr) -> Result<TokenPair> {
    if username.trim().is_empty() {
        return Err(AppError::field("username", "must not be empty"));
    }
    if password.is_empty() {
        return Err(AppError::field("password", "must not be empty"));
    }
    let username = username.trim().to_ascii_lowercase();
    if username.chars().count() > MAX_USERNAME_LEN {
        return Err(AppError::field("username", &format!("must be at most {MAX_USERNAME_LEN} characters long")));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(AppError::field("password", &format!("must be at most {MAX_PASSWORD_BYTES} bytes long")));
    }
    // Counted as a failure before the slow check, so a burst gets no more guesses than the limit.
    let attempt = state.throttle.reserve(&username, address)?;
    let found = user::Entity::find().filter(user::Column::Username.eq(&username)).one(&state.db).await?;
    let candidate = found.filter(|u| u.is_active);
    let verified =
        state.passwords.verify(password.to_owned(), candidate.as_ref().map(|u| u.password_hash.clone())).await?;
    match candidate {
        Some(user) if verified => {
            attempt.succeeded();
            record_login(&state.db, user.id).await?;
            issue_pair(state, user).await
        }
        _ => Err(AppError::Unauthenticated(BAD_CREDENTIALS.into())),
    }
}

/// Rotates a refresh token: the old one dies, a new pair is issued.
///
/// Presenting an already-rotated token is reuse — it was stolen or replayed — and
/// signs the user out everywhere: every refresh token revoked and every live
/// session ended. Except within `REFRESH_REUSE_GRACE` of its rotation: two tabs
/// that refresh with the same token at the same moment both stay signed in, the
/// later one with a pair of its own.
#[instrument(skip_all)]
pub async fn refresh(state: &AppState, presented: &str, source: TokenSource) -> Result<TokenPair> {
    let invalid = || AppError::Unauthenticated("the refresh token is invalid or expired".into());
    // Tabs of one browser share the refresh cookie; an API client's token is single-use.
    let grace = if source == TokenSource::Cookie { state.config.refresh_reuse_grace } else { Default::default() };
    let hash = hash_refresh_token(presented);
    let stored = find_refresh_token(state, &hash).await?.ok_or_else(invalid)?;
    let now = Utc::now();
    if stored.expires_at <= now {
        return Err(invalid());
    }
    if stored.revoked_at.is_none() {
        let rotated = refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
            .col_expr(refresh_token::Column::RotatedAt, Expr::value(now))
            .filter(refresh_token::Column::Id.eq(stored.id))
            .filter(refresh_token::Column::RevokedAt.is_null())
            .exec(&state.db)
            .await?;
        if rotated.rows_affected == 1 {
            return issue_pair_for(state, stored.user_id).await;
        }
        // A request racing this one rotated it a moment ago: not reuse.
        let raced = find_refresh_token(state, &hash).await?.ok_or_else(invalid)?;
        if within_grace(&raced, now, grace) {
            return issue_pair_for(state, raced.user_id).await;
        }
        return Err(invalid());
    }
    if within_grace(&stored, now, grace) {
        return issue_pair_for(state, stored.user_id).await;
    }
    if stored.rotated_at.is_some() {
        warn!(user_id = stored.user_id, "a rotated refresh token was presented again; signing the user out everywhere");
        sign_out_everywhere(state, stored.user_id).await?;
    }
    Err(invalid())
}

/// Whether a rotated token is still inside the window in which presenting it again is a race, not reuse.
fn within_grace(token: &refresh_token::Model, now: chrono::DateTime<Utc>, grace: std::time::Duration) -> bool {
    if grace.is_zero() {
        return false;
    }
    let grace = ChronoDuration::from_std(grace).unwrap_or_default();
    token.rotated_at.is_some_and(|rotated| now - rotated < grace)
}

async fn find_refresh_token(state: &AppState, hash: &str) -> Result<Option<refresh_token::Model>> {
    Ok(refresh_token::Entity::find().filter(refresh_token::Column::TokenHash.eq(hash)).one(&state.db).await?)
}

async fn issue_pair_for(state: &AppState, user_id: i64) -> Result<TokenPair> {
    let invalid = || AppError::Unauthenticated("the refresh token is invalid or expired".into());
    let user = user::Entity::find_by_id(user_id).one(&state.db).await?.filter(|u| u.is_active).ok_or_else(invalid)?;
    issue_pair(state, user).await
}

/// Revokes every refresh token of the user and ends their sessions on every instance.
async fn sign_out_everywhere(state: &AppState, user_id: i64) -> Result<()> {
    in_transaction(&state.db, &*state.bus, async |txn| {
        revoke_refresh_tokens(txn, user_id).await?;
        Ok(((), vec![control::revoke_sessions(user_id)]))
    })
    .await
}

/// Revokes the presented refresh token, if any (ending its grace window too); logging out never fails.
pub async fn logout(state: &AppState, presented: Option<&str>) -> Result<()> {
    if let Some(token) = presented {
        revoke_tokens_where(&state.db, refresh_token::Column::TokenHash.eq(hash_refresh_token(token))).await?;
    }
    Ok(())
}

async fn issue_pair(state: &AppState, user: user::Model) -> Result<TokenPair> {
    let role =
        Role::parse(&user.role).ok_or_else(|| AppError::Internal(format!("user {} has an unknown role", user.id)))?;
    let access_token = state.keys.issue_access(user.id, &user.username, role)?;
    let (refresh_token, refresh_hash) = new_refresh_token();
    let now = Utc::now();
    let ttl = ChronoDuration::from_std(state.config.refresh_token_ttl).unwrap_or(ChronoDuration::days(30));
    refresh_token::ActiveModel {
        user_id: Set(user.id),
        token_hash: Set(refresh_hash),
        expires_at: Set(now + ttl),
        revoked_at: Set(None),
        rotated_at: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&state.db)
    .await?;
    Ok(TokenPair {
        access_token,
        refresh_token,
        token_type: "Bearer",
        expires_in: state.keys.access_ttl_secs(),
        user: PublicUser { id: user.id, username: user.username, role },
    })
}
