//! `serve --demo`: demo users, a demo store whose item pages this server serves
//! (a few deliberately broken, so failures show), and a demo catalog.

use std::{net::SocketAddr, path::Path, time::Duration};

use axum::{Router, extract::Path as UrlPath, http::StatusCode, response::Html, routing::get};
use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use tracing::info;

use crate::{
    entity::{job, price_point, store, store_item},
    error::Result,
    jobs::JobStatus,
    state::AppState,
    users::{Role, service::ensure_user},
};

/// The logins printed at start in demo mode.
pub const DEMO_USERS: [(&str, &str, Role); 2] =
    [("admin", "admin-demo", Role::Admin), ("worker", "worker-demo", Role::AdminLimited)];

const DEMO_STORE: &str = "Demo Sports Shop";

/// How a demo item page behaves.
#[derive(Clone, Copy)]
enum DemoPage {
    /// A good page whose price element says this.
    Price(&'static str),
    /// HTTP 404.
    Missing,
    /// A page without a price element.
    NoPriceElement,
    /// A price, after longer than the scrape timeout.
    Slow,
}

use DemoPage::*;

/// The demo shop's goods: SKU, name, and how the page behaves (a few broken on purpose).
const DEMO_GOODS: [(&str, &str, DemoPage); 12] = [
    ("SP-0001", "Мяч футбольный Pro", Price("6 990,00 ₽")),
    ("SP-0002", "Бутсы Strike", Price("4 790,00 ₽")),
    ("SP-0003", "Щитки Guard", Price("1 090,00 ₽")),
    ("SP-0004", "Гетры клубные", Missing),
    ("SP-0005", "Кроссовки Marathon", Price("7 190,00 ₽")),
    ("SP-0006", "Шорты беговые", Price("850,00 ₽")),
    ("SP-0007", "Пульсометр Pulse", NoPriceElement),
    ("SP-0008", "Очки для плавания", Price("1 790,00 ₽")),
    ("SP-0009", "Шапочка силиконовая", Price("call us")),
    ("SP-0010", "Ласты короткие", Price("6 990,00 ₽")),
    ("SP-0011", "Доска для плавания", Slow),
    ("SP-0001", "Мяч футбольный Pro (outlet)", Price("5 490,00 ₽")),
];

/// Creates the demo users if they do not exist yet; existing ones are left as they are.
pub async fn seed(db: &DatabaseConnection) -> Result<()> {
    for (username, password, role) in DEMO_USERS {
        if ensure_user(db, username, password, role).await? {
            info!(username, "created demo user");
        }
    }
    Ok(())
}

/// Where the demo shop's pages are fetched from: this server's own address
/// (loopback when it listens on all interfaces); the only internal host a demo scrape may reach.
pub fn shop_host(address: SocketAddr) -> String {
    if address.ip().is_unspecified() { format!("127.0.0.1:{}", address.port()) } else { address.to_string() }
}

/// Creates the demo store, or points its items at this run's address.
pub async fn seed_store(state: &AppState, address: SocketAddr) -> Result<()> {
    ensure_demo_store(state, DEMO_STORE, "shop", address, 1..=DEMO_GOODS.len()).await
}

/// Creates a demo store with the given goods (1-based, as in [`DEMO_GOODS`]) served
/// under `/demo/{path}/{n}`, or points its existing items at this run's address.
async fn ensure_demo_store(
    state: &AppState,
    name: &str,
    path: &str,
    address: SocketAddr,
    goods: impl IntoIterator<Item = usize>,
) -> Result<()> {
    let host = shop_host(address);
    let existing = store::Entity::find().filter(store::Column::Name.eq(name)).one(&state.db).await?;
    let store_id = match existing {
        Some(store) => store.id,
        None => {
            store::ActiveModel {
                name: Set(name.into()),
                is_active: Set(true),
                created_at: Set(Utc::now()),
                ..Default::default()
            }
            .insert(&state.db)
            .await?
            .id
        }
    };
    let items = store_item::Entity::find().filter(store_item::Column::StoreId.eq(store_id)).all(&state.db).await?;
    for n in goods {
        let (sku, name, _) = DEMO_GOODS[n - 1];
        let url = format!("http://{host}/demo/{path}/{n}");
        match items.iter().find(|i| i.name == name) {
            Some(item) if item.url == url => {}
            Some(item) => {
                let mut model: store_item::ActiveModel = item.clone().into();
                model.url = Set(url);
                model.update(&state.db).await?;
            }
            None => {
                store_item::ActiveModel {
                    store_id: Set(store_id),
                    name: Set(name.into()),
                    url: Set(url),
                    sku: Set(Some(sku.into())),
                    price_selector: Set(".price".into()),
                    stock_selector: Set(Some(".stock".into())),
                    created_at: Set(Utc::now()),
                    ..Default::default()
                }
                .insert(&state.db)
                .await?;
            }
        }
    }
    Ok(())
}

/// The second demo store: a few of the same goods at the outlet's own prices (`/demo/outlet/{n}`).
const DEMO_OUTLET: &str = "Demo Outlet";

/// Which demo goods (1-based, as in [`DEMO_GOODS`]) the outlet sells too.
const OUTLET_GOODS: [usize; 4] = [1, 2, 5, 8];

/// The outlet's price: a tenth off the shop's.
fn outlet_price(price: &str) -> Option<String> {
    let value = crate::stores::price::parse_price(price).ok()? * 0.9;
    Some(format!("{:.2} ₽", value.round()).replace('.', ","))
}

/// Creates the outlet store (or points its items at this run's address), then
/// gives every demo item with a price two weeks of price history, so the
/// product charts have something to show before the first scrape.
pub async fn seed_outlet_and_history(state: &AppState, address: SocketAddr) -> Result<()> {
    ensure_demo_store(state, DEMO_OUTLET, "outlet", address, OUTLET_GOODS).await?;
    seed_price_history(state).await
}

/// Two weeks of daily prices for every demo item that has none yet, wandering
/// around its page's price; the item shows the latest.
async fn seed_price_history(state: &AppState) -> Result<()> {
    let now = Utc::now();
    for item in store_item::Entity::find().all(&state.db).await? {
        let Some(n) = item.url.rsplit('/').next().and_then(|n| n.parse::<usize>().ok()) else { continue };
        let Some((_, _, Price(price))) = n.checked_sub(1).and_then(|i| DEMO_GOODS.get(i)) else { continue };
        let outlet = item.url.contains("/demo/outlet/");
        let page_price = if outlet { outlet_price(price) } else { Some((*price).to_owned()) };
        let Some(base) = page_price.and_then(|p| crate::stores::price::parse_price(&p).ok()) else { continue };
        let has_history =
            price_point::Entity::find().filter(price_point::Column::ItemId.eq(item.id)).one(&state.db).await?.is_some();
        if has_history {
            continue;
        }
        let mut last = None;
        for day in (0..14).rev() {
            let wobble = ((day as f64 + n as f64) * 0.9).sin() * 0.08 + if outlet { 0.02 } else { 0.0 };
            let price = (base * (1.0 + wobble)).round();
            let at = now - chrono::Duration::days(day) - chrono::Duration::minutes(30);
            price_point::ActiveModel {
                item_id: Set(item.id),
                price: Set(price),
                in_stock: Set(Some(!n.is_multiple_of(3))),
                scraped_at: Set(at),
                ..Default::default()
            }
            .insert(&state.db)
            .await?;
            last = Some((price, at));
        }
        if item.price.is_none()
            && let Some((price, at)) = last
        {
            let mut model: store_item::ActiveModel = item.into();
            model.price = Set(Some(price));
            model.in_stock = Set(Some(!n.is_multiple_of(3)));
            model.scraped_at = Set(Some(at));
            model.update(&state.db).await?;
        }
    }
    Ok(())
}

/// A day of finished demo jobs (some failed, with failed items) when there are
/// no jobs at all, so the dashboard's figures and chart show something.
pub async fn seed_job_history(state: &AppState) -> Result<()> {
    if job::Entity::find().one(&state.db).await?.is_some() {
        return Ok(());
    }
    let Some(shop) = store::Entity::find().filter(store::Column::Name.eq(DEMO_STORE)).one(&state.db).await? else {
        return Ok(());
    };
    let now = Utc::now();
    for n in 0..18i64 {
        let (kind, name, scope) = if n % 3 == 0 {
            ("catalog_import", "Import catalog.csv".to_owned(), None)
        } else {
            ("scrape_store", format!("Scrape {DEMO_STORE}"), Some(format!("store:{}", shop.id)))
        };
        let failed = n % 7 == 3;
        let started = now - chrono::Duration::minutes(23 * 60 - n * 75);
        let finished = started + chrono::Duration::seconds(20 + (n * 37) % 140);
        let (total, items_failed) = if kind == "catalog_import" { (13, 2) } else { (12, 4 - (n % 2)) };
        job::ActiveModel {
            kind: Set(kind.into()),
            name: Set(name),
            scope: Set(scope),
            status: Set(if failed { JobStatus::Failed } else { JobStatus::Completed }),
            runner: Set("server".into()),
            params: Set(Some(if kind == "catalog_import" {
                serde_json::json!({"file": "catalog.csv"}).to_string()
            } else {
                serde_json::json!({"store_id": shop.id}).to_string()
            })),
            items_total: Set(total),
            items_processed: Set(if failed { total / 2 } else { total }),
            items_failed: Set(items_failed),
            message: Set(Some("demo history".into())),
            error_message: Set(failed.then(|| "demo: the shop did not answer".to_owned())),
            created_by: Set(None),
            created_at: Set(started),
            started_at: Set(Some(started)),
            finished_at: Set(Some(finished)),
            updated_at: Set(finished),
            heartbeat_at: Set(Some(finished)),
            cancel_requested: Set(false),
            ..Default::default()
        }
        .insert(&state.db)
        .await?;
    }
    Ok(())
}

/// Writes the demo catalog files into the catalog directory unless they exist.
pub fn seed_catalog(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, content) in [
        ("catalog.csv", include_str!("../tests/fixtures/catalog/catalog.csv")),
        ("import.xml", include_str!("../tests/fixtures/catalog/import.xml")),
        ("offers.xml", include_str!("../tests/fixtures/catalog/offers.xml")),
    ] {
        let path = dir.join(name);
        if !path.exists() {
            std::fs::write(path, content)?;
        }
    }
    Ok(())
}

/// The demo shop's item pages: most good, one missing, one without a price element,
/// one with a garbage price, one slower than the scrape timeout.
pub fn shop_router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/demo/shop/{n}", get(|UrlPath(n): UrlPath<usize>| shop_page(n, false)))
        .route("/demo/outlet/{n}", get(|UrlPath(n): UrlPath<usize>| shop_page(n, true)))
}

async fn shop_page(n: usize, outlet: bool) -> (StatusCode, Html<String>) {
    let Some((sku, name, page)) = n.checked_sub(1).and_then(|i| DEMO_GOODS.get(i)) else {
        return (StatusCode::NOT_FOUND, Html("<h1>Not found</h1>".into()));
    };
    let stock = if n.is_multiple_of(3) { "Нет в наличии" } else { "В наличии" };
    let price_html = match *page {
        Missing => return (StatusCode::NOT_FOUND, Html("<h1>Not found</h1>".into())),
        NoPriceElement => "<p>Ask in store</p>".to_owned(),
        Slow => {
            tokio::time::sleep(Duration::from_secs(15)).await;
            "<span class=\"price\">3 290,00 ₽</span>".to_owned()
        }
        Price(price) if outlet => format!("<span class=\"price\">{}</span>", outlet_price(price).unwrap_or_default()),
        Price(price) => format!("<span class=\"price\">{price}</span>"),
    };
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{name}</title></head><body>\
         <h1>{name}</h1><p>Артикул {sku}</p>{price_html}<p class=\"stock\">{stock}</p></body></html>"
    );
    (StatusCode::OK, Html(html))
}
