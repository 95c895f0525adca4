//! `/api/stores` and `/api/products` (ADMIN).

use axum::{
    Router,
    extract::State,
    http::StatusCode,
    routing::{get, patch, post},
};
use serde::Deserialize;

use super::service::{
    self, ItemChanges, ItemView, NewItem, PricePointView, ProductDetail, ProductView, StoreChanges, StoreJobsQuery,
    StoreView,
};
use crate::{
    auth::AdminUser,
    error::{AppJson, AppPath, AppQuery, Result},
    jobs::{JobView, service::JobPage},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/stores", get(list_stores).post(create_store))
        .route("/api/stores/scrape", post(scrape_stores))
        .route("/api/stores/bulk", post(bulk_update_stores))
        .route("/api/stores/{id}", patch(update_store))
        .route("/api/stores/{id}/items", get(list_items).post(add_item))
        .route("/api/stores/{id}/items/{item_id}", patch(update_item).delete(delete_item))
        .route("/api/stores/{id}/items/{item_id}/history", get(item_history))
        .route("/api/stores/{id}/scrape", post(scrape_store))
        .route("/api/stores/{id}/jobs", get(store_jobs))
        .route("/api/products", get(list_products))
        .route("/api/products/{id}", get(product_detail))
}

#[utoipa::path(
    get, path = "/api/stores", tag = "stores",
    responses((status = 200, description = "every store", body = Vec<StoreView>), (status = 403, description = "the caller is not an ADMIN (`forbidden`)", body = crate::openapi::ErrorBody))
)]
async fn list_stores(State(state): State<AppState>, _admin: AdminUser) -> Result<AppJson<Vec<StoreView>>> {
    Ok(AppJson(service::list_stores(&state).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewStore {
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    /// `"6h"`, `"30m"`…: scrape the store by itself that often; absent or `null`: only by hand.
    #[schema(example = "6h")]
    scrape_every: Option<String>,
}

#[utoipa::path(
    post, path = "/api/stores", tag = "stores", request_body = NewStore,
    responses((status = 201, description = "created", body = StoreView), (status = 403, description = "the caller is not an ADMIN (`forbidden`)", body = crate::openapi::ErrorBody), (status = 409, description = "the name is taken (`conflict`)", body = crate::openapi::ErrorBody))
)]
async fn create_store(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppJson(body): AppJson<NewStore>,
) -> Result<(StatusCode, AppJson<StoreView>)> {
    Ok((StatusCode::CREATED, AppJson(service::create_store(&state, &body.name, body.scrape_every.as_deref()).await?)))
}

#[utoipa::path(
    patch, path = "/api/stores/{id}", tag = "stores", params(("id" = i64, Path, description = "store id", example = 1)),
    request_body = StoreChanges,
    responses((status = 200, description = "updated", body = StoreView), (status = 403, description = "the caller is not an ADMIN (`forbidden`)", body = crate::openapi::ErrorBody), (status = 404, description = "no such store (`not_found`)", body = crate::openapi::ErrorBody),
        (status = 409, description = "the name is taken (`conflict`)", body = crate::openapi::ErrorBody))
)]
async fn update_store(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppPath(id): AppPath<i64>,
    AppJson(changes): AppJson<StoreChanges>,
) -> Result<AppJson<StoreView>> {
    Ok(AppJson(service::update_store(&state, id, changes).await?))
}

#[utoipa::path(
    get, path = "/api/stores/{id}/items", tag = "stores", params(("id" = i64, Path, description = "store id", example = 1)),
    responses((status = 200, description = "the store's items", body = Vec<ItemView>), (status = 403, description = "the caller is not an ADMIN (`forbidden`)", body = crate::openapi::ErrorBody), (status = 404, description = "no such store (`not_found`)", body = crate::openapi::ErrorBody))
)]
async fn list_items(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppPath(id): AppPath<i64>,
) -> Result<AppJson<Vec<ItemView>>> {
    Ok(AppJson(service::list_items(&state, id).await?))
}

#[utoipa::path(
    post, path = "/api/stores/{id}/items", tag = "stores", params(("id" = i64, Path, description = "store id", example = 1)),
    request_body = NewItem,
    responses((status = 201, description = "added", body = ItemView), (status = 400, description = "a field is missing or invalid (`validation_failed`)", body = crate::openapi::ErrorBody),
        (status = 403, description = "the caller is not an ADMIN (`forbidden`)", body = crate::openapi::ErrorBody), (status = 404, description = "no such store (`not_found`)", body = crate::openapi::ErrorBody))
)]
async fn add_item(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppPath(id): AppPath<i64>,
    AppJson(body): AppJson<NewItem>,
) -> Result<(StatusCode, AppJson<ItemView>)> {
    Ok((StatusCode::CREATED, AppJson(service::add_item(&state, id, body).await?)))
}

#[utoipa::path(
    patch, path = "/api/stores/{id}/items/{item_id}", tag = "stores",
    params(("id" = i64, Path, description = "store id", example = 1), ("item_id" = i64, Path, description = "item id", example = 1)),
    request_body = ItemChanges,
    responses((status = 200, description = "changed", body = ItemView), (status = 400, description = "a field is invalid (`validation_failed`)", body = crate::openapi::ErrorBody),
        (status = 403, description = "the caller is not an ADMIN (`forbidden`)", body = crate::openapi::ErrorBody), (status = 404, description = "the store has no such item (`not_found`)", body = crate::openapi::ErrorBody))
)]
async fn update_item(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppPath((id, item_id)): AppPath<(i64, i64)>,
    AppJson(changes): AppJson<ItemChanges>,
) -> Result<AppJson<ItemView>> {
    Ok(AppJson(service::update_item(&state, id, item_id, changes).await?))
}

#[utoipa::path(
    delete, path = "/api/stores/{id}/items/{item_id}", tag = "stores",
    params(("id" = i64, Path, description = "store id", example = 1), ("item_id" = i64, Path, description = "item id", example = 1)),
    responses((status = 204, description = "deleted with its price history"), (status = 403, description = "the caller is not an ADMIN (`forbidden`)", body = crate::openapi::ErrorBody),
        (status = 404, description = "the store has no such item (`not_found`)", body = crate::openapi::ErrorBody))
)]
async fn delete_item(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppPath((id, item_id)): AppPath<(i64, i64)>,
) -> Result<StatusCode> {
    service::delete_item(&state, id, item_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct BulkStoreChange {
    /// At most `STORE_BULK_MAX` (default 500) stores; repeated ids count once.
    #[schema(min_items = 1)]
    store_ids: Vec<i64>,
    is_active: bool,
}

#[utoipa::path(
    post, path = "/api/stores/bulk", tag = "stores", request_body = BulkStoreChange,
    responses((status = 200, description = "the stores, changed, by id", body = Vec<StoreView>), (status = 400, description = "no stores or more than `STORE_BULK_MAX` (`validation_failed`)", body = crate::openapi::ErrorBody),
        (status = 403, description = "the caller is not an ADMIN (`forbidden`)", body = crate::openapi::ErrorBody),
        (status = 404, description = "a store does not exist; none was changed (`not_found`)", body = crate::openapi::ErrorBody))
)]
async fn bulk_update_stores(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppJson(body): AppJson<BulkStoreChange>,
) -> Result<AppJson<Vec<StoreView>>> {
    Ok(AppJson(service::set_stores_active(&state, &body.store_ids, body.is_active).await?))
}

#[utoipa::path(
    post, path = "/api/stores/{id}/scrape", tag = "stores", params(("id" = i64, Path, description = "store id", example = 1)),
    responses((status = 202, description = "the scrape job, started", body = JobView), (status = 403, description = "the caller is not an ADMIN (`forbidden`)", body = crate::openapi::ErrorBody), (status = 404, description = "no such store (`not_found`)", body = crate::openapi::ErrorBody),
        (status = 409, description = "the store is inactive (`invalid_state`) or is being scraped (`already_running`)", body = crate::openapi::ErrorBody))
)]
async fn scrape_store(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    AppPath(id): AppPath<i64>,
) -> Result<(StatusCode, AppJson<JobView>)> {
    let mut jobs = service::start_scrapes(&state, Some(admin.id), &[id]).await?;
    Ok((StatusCode::ACCEPTED, AppJson(jobs.remove(0))))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ScrapeMany {
    /// At most `STORE_BULK_MAX` (default 500) stores; repeated ids count once.
    #[schema(min_items = 1)]
    store_ids: Vec<i64>,
}

#[utoipa::path(
    post, path = "/api/stores/scrape", tag = "stores", request_body = ScrapeMany,
    responses((status = 202, description = "one scrape job per store, started", body = Vec<JobView>), (status = 400, description = "no stores or more than `STORE_BULK_MAX` (`validation_failed`)", body = crate::openapi::ErrorBody), (status = 403, description = "the caller is not an ADMIN (`forbidden`)", body = crate::openapi::ErrorBody),
        (status = 404, description = "a store does not exist (`not_found`)", body = crate::openapi::ErrorBody),
        (status = 409, description = "a store is inactive (`invalid_state`) or is being scraped (`already_running`)", body = crate::openapi::ErrorBody))
)]
async fn scrape_stores(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    AppJson(body): AppJson<ScrapeMany>,
) -> Result<(StatusCode, AppJson<Vec<JobView>>)> {
    Ok((StatusCode::ACCEPTED, AppJson(service::start_scrapes(&state, Some(admin.id), &body.store_ids).await?)))
}

#[utoipa::path(
    get, path = "/api/stores/{id}/jobs", tag = "stores", params(("id" = i64, Path, description = "store id", example = 1), StoreJobsQuery),
    responses((status = 200, description = "the store's scrape jobs, newest first", body = JobPage), (status = 403, description = "the caller is not an ADMIN (`forbidden`)", body = crate::openapi::ErrorBody), (status = 404, description = "no such store (`not_found`)", body = crate::openapi::ErrorBody))
)]
async fn store_jobs(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppPath(id): AppPath<i64>,
    AppQuery(query): AppQuery<StoreJobsQuery>,
) -> Result<AppJson<JobPage>> {
    Ok(AppJson(service::store_jobs(&state, id, query).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct Search {
    search: Option<String>,
}

#[utoipa::path(
    get, path = "/api/products", tag = "stores", params(Search),
    responses((status = 200, description = "products by name with their cheapest active store (at most 200)", body = Vec<ProductView>), (status = 403, description = "the caller is not an ADMIN (`forbidden`)", body = crate::openapi::ErrorBody))
)]
async fn list_products(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppQuery(search): AppQuery<Search>,
) -> Result<AppJson<Vec<ProductView>>> {
    Ok(AppJson(service::list_products(&state, search.search.as_deref()).await?))
}

#[utoipa::path(
    get, path = "/api/products/{id}", tag = "stores", params(("id" = i64, Path, description = "product id", example = 1)),
    responses((status = 200, description = "the product with each active store's price and price history, cheapest first", body = ProductDetail), (status = 403, description = "the caller is not an ADMIN (`forbidden`)", body = crate::openapi::ErrorBody),
        (status = 404, description = "no such product (`not_found`)", body = crate::openapi::ErrorBody))
)]
async fn product_detail(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppPath(id): AppPath<i64>,
) -> Result<AppJson<ProductDetail>> {
    Ok(AppJson(service::product_detail(&state, id).await?))
}

#[utoipa::path(
    get, path = "/api/stores/{id}/items/{item_id}/history", tag = "stores",
    params(("id" = i64, Path, description = "store id", example = 1), ("item_id" = i64, Path, description = "item id", example = 1)),
    responses((status = 200, description = "the item's price points, oldest first (the last 1000)", body = Vec<PricePointView>), (status = 403, description = "the caller is not an ADMIN (`forbidden`)", body = crate::openapi::ErrorBody),
        (status = 404, description = "the store has no such item (`not_found`)", body = crate::openapi::ErrorBody))
)]
async fn item_history(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppPath((id, item_id)): AppPath<(i64, i64)>,
) -> Result<AppJson<Vec<PricePointView>>> {
    Ok(AppJson(service::price_history(&state, id, item_id).await?))
}
