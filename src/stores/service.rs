//! Stores and items: create, change, list; start scrapes; products with their cheapest store.

use std::{collections::HashMap, time::Duration};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use serde::{Deserialize, Serialize};

use super::{
    price::freshness,
    schedule::{format_every, parse_scrape_every},
    scrape::scrape_store,
};
use crate::{
    entity::{job, price_point, product, store, store_item},
    error::{AppError, Result, ResultExt},
    jobs::{
        JobView, Restart,
        service::{JobFilter, JobPage, NewJob, Runner, active_job, already_running, create_job, list_jobs},
    },
    listing::contains_ignoring_case,
    state::AppState,
};

/// A store as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StoreView {
    pub id: i64,
    pub name: String,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub items_count: usize,
    pub last_scraped_at: Option<DateTime<Utc>>,
    /// How often the store is scraped by itself (`"6h"`, `"30m"`); `null`: only by hand.
    #[schema(example = "6h")]
    pub scrape_every: Option<String>,
    /// When the next scheduled scrape is due (while the store is active); `null` without a schedule.
    pub next_scrape_at: Option<DateTime<Utc>>,
}

/// An item with its latest price and how fresh it is.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ItemView {
    pub id: i64,
    pub store_id: i64,
    pub name: String,
    pub url: String,
    pub sku: Option<String>,
    pub price_selector: String,
    pub stock_selector: Option<String>,
    pub price: Option<f64>,
    pub in_stock: Option<bool>,
    pub scraped_at: Option<DateTime<Utc>>,
    /// `never`, `fresh` (under an hour), `hours` (under a day) or `stale`.
    #[schema(value_type = String, example = "fresh")]
    pub freshness: &'static str,
    pub last_error: Option<String>,
}

impl ItemView {
    fn new(item: store_item::Model, now: DateTime<Utc>) -> Self {
        ItemView {
            freshness: freshness(item.scraped_at, now),
            id: item.id,
            store_id: item.store_id,
            name: item.name,
            url: item.url,
            sku: item.sku,
            price_selector: item.price_selector,
            stock_selector: item.stock_selector,
            price: item.price,
            in_stock: item.in_stock,
            scraped_at: item.scraped_at,
            last_error: item.last_error,
        }
    }
}

/// Every store with its item count and latest scrape.
pub async fn list_stores(state: &AppState) -> Result<Vec<StoreView>> {
    let stores = store::Entity::find().order_by_asc(store::Column::Id).all(&state.db).await?;
    store_views(state, stores).await
}

/// Views of the given stores, reading only their items.
async fn store_views(state: &AppState, stores: Vec<store::Model>) -> Result<Vec<StoreView>> {
    let ids: Vec<i64> = stores.iter().map(|s| s.id).collect();
    let items = store_item::Entity::find().filter(store_item::Column::StoreId.is_in(ids)).all(&state.db).await?;
    let mut by_store: HashMap<i64, (usize, Option<DateTime<Utc>>)> = HashMap::new();
    for item in items {
        let entry = by_store.entry(item.store_id).or_default();
        entry.0 += 1;
        entry.1 = entry.1.max(item.scraped_at);
    }
    Ok(stores
        .into_iter()
        .map(|s| {
            let (items_count, last_scraped_at) = by_store.get(&s.id).copied().unwrap_or_default();
            StoreView {
                id: s.id,
                name: s.name,
                is_active: s.is_active,
                created_at: s.created_at,
                items_count,
                last_scraped_at,
                scrape_every: s
                    .scrape_every_secs
                    .map(|secs| format_every(Duration::from_secs(u64::try_from(secs).unwrap_or(0)))),
                next_scrape_at: s.scrape_every_secs.and(s.next_scrape_at),
            }
        })
        .collect())
}

async fn store_view(state: &AppState, store: store::Model) -> Result<StoreView> {
    Ok(store_views(state, vec![store]).await?.remove(0))
}

fn parse_store_name(name: &str) -> Result<String> {
    AppError::bounded_text("name", name, 200)
}

/// The columns that hold a schedule: every (seconds) and the next run, one period from now.
fn schedule_columns(state: &AppState, every: Option<&str>) -> Result<(Option<i64>, Option<DateTime<Utc>>)> {
    let Some(every) = every else { return Ok((None, None)) };
    let every = parse_scrape_every(every, state.config.scrape_every_min)?;
    let next = Utc::now() + chrono::Duration::from_std(every).unwrap_or_default();
    Ok((Some(every.as_secs() as i64), Some(next)))
}

/// Creates a store, scraped by hand or every `scrape_every`; names are unique.
pub async fn create_store(state: &AppState, name: &str, scrape_every: Option<&str>) -> Result<StoreView> {
    let name = parse_store_name(name)?;
    let (every, next) = schedule_columns(state, scrape_every)?;
    let created = store::ActiveModel {
        name: Set(name),
        is_active: Set(true),
        created_at: Set(Utc::now()),
        scrape_every_secs: Set(every),
        next_scrape_at: Set(next),
        ..Default::default()
    }
    .insert(&state.db)
    .await
    .on_unique_violation("name")?;
    store_view(state, created).await
}

/// The body of `PATCH /api/stores/{id}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreChanges {
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    pub is_active: Option<bool>,
    /// `"6h"`, `"30m"`…: scrape the store by itself that often (at least `SCRAPE_EVERY_MIN`,
    /// at most 30 days), the first run one period from now; `null`: only by hand. Absent: unchanged.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, example = "6h")]
    pub scrape_every: Option<Option<String>>,
}

/// A field that may be present as `null` (`Some(None)`) or absent (`None`, via `default`).
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> std::result::Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Renames, activates or deactivates a store, or changes its schedule.
pub async fn update_store(state: &AppState, store_id: i64, changes: StoreChanges) -> Result<StoreView> {
    let existing = find_store(state, store_id).await?;
    let mut model: store::ActiveModel = existing.into();
    if let Some(name) = &changes.name {
        model.name = Set(parse_store_name(name)?);
    }
    if let Some(active) = changes.is_active {
        model.is_active = Set(active);
    }
    if let Some(every) = &changes.scrape_every {
        let (every, next) = schedule_columns(state, every.as_deref())?;
        model.scrape_every_secs = Set(every);
        model.next_scrape_at = Set(next);
    }
    let updated = model.update(&state.db).await.on_unique_violation("name")?;
    store_view(state, updated).await
}

/// The store ids of a bulk action, each once in the order given: 400 when there are none or more than `STORE_BULK_MAX`.
fn bulk_store_ids(state: &AppState, store_ids: &[i64]) -> Result<Vec<i64>> {
    let mut seen = std::collections::HashSet::new();
    let ids: Vec<i64> = store_ids.iter().copied().filter(|id| seen.insert(*id)).collect();
    if ids.is_empty() {
        return Err(AppError::field("store_ids", "must name at least one store"));
    }
    let max = state.config.store_bulk_max;
    if ids.len() > max {
        return Err(AppError::field("store_ids", &format!("at most {max} stores at once (STORE_BULK_MAX)")));
    }
    Ok(ids)
}

/// Activates or deactivates several stores at once, all or none: 404 (and nothing
/// changed) when one of them does not exist. Returns them by id.
pub async fn set_stores_active(state: &AppState, store_ids: &[i64], active: bool) -> Result<Vec<StoreView>> {
    let ids = bulk_store_ids(state, store_ids)?;
    let txn = state.db.begin().await?;
    let updated = store::Entity::update_many()
        .col_expr(store::Column::IsActive, Expr::value(active))
        .filter(store::Column::Id.is_in(ids.clone()))
        .exec(&txn)
        .await?;
    if updated.rows_affected != ids.len() as u64 {
        let found: Vec<i64> = store::Entity::find()
            .select_only()
            .column(store::Column::Id)
            .filter(store::Column::Id.is_in(ids.clone()))
            .into_tuple()
            .all(&txn)
            .await?;
        let missing: Vec<String> = ids.iter().filter(|id| !found.contains(id)).map(i64::to_string).collect();
        // Dropping the transaction rolls the stores that did exist back.
        return Err(AppError::NotFound(format!("no store with id {}; nothing was changed", missing.join(", "))));
    }
    txn.commit().await?;
    let stores = store::Entity::find()
        .filter(store::Column::Id.is_in(ids))
        .order_by_asc(store::Column::Id)
        .all(&state.db)
        .await?;
    store_views(state, stores).await
}

async fn find_store(state: &AppState, store_id: i64) -> Result<store::Model> {
    store::Entity::find_by_id(store_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("store {store_id} does not exist")))
}

/// The items of a store with their latest prices.
pub async fn list_items(state: &AppState, store_id: i64) -> Result<Vec<ItemView>> {
    find_store(state, store_id).await?;
    let now = Utc::now();
    let items = store_item::Entity::find()
        .filter(store_item::Column::StoreId.eq(store_id))
        .order_by_asc(store_item::Column::Id)
        .all(&state.db)
        .await?;
    Ok(items.into_iter().map(|i| ItemView::new(i, now)).collect())
}

/// Paging of `GET /api/stores/{id}/jobs`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StoreJobsQuery {
    status: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u64>,
    before: Option<i64>,
}

/// The store's scrape jobs, newest first; 404 for an unknown store.
pub async fn store_jobs(state: &AppState, store_id: i64, query: StoreJobsQuery) -> Result<JobPage> {
    find_store(state, store_id).await?;
    let filter = JobFilter {
        status: query.status,
        kind: None,
        scope: Some(format!("store:{store_id}")),
        limit: query.limit,
        before: query.before,
        ..Default::default()
    };
    list_jobs(state, filter).await
}

/// The body of `POST /api/stores/{id}/items`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewItem {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[schema(example = "https://shop.example.com/items/1")]
    pub url: String,
    pub price_selector: Option<String>,
    pub stock_selector: Option<String>,
    #[schema(max_length = 100)]
    pub sku: Option<String>,
}

/// The price selector used when an item names none.
pub const DEFAULT_PRICE_SELECTOR: &str = ".price";

/// Adds an item page to a store after checking its URL and selectors.
pub async fn add_item(state: &AppState, store_id: i64, input: NewItem) -> Result<ItemView> {
    find_store(state, store_id).await?;
    let price_selector = price_selector_or_default(input.price_selector)?;
    let created = store_item::ActiveModel {
        store_id: Set(store_id),
        name: Set(parse_item_name(&input.name)?),
        url: Set(parse_item_url(state, &input.url)?),
        sku: Set(parse_sku(input.sku)?),
        price_selector: Set(price_selector),
        stock_selector: Set(parse_stock_selector(input.stock_selector)?),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&state.db)
    .await?;
    Ok(ItemView::new(created, Utc::now()))
}

/// The body of `PATCH /api/stores/{id}/items/{item_id}`: only the fields present change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemChanges {
    /// Absent or `null`: unchanged (an item always has a name).
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    /// Absent or `null`: unchanged (an item always has a page).
    #[schema(example = "https://shop.example.com/items/1")]
    pub url: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 100)]
    pub sku: Option<Option<String>>,
    /// `null` sets the default `.price`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub price_selector: Option<Option<String>>,
    /// `null` clears it (stock is then not read).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub stock_selector: Option<Option<String>>,
}

/// Changes an item's name, page or selectors. A new page or selector clears the
/// last error (it was about the old one); the price and its history stay.
pub async fn update_item(state: &AppState, store_id: i64, item_id: i64, changes: ItemChanges) -> Result<ItemView> {
    let existing = find_item(&state.db, store_id, item_id).await?;
    let mut model: store_item::ActiveModel = existing.clone().into();
    if let Some(name) = &changes.name {
        model.name = Set(parse_item_name(name)?);
    }
    if let Some(sku) = changes.sku {
        model.sku = Set(parse_sku(sku)?);
    }
    let mut reading_changed = false;
    if let Some(url) = &changes.url {
        let url = parse_item_url(state, url)?;
        reading_changed |= url != existing.url;
        model.url = Set(url);
    }
    if let Some(css) = changes.price_selector {
        let css = price_selector_or_default(css)?;
        reading_changed |= css != existing.price_selector;
        model.price_selector = Set(css);
    }
    if let Some(css) = changes.stock_selector {
        let css = parse_stock_selector(css)?;
        reading_changed |= css != existing.stock_selector;
        model.stock_selector = Set(css);
    }
    if reading_changed {
        model.last_error = Set(None);
    }
    let updated = match model.update(&state.db).await {
        Err(sea_orm::DbErr::RecordNotUpdated) => return Err(no_such_item(store_id, item_id)),
        other => other?,
    };
    Ok(ItemView::new(updated, Utc::now()))
}

/// Deletes an item with its price history; 404 when the store has no such item.
pub async fn delete_item(state: &AppState, store_id: i64, item_id: i64) -> Result<()> {
    let txn = state.db.begin().await?;
    let item = find_item(&txn, store_id, item_id).await?;
    price_point::Entity::delete_many().filter(price_point::Column::ItemId.eq(item.id)).exec(&txn).await?;
    let deleted = store_item::Entity::delete_by_id(item.id).exec(&txn).await?;
    if deleted.rows_affected == 0 {
        return Err(no_such_item(store_id, item_id));
    }
    txn.commit().await?;
    Ok(())
}

fn no_such_item(store_id: i64, item_id: i64) -> AppError {
    AppError::NotFound(format!("store {store_id} has no item {item_id}"))
}

async fn find_item(db: &impl ConnectionTrait, store_id: i64, item_id: i64) -> Result<store_item::Model> {
    store_item::Entity::find_by_id(item_id)
        .filter(store_item::Column::StoreId.eq(store_id))
        .one(db)
        .await?
        .ok_or_else(|| no_such_item(store_id, item_id))
}

fn parse_item_name(name: &str) -> Result<String> {
    AppError::bounded_text("name", name, 200)
}

/// An absolute http(s) URL the scrape policy lets the server fetch.
fn parse_item_url(state: &AppState, url: &str) -> Result<String> {
    let url = reqwest::Url::parse(url.trim()).map_err(|_| AppError::field("url", "must be an absolute http(s) URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(AppError::field("url", "must be an absolute http(s) URL"));
    }
    state.scraper.policy().check_new_url(&url).map_err(|reason| AppError::field("url", &reason))?;
    Ok(url.to_string())
}

/// The text trimmed, `None` when absent or blank: how optional fields are read.
fn non_blank(text: Option<String>) -> Option<String> {
    text.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn parse_sku(sku: Option<String>) -> Result<Option<String>> {
    let sku = non_blank(sku);
    if sku.as_ref().is_some_and(|s| s.chars().count() > 100) {
        return Err(AppError::field("sku", "must be at most 100 characters long"));
    }
    Ok(sku)
}

/// The price selector given, or [`DEFAULT_PRICE_SELECTOR`] when it is absent or blank.
fn price_selector_or_default(css: Option<String>) -> Result<String> {
    let css = non_blank(css).unwrap_or_else(|| DEFAULT_PRICE_SELECTOR.to_owned());
    check_selector("price_selector", &css)?;
    Ok(css)
}

fn parse_stock_selector(css: Option<String>) -> Result<Option<String>> {
    let css = non_blank(css);
    if let Some(css) = &css {
        check_selector("stock_selector", css)?;
    }
    Ok(css)
}

fn check_selector(field: &str, css: &str) -> Result<()> {
    if css.chars().count() > 500 || scraper::Selector::parse(css).is_err() {
        return Err(AppError::field(field, &format!("{css:?} is not a valid CSS selector")));
    }
    Ok(())
}

fn scope(store_id: i64) -> String {
    format!("store:{store_id}")
}

/// Starts a scrape of each store, checking them all first: each must exist, be
/// active and have no scrape running. Returns one job per store.
pub async fn start_scrapes(state: &AppState, created_by: Option<i64>, store_ids: &[i64]) -> Result<Vec<JobView>> {
    let store_ids = bulk_store_ids(state, store_ids)?;
    let mut stores = Vec::with_capacity(store_ids.len());
    for id in store_ids {
        let store = find_store(state, id).await?;
        if !store.is_active {
            return Err(AppError::InvalidState(format!(
                "store {} ({}) is inactive; activate it first",
                store.id, store.name
            )));
        }
        if let Some(running) = active_job(&state.db, "scrape_store", Some(&scope(store.id))).await? {
            return Err(already_running(&running));
        }
        stores.push(store);
    }
    let mut jobs = Vec::with_capacity(stores.len());
    for store in stores {
        let job = create_job(
            state,
            NewJob {
                kind: "scrape_store".into(),
                name: format!("Scrape {}", store.name),
                scope: Some(scope(store.id)),
                items_total: 0,
                runner: Runner::Server,
                params: Some(serde_json::json!({"store_id": store.id}).to_string()),
                created_by,
                start_running: false,
                exclusive: true,
            },
        )
        .await?;
        let store_id = store.id;
        state.jobs.spawn(state, job.id, None, move |context| scrape_store(context, store_id));
        jobs.push(job);
    }
    Ok(jobs)
}

/// Starts a failed or cancelled scrape again (`POST /api/jobs/{id}/retry`).
pub struct RetryScrape;

#[async_trait::async_trait]
impl Restart for RetryScrape {
    async fn restart(&self, state: &AppState, job: &job::Model, created_by: Option<i64>) -> Result<JobView> {
        let store_id = job
            .scope
            .as_deref()
            .and_then(|scope| scope.strip_prefix("store:"))
            .and_then(|id| id.parse::<i64>().ok())
            .ok_or_else(|| AppError::InvalidState(format!("job {} names no store to scrape", job.id)))?;
        match start_scrapes(state, created_by, &[store_id]).await {
            // Stores are not deleted through the API, but an operator may remove one.
            Err(AppError::NotFound(_)) => {
                Err(AppError::InvalidState(format!("store {store_id} no longer exists; its scrape cannot be retried")))
            }
            other => Ok(other?.remove(0)),
        }
    }
}

/// A catalog product with the current prices of its SKU across active stores.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProductView {
    pub id: i64,
    pub sku: String,
    pub name: String,
    pub category: Option<String>,
    pub price: Option<f64>,
    pub currency: Option<String>,
    pub stock: Option<i64>,
    pub updated_at: DateTime<Utc>,
    pub cheapest: Option<CheapestOffer>,
    /// Lowest, mean (two decimals) and highest current price among items with this SKU in
    /// active stores; `null` without any priced item.
    pub min_price: Option<f64>,
    pub avg_price: Option<f64>,
    pub max_price: Option<f64>,
    /// How many priced items in active stores carry this SKU.
    pub offers_count: usize,
}

/// Where a product is cheapest right now, among active stores.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CheapestOffer {
    pub store_id: i64,
    pub store_name: String,
    pub price: f64,
    pub scraped_at: Option<DateTime<Utc>>,
}

/// The priced items of active stores, by SKU, each with its store's name.
async fn offers_by_sku(
    state: &AppState,
    skus: Option<Vec<String>>,
) -> Result<HashMap<String, Vec<(store_item::Model, String)>>> {
    let active: HashMap<i64, String> = store::Entity::find()
        .filter(store::Column::IsActive.eq(true))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    let mut query = store_item::Entity::find().filter(store_item::Column::Sku.is_not_null());
    if let Some(skus) = skus {
        query = query.filter(store_item::Column::Sku.is_in(skus));
    }
    let mut offers: HashMap<String, Vec<(store_item::Model, String)>> = HashMap::new();
    for item in query.order_by_asc(store_item::Column::Id).all(&state.db).await? {
        let (Some(sku), Some(_), Some(store_name)) = (item.sku.clone(), item.price, active.get(&item.store_id)) else {
            continue;
        };
        offers.entry(sku).or_default().push((item, store_name.clone()));
    }
    Ok(offers)
}

/// The product with its price figures over `offers` (priced items of active stores).
fn product_view(p: product::Model, offers: &[(store_item::Model, String)]) -> ProductView {
    let prices: Vec<f64> = offers.iter().filter_map(|(item, _)| item.price).collect();
    let cheapest = offers
        .iter()
        .filter(|(item, _)| item.price.is_some())
        .min_by(|(a, _), (b, _)| a.price.partial_cmp(&b.price).unwrap_or(std::cmp::Ordering::Equal))
        .map(|(item, store_name)| CheapestOffer {
            store_id: item.store_id,
            store_name: store_name.clone(),
            price: item.price.unwrap_or_default(),
            scraped_at: item.scraped_at,
        });
    let (min_price, avg_price, max_price) = price_figures(&prices);
    ProductView {
        cheapest,
        min_price,
        avg_price,
        max_price,
        offers_count: prices.len(),
        id: p.id,
        sku: p.sku,
        name: p.name,
        category: p.category,
        price: p.price,
        currency: p.currency,
        stock: p.stock,
        updated_at: p.updated_at,
    }
}

/// Lowest, mean (rounded to two decimals) and highest of the prices.
fn price_figures(prices: &[f64]) -> (Option<f64>, Option<f64>, Option<f64>) {
    if prices.is_empty() {
        return (None, None, None);
    }
    let min = prices.iter().copied().fold(f64::INFINITY, f64::min);
    let max = prices.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let avg = (prices.iter().sum::<f64>() / prices.len() as f64 * 100.0).round() / 100.0;
    (Some(min), Some(avg), Some(max))
}

/// Products whose name or SKU contains `search` (case-insensitive), at most 200.
pub async fn list_products(state: &AppState, search: Option<&str>) -> Result<Vec<ProductView>> {
    let mut query = product::Entity::find();
    if let Some(search) = search.map(str::trim).filter(|s| !s.is_empty()) {
        query = query.filter(Expr::col(product::Column::SearchKey).like(contains_ignoring_case(search)));
    }
    let products = query.order_by_asc(product::Column::Name).limit(200).all(&state.db).await?;
    let skus = products.iter().map(|p| p.sku.clone()).collect();
    let offers = offers_by_sku(state, Some(skus)).await?;
    Ok(products
        .into_iter()
        .map(|p| {
            let offers = offers.get(&p.sku).map_or(&[][..], Vec::as_slice);
            product_view(p, offers)
        })
        .collect())
}

/// One store's current price of a product, with the item's price history.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StoreOffer {
    pub store_id: i64,
    pub store_name: String,
    pub item_id: i64,
    pub item_name: String,
    pub url: String,
    pub price: f64,
    pub in_stock: Option<bool>,
    pub scraped_at: Option<DateTime<Utc>>,
    /// True for the cheapest offer (the first one, if several share the lowest price).
    pub cheapest: bool,
    /// The item's recorded prices, oldest first (the latest [`HISTORY_POINTS`]).
    pub history: Vec<PricePointView>,
}

/// Price points per store in a product's detail.
pub const HISTORY_POINTS: u64 = 200;

/// A product with every active store's offer and its history.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProductDetail {
    #[serde(flatten)]
    pub product: ProductView,
    /// Cheapest first.
    pub offers: Vec<StoreOffer>,
}

/// One product with each active store's current price and price history; 404 if unknown.
pub async fn product_detail(state: &AppState, product_id: i64) -> Result<ProductDetail> {
    let product = product::Entity::find_by_id(product_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("product {product_id} does not exist")))?;
    let mut offers =
        offers_by_sku(state, Some(vec![product.sku.clone()])).await?.remove(&product.sku).unwrap_or_default();
    offers.sort_by(|(a, _), (b, _)| a.price.partial_cmp(&b.price).unwrap_or(std::cmp::Ordering::Equal));
    let view = product_view(product, &offers);
    let mut store_offers = Vec::with_capacity(offers.len());
    for (n, (item, store_name)) in offers.into_iter().enumerate() {
        let history = latest_points(state, item.id, HISTORY_POINTS).await?;
        store_offers.push(StoreOffer {
            store_id: item.store_id,
            store_name,
            item_id: item.id,
            item_name: item.name,
            url: item.url,
            price: item.price.unwrap_or_default(),
            in_stock: item.in_stock,
            scraped_at: item.scraped_at,
            cheapest: n == 0,
            history,
        });
    }
    Ok(ProductDetail { product: view, offers: store_offers })
}

/// One recorded price of an item.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PricePointView {
    pub price: f64,
    pub in_stock: Option<bool>,
    pub scraped_at: DateTime<Utc>,
}

/// The price history of one item of a store, oldest first (at most the latest 1000 points).
pub async fn price_history(state: &AppState, store_id: i64, item_id: i64) -> Result<Vec<PricePointView>> {
    let item = find_item(&state.db, store_id, item_id).await?;
    latest_points(state, item.id, 1000).await
}

/// The item's latest `limit` price points, oldest first.
async fn latest_points(state: &AppState, item_id: i64, limit: u64) -> Result<Vec<PricePointView>> {
    let mut points = price_point::Entity::find()
        .filter(price_point::Column::ItemId.eq(item_id))
        .order_by_desc(price_point::Column::Id)
        .limit(limit)
        .all(&state.db)
        .await?;
    points.reverse();
    Ok(points
        .into_iter()
        .map(|p| PricePointView { price: p.price, in_stock: p.in_stock, scraped_at: p.scraped_at })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::price_figures;

    #[test]
    fn price_figures_are_min_mean_and_max() {
        assert_eq!(price_figures(&[]), (None, None, None));
        assert_eq!(price_figures(&[80.0, 100.0, 120.5]), (Some(80.0), Some(100.17), Some(120.5)));
        assert_eq!(price_figures(&[5.0]), (Some(5.0), Some(5.0), Some(5.0)));
    }
}
