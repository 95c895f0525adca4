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

#[utoipa::path(
    post, path = "/api/orders", tag = "orders", request_body = NewOrder,
    responses((status = 201, description = "created and dispatched to the provider", body = OrderView),
        (status = 429, description = "too many orders (`rate_limited`); see Retry-After", body = crate::openapi::ErrorBody,
            headers(("Retry-After" = u64, description = "seconds until another order is accepted"))),
        (status = 503, description = "no provider is configured, or the database is unavailable (`unavailable`)", body = crate::openapi::ErrorBody))
)]
async fn create_order(
    State(state): State<AppState>,
    user: CurrentUser,
    AppJson(body): AppJson<NewOrder>,
) -> Result<(StatusCode, AppJson<OrderView>)> {
    Ok((StatusCode::CREATED, AppJson(service::create_order(&state, &user, body).await?)))
}

#[utoipa::path(
    get, path = "/api/orders", tag = "orders", params(OrderFilter),
    responses((status = 200, description = "the orders the caller may see, newest first", body = OrderPage))
)]
async fn list_orders(
    State(state): State<AppState>,
    user: CurrentUser,
    AppQuery(filter): AppQuery<OrderFilter>,
) -> Result<AppJson<OrderPage>> {
    Ok(AppJson(service::list_orders(&state, &user, filter).await?))
}

#[utoipa::path(
    get, path = "/api/orders/{id}", tag = "orders", params(("id" = i64, Path, description = "order id", example = 1)),
    responses((status = 200, description = "the order", body = OrderView), (status = 404, description = "no such order, or not the caller's (`not_found`)", body = crate::openapi::ErrorBody))
)]
async fn get_order(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(id): AppPath<i64>,
) -> Result<AppJson<OrderView>> {
    Ok(AppJson(service::get_order(&state, &user, id).await?))
}

#[utoipa::path(
    post, path = "/api/orders/{id}/check", tag = "orders", params(("id" = i64, Path, description = "order id", example = 1)),
    responses((status = 200, description = "checked with the provider now", body = OrderView), (status = 403, description = "the caller is not an ADMIN (`forbidden`)", body = crate::openapi::ErrorBody), (status = 404, description = "no such order (`not_found`)", body = crate::openapi::ErrorBody),
        (status = 409, description = "the order is finished (`invalid_state`) or being checked (`conflict`)", body = crate::openapi::ErrorBody))
)]
async fn check_order(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppPath(id): AppPath<i64>,
) -> Result<AppJson<OrderView>> {
    Ok(AppJson(service::check_now(&state, id).await?))
}

#[utoipa::path(
    post, path = "/api/orders/{id}/cancel", tag = "orders", params(("id" = i64, Path, description = "order id", example = 1)),
    responses((status = 200, description = "cancelled (the provider was asked first); `failure_reason` says by whom and whether the provider could cancel it", body = OrderView),
        (status = 404, description = "no such order, or not the caller's (`not_found`)", body = crate::openapi::ErrorBody),
        (status = 409, description = "the order is final, or the provider refused to cancel it (`invalid_state`)", body = crate::openapi::ErrorBody),
        (status = 503, description = "the provider could not be asked, or the database is unavailable (`unavailable`)", body = crate::openapi::ErrorBody))
)]
async fn cancel_order(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(id): AppPath<i64>,
) -> Result<AppJson<OrderView>> {
    Ok(AppJson(service::cancel_order(&state, &user, id).await?))
}
