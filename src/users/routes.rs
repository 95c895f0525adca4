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

#[utoipa::path(
    get, path = "/api/users", tag = "users",
    responses((status = 200, description = "every user", body = Vec<UserView>), (status = 403, description = "the caller is not an ADMIN (`forbidden`)", body = crate::openapi::ErrorBody))
)]
async fn list_users(State(state): State<AppState>, _admin: AdminUser) -> Result<AppJson<Vec<UserView>>> {
    Ok(AppJson(service::list_users(&state.db).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct NewUser {
    #[schema(min_length = 3, max_length = 64, pattern = "^[A-Za-z0-9._-]+$", example = "ann.lee")]
    username: String,
    #[schema(min_length = 8, max_length = 256)]
    password: String,
    #[schema(value_type = crate::users::Role)]
    role: String,
}

#[utoipa::path(
    post, path = "/api/users", tag = "users", request_body = NewUser,
    responses((status = 201, description = "created", body = UserView), (status = 403, description = "the caller is not an ADMIN (`forbidden`)", body = crate::openapi::ErrorBody), (status = 409, description = "the username is taken (`conflict`)", body = crate::openapi::ErrorBody))
)]
async fn create_user(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppJson(body): AppJson<NewUser>,
) -> Result<(StatusCode, AppJson<UserView>)> {
    let created = service::add_user(&state, &body.username, &body.password, &body.role).await?;
    Ok((StatusCode::CREATED, AppJson(created)))
}

#[utoipa::path(
    patch, path = "/api/users/{id}", tag = "users", params(("id" = i64, Path, description = "user id", example = 1)),
    request_body = service::UserChanges,
    responses((status = 200, description = "updated", body = UserView), (status = 403, description = "the caller is not an ADMIN (`forbidden`)", body = crate::openapi::ErrorBody), (status = 404, description = "no such user (`not_found`)", body = crate::openapi::ErrorBody),
        (status = 409, description = "the change would lock the caller or the last ADMIN out (`invalid_state`)", body = crate::openapi::ErrorBody))
)]
async fn update_user(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    AppPath(id): AppPath<i64>,
    AppJson(changes): AppJson<service::UserChanges>,
) -> Result<AppJson<UserView>> {
    Ok(AppJson(service::update_user(&state, admin.id, id, changes).await?))
}
