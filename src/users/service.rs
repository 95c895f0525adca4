//! Creating, listing and changing users.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    sea_query::{Expr, SimpleExpr},
};
use tracing::instrument;

use super::model::{NewUser, Role, UserView, parse_password, parse_role};
use crate::{
    auth::password::hash_password,
    entity::{refresh_token, user},
    error::{AppError, Result, ResultExt},
    events::{NewEvent, Topic, control, outbox::in_transaction},
    state::AppState,
};

/// Creates a user after validating every field; a taken username is 409. For the
/// command line and the demo seed: no event is written (a page open at the time
/// sees the user on its next load). The API goes through [`add_user`].
#[instrument(skip(db, password))]
pub async fn create_user(db: &impl ConnectionTrait, username: &str, password: &str, role: &str) -> Result<UserView> {
    let new = NewUser::parse(username, password, role)?;
    let password_hash = hash_password(new.password.clone()).await?;
    Ok(insert_user(db, &new, password_hash).await?.into())
}

/// Inserts the checked user with its hash; a taken username is 409 `conflict`.
async fn insert_user(db: &impl ConnectionTrait, new: &NewUser, password_hash: String) -> Result<user::Model> {
    let now = Utc::now();
    user::ActiveModel {
        username: Set(new.username.clone()),
        password_hash: Set(password_hash),
        role: Set(new.role.as_str().to_owned()),
        is_active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        last_login_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await
    .on_unique_violation("username")
}

/// Creates the user unless the username exists; returns whether it was created.
pub async fn ensure_user(db: &impl ConnectionTrait, username: &str, password: &str, role: Role) -> Result<bool> {
    let exists = user::Entity::find().filter(user::Column::Username.eq(username)).one(db).await?.is_some();
    if exists {
        return Ok(false);
    }
    create_user(db, username, password, role.as_str()).await?;
    Ok(true)
}

/// `POST /api/users`: checks, hashes in turn with logins, and inserts the user with
/// its `user.created` event for the ADMINs' users pages.
#[instrument(skip(state, password))]
pub async fn add_user(state: &AppState, username: &str, password: &str, role: &str) -> Result<UserView> {
    let new = NewUser::parse(username, password, role)?;
    let password_hash = {
        let _turn = state.passwords.turn().await?;
        hash_password(new.password.clone()).await?
    };
    in_transaction(&state.db, &*state.bus, async |txn| {
        let view = UserView::from(insert_user(txn, &new, password_hash).await?);
        Ok((view.clone(), vec![user_event(USER_CREATED, &view)]))
    })
    .await
}

/// Notes a successful password login in `last_login_at`. Not a change to the
/// account: `updated_at` stays and no event is written (a login is no news to push,
/// and logins are frequent); the users page shows it on its next load.
pub async fn record_login(db: &impl ConnectionTrait, user_id: i64) -> Result<()> {
    user::Entity::update_many()
        .col_expr(user::Column::LastLoginAt, Expr::value(Utc::now()))
        .filter(user::Column::Id.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}

/// The event name of a new account.
pub const USER_CREATED: &str = "user.created";
/// The event name of a change an ADMIN made to an account: role, active, password.
pub const USER_UPDATED: &str = "user.updated";

/// An event on the ADMIN-only `users` channel carrying the account as the API shows it.
fn user_event(kind: &'static str, view: &UserView) -> NewEvent {
    NewEvent::of(Topic::Users, view.id, kind, view, Vec::new())
}

/// Every user, oldest first.
pub async fn list_users(db: &impl ConnectionTrait) -> Result<Vec<UserView>> {
    let users = user::Entity::find().order_by_asc(user::Column::Id).all(db).await?;
    Ok(users.into_iter().map(UserView::from).collect())
}

/// What an ADMIN may change about a user.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChanges {
    #[schema(value_type = Option<crate::users::Role>)]
    pub role: Option<String>,
    pub is_active: Option<bool>,
    #[schema(min_length = 8, max_length = 256)]
    pub password: Option<String>,
}

/// Applies changes; an ADMIN cannot demote or disable themselves (so one ADMIN always remains).
/// Live sessions keep the identity they connected with, so the user's sessions on every
/// instance are ended (close 4401) in the same transaction's outbox: they reconnect as who the user is now.
#[instrument(skip(state, changes))]
pub async fn update_user(state: &AppState, acting_admin: i64, user_id: i64, changes: UserChanges) -> Result<UserView> {
    let role = changes.role.as_deref().map(parse_role).transpose()?;
    let password = changes.password.as_deref().map(parse_password).transpose()?;
    if user_id == acting_admin && (role == Some(Role::AdminLimited) || changes.is_active == Some(false)) {
        return Err(AppError::InvalidState("you cannot remove your own ADMIN role or disable yourself".into()));
    }
    let password_hash = match password {
        Some(password) => {
            let _turn = state.passwords.turn().await?;
            Some(hash_password(password).await?)
        }
        None => None,
    };
    // Forgotten once the change is done, committed or not, and even if this
    // request is dropped midway: the next request reads the account afresh.
    let _forget = state.user_lookup.forget_when_done(user_id);
    in_transaction(&state.db, &*state.bus, async |txn| {
        let existing = user::Entity::find_by_id(user_id)
            .one(txn)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("user {user_id} does not exist")))?;
        let removes_an_admin = existing.role == Role::Admin.as_str()
            && existing.is_active
            && (role == Some(Role::AdminLimited) || changes.is_active == Some(false));
        if removes_an_admin {
            ensure_another_active_admin(txn, user_id).await?;
        }
        let mut model: user::ActiveModel = existing.into();
        if let Some(role) = role {
            model.role = Set(role.as_str().to_owned());
        }
        if let Some(active) = changes.is_active {
            model.is_active = Set(active);
        }
        let password_changed = password_hash.is_some();
        if let Some(hash) = password_hash {
            model.password_hash = Set(hash);
        }
        model.updated_at = Set(Utc::now());
        let updated = model.update(txn).await?;
        if password_changed || changes.is_active == Some(false) {
            revoke_refresh_tokens(txn, user_id).await?;
        }
        let view = UserView::from(updated);
        let events = vec![user_event(USER_UPDATED, &view), control::revoke_sessions(user_id)];
        Ok((view, events))
    })
    .await
}

/// The rule "at least one active ADMIN remains", checked under a lock that every
/// demotion and disabling of an ADMIN takes: two ADMINs demoting each other at
/// the same moment cannot both succeed.
async fn ensure_another_active_admin(txn: &DatabaseTransaction, user_id: i64) -> Result<()> {
    crate::db::serialize_on(txn, "users:active-admins").await?;
    let others = user::Entity::find()
        .filter(user::Column::Role.eq(Role::Admin.as_str()))
        .filter(user::Column::IsActive.eq(true))
        .filter(user::Column::Id.ne(user_id))
        .count(txn)
        .await?;
    if others == 0 {
        return Err(AppError::InvalidState(
            "at least one active ADMIN must remain: make another user ADMIN first".into(),
        ));
    }
    Ok(())
}

/// Signs a user out everywhere by revoking every refresh token they hold, and
/// ending the grace window of those already rotated (so none can be refreshed).
pub async fn revoke_refresh_tokens(db: &impl ConnectionTrait, user_id: i64) -> Result<()> {
    revoke_tokens_where(db, refresh_token::Column::UserId.eq(user_id)).await
}

/// Revokes the refresh tokens matching `which` in one statement: a live one gets
/// `revoked_at` now (an earlier revocation or rotation keeps its time), and a rotated
/// one loses its grace window, so none of them can be refreshed again.
pub(crate) async fn revoke_tokens_where(db: &impl ConnectionTrait, which: SimpleExpr) -> Result<()> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::col(refresh_token::Column::RevokedAt).if_null(Utc::now()))
        .col_expr(refresh_token::Column::RotatedAt, Expr::value(Option::<chrono::DateTime<Utc>>::None))
        .filter(which)
        .filter(refresh_token::Column::RevokedAt.is_null().or(refresh_token::Column::RotatedAt.is_not_null()))
        .exec(db)
        .await?;
    Ok(())
}
