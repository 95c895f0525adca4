//! `/api/stores` and `/api/products` (ADMIN).

use axum::{
    Router,
    extract::State,
    http::StatusCode,
    routing::{get, patch, post},
};
use serde::Deserialize;

use super::service::{self, ItemView, NewItem, PricePointView, ProductView, StoreChanges, StoreJobsQuery, StoreView};
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
        .route("/api/stores/{id}", patch(update_store))
        .route("/api/stores/{id}/items", get(list_items).post(add_item))
        .route("/api/stores/{id}/items/{item_id}/history", get(item_history))
        .route("/api/stores/{id}/scrape", post(scrape_store))
        .route("/api/stores/{id}/jobs", get(store_jobs))
        .route("/api/products", get(list_products))
}

async fn list_stores(State(state): State<AppState>, _admin: AdminUser) -> Result<AppJson<Vec<StoreView>>> {
    Ok(AppJson(service::list_stores(&state).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewStore {
    name: String,
}

async fn create_store(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppJson(body): AppJson<NewStore>,
) -> Result<(StatusCode, AppJson<StoreView>)> {
    Ok((StatusCode::CREATED, AppJson(service::create_store(&state, &body.name).await?)))
}

async fn update_store(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppPath(id): AppPath<i64>,
    AppJson(changes): AppJson<StoreChanges>,
) -> Result<AppJson<StoreView>> {
    Ok(AppJson(service::update_store(&state, id, changes).await?))
}

async fn list_items(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppPath(id): AppPath<i64>,
) -> Result<AppJson<Vec<ItemView>>> {
    Ok(AppJson(service::list_items(&state, id).await?))
}

async fn add_item(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppPath(id): AppPath<i64>,
    AppJson(body): AppJson<NewItem>,
) -> Result<(StatusCode, AppJson<ItemView>)> {
    Ok((StatusCode::CREATED, AppJson(service::add_item(&state, id, body).await?)))
}

async fn scrape_store(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    AppPath(id): AppPath<i64>,
) -> Result<(StatusCode, AppJson<JobView>)> {
    let mut jobs = service::start_scrapes(&state, &admin, &[id]).await?;
    Ok((StatusCode::ACCEPTED, AppJson(jobs.remove(0))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScrapeMany {
    store_ids: Vec<i64>,
}

async fn scrape_stores(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    AppJson(body): AppJson<ScrapeMany>,
) -> Result<(StatusCode, AppJson<Vec<JobView>>)> {
    Ok((StatusCode::ACCEPTED, AppJson(service::start_scrapes(&state, &admin, &body.store_ids).await?)))
}

async fn store_jobs(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppPath(id): AppPath<i64>,
    AppQuery(query): AppQuery<StoreJobsQuery>,
) -> Result<AppJson<JobPage>> {
    Ok(AppJson(service::store_jobs(&state, id, query).await?))
}

#[derive(Deserialize)]
struct Search {
    search: Option<String>,
}

async fn list_products(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppQuery(search): AppQuery<Search>,
) -> Result<AppJson<Vec<ProductView>>> {
    Ok(AppJson(service::list_products(&state, search.search.as_deref()).await?))
}

async fn item_history(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppPath((id, item_id)): AppPath<(i64, i64)>,
) -> Result<AppJson<Vec<PricePointView>>> {
    Ok(AppJson(service::price_history(&state, id, item_id).await?))
}
