//! `/api/orders`.

use axum::{
    Router,
    extract::State,
    http::StatusCode,
    routing::{get, post},
};

use super::{
    OrderView,
    service::{self, NewOrder, OrderFilter, OrderPage},
};
use crate::{
    auth::{AdminUser, CurrentUser},
    error::{AppJson, AppPath, AppQuery, Result},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/orders", get(list_orders).post(create_order))
        .route("/api/orders/{id}", get(get_order))
        .route("/api/orders/{id}/check", post(check_order))
        .route("/api/orders/{id}/cancel", post(cancel_order))
}

async fn create_order(
    State(state): State<AppState>,
    user: CurrentUser,
    AppJson(body): AppJson<NewOrder>,
) -> Result<(StatusCode, AppJson<OrderView>)> {
    Ok((StatusCode::CREATED, AppJson(service::create_order(&state, &user, body).await?)))
}

async fn list_orders(
    State(state): State<AppState>,
    user: CurrentUser,
    AppQuery(filter): AppQuery<OrderFilter>,
) -> Result<AppJson<OrderPage>> {
    Ok(AppJson(service::list_orders(&state, &user, filter).await?))
}

async fn get_order(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(id): AppPath<i64>,
) -> Result<AppJson<OrderView>> {
    Ok(AppJson(service::get_order(&state, &user, id).await?))
}

async fn check_order(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppPath(id): AppPath<i64>,
) -> Result<AppJson<OrderView>> {
    Ok(AppJson(service::check_now(&state, id).await?))
}

async fn cancel_order(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(id): AppPath<i64>,
) -> Result<AppJson<OrderView>> {
    Ok(AppJson(service::cancel_order(&state, &user, id).await?))
}
