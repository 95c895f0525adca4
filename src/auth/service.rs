//! Login, refresh-token rotation and logout.

use std::net::IpAddr;

use chrono::{Duration as ChronoDuration, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde::Serialize;
use tracing::{instrument, warn};

use super::{
    password::verify_password,
    tokens::{hash_refresh_token, new_refresh_token},
};
use crate::{
    entity::{refresh_token, user},
    error::{AppError, Result},
    state::AppState,
    users::{Role, service::revoke_refresh_tokens},
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
    state.throttle.check(&username, address)?;
    let found = user::Entity::find().filter(user::Column::Username.eq(&username)).one(&state.db).await?;
    let candidate = found.filter(|u| u.is_active);
    let verified = verify_password(password.to_owned(), candidate.as_ref().map(|u| u.password_hash.clone())).await?;
    match candidate {
        Some(user) if verified => {
            state.throttle.record_success(&username);
            issue_pair(state, user).await
        }
        _ => {
            state.throttle.record_failure(&username, address);
            Err(AppError::Unauthenticated(BAD_CREDENTIALS.into()))
        }
    }
}

/// Rotates a refresh token: the old one dies, a new pair is issued. Presenting
/// an already-rotated token signs the user out everywhere (it was stolen or replayed).
#[instrument(skip_all)]
pub async fn refresh(state: &AppState, presented: &str) -> Result<TokenPair> {
    let invalid = || AppError::Unauthenticated("the refresh token is invalid or expired".into());
    let stored = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(hash_refresh_token(presented)))
        .one(&state.db)
        .await?
        .ok_or_else(invalid)?;
    let now = Utc::now();
    if stored.revoked_at.is_some() {
        warn!(
            user_id = stored.user_id,
            "a rotated refresh token was presented again; revoking all of the user's tokens"
        );
        revoke_refresh_tokens(&state.db, stored.user_id).await?;
        return Err(invalid());
    }
    if stored.expires_at <= now {
        return Err(invalid());
    }
    let rotated = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
        .filter(refresh_token::Column::Id.eq(stored.id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(&state.db)
        .await?;
    if rotated.rows_affected != 1 {
        return Err(invalid());
    }
    let user =
        user::Entity::find_by_id(stored.user_id).one(&state.db).await?.filter(|u| u.is_active).ok_or_else(invalid)?;
    issue_pair(state, user).await
}

/// Revokes the presented refresh token, if any; logging out never fails.
pub async fn logout(state: &AppState, presented: Option<&str>) -> Result<()> {
    if let Some(token) = presented {
        refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::RevokedAt, Expr::value(Utc::now()))
            .filter(refresh_token::Column::TokenHash.eq(hash_refresh_token(token)))
            .filter(refresh_token::Column::RevokedAt.is_null())
            .exec(&state.db)
            .await?;
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
