//! `/api/users`: ADMIN user management.

use axum::{
    Router,
    extract::State,
    http::StatusCode,
    routing::{get, patch},
};
use serde::Deserialize;

use super::{UserView, service};
use crate::{
    auth::AdminUser,
    error::{AppJson, AppPath, Result},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/users", get(list_users).post(create_user)).route("/api/users/{id}", patch(update_user))
}

async fn list_users(State(state): State<AppState>, _admin: AdminUser) -> Result<AppJson<Vec<UserView>>> {
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
    _admin: AdminUser,
    AppJson(body): AppJson<NewUser>,
) -> Result<(StatusCode, AppJson<UserView>)> {
    let created = service::add_user(&state, &body.username, &body.password, &body.role).await?;
    Ok((StatusCode::CREATED, AppJson(created)))
}

async fn update_user(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    AppPath(id): AppPath<i64>,
    AppJson(changes): AppJson<service::UserChanges>,
) -> Result<AppJson<UserView>> {
    Ok(AppJson(service::update_user(&state, admin.id, id, changes).await?))
}
