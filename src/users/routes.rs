//! `/api/users`: ADMIN user management.

use axum::{
    Router,
    extract::{Path, State},
    http::StatusCode,
    routing::{get, patch},
};
use serde::Deserialize;

use super::{UserView, service};
use crate::{
    auth::CurrentUser,
    error::{AppJson, Result},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/users", get(list_users).post(create_user))
        .route("/api/users/{id}", patch(update_user))
}

async fn list_users(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<AppJson<Vec<UserView>>> {
    user.require_admin()?;
    Ok(AppJson(service::list_users(&state.db).await?))
}

#[derive(Deserialize)]
struct NewUser {
    username: String,
    password: String,
    role: String,
}

async fn create_user(
    State(state): State<AppState>,
    user: CurrentUser,
    AppJson(body): AppJson<NewUser>,
) -> Result<(StatusCode, AppJson<UserView>)> {
    user.require_admin()?;
    let created =
        service::create_user(&state.db, &body.username, &body.password, &body.role).await?;
    Ok((StatusCode::CREATED, AppJson(created)))
}

async fn update_user(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    AppJson(changes): AppJson<service::UserChanges>,
) -> Result<AppJson<UserView>> {
    user.require_admin()?;
    Ok(AppJson(
        service::update_user(&state.db, user.id, id, changes).await?,
    ))
}
