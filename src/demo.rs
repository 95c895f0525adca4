//! `serve --demo`: demo users, a demo store whose item pages this server serves
//! (a few deliberately broken, so failures show), and a demo catalog.

use std::{net::SocketAddr, path::Path, time::Duration};

use axum::{Router, extract::Path as UrlPath, http::StatusCode, response::Html, routing::get};
use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use tracing::info;

use crate::{
    entity::{store, store_item},
    error::Result,
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
    let host = shop_host(address);
    let existing = store::Entity::find().filter(store::Column::Name.eq(DEMO_STORE)).one(&state.db).await?;
    let store_id = match existing {
        Some(store) => store.id,
        None => {
            store::ActiveModel {
                name: Set(DEMO_STORE.into()),
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
    for (n, (sku, name, _)) in DEMO_GOODS.iter().enumerate() {
        let url = format!("http://{host}/demo/shop/{}", n + 1);
        match items.iter().find(|i| i.name == *name) {
            Some(item) if item.url == url => {}
            Some(item) => {
                let mut model: store_item::ActiveModel = item.clone().into();
                model.url = Set(url);
                model.update(&state.db).await?;
            }
            None => {
                store_item::ActiveModel {
                    store_id: Set(store_id),
                    name: Set((*name).into()),
                    url: Set(url),
                    sku: Set(Some((*sku).into())),
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
    Router::new().route("/demo/shop/{n}", get(shop_page))
}

async fn shop_page(UrlPath(n): UrlPath<usize>) -> (StatusCode, Html<String>) {
    let Some((sku, name, page)) = n.checked_sub(1).and_then(|i| DEMO_GOODS.get(i)) else {
        return (StatusCode::NOT_FOUND, Html("<h1>Not found</h1>".into()));
    };
    let stock = if n % 3 == 0 { "Нет в наличии" } else { "В наличии" };
    let price_html = match *page {
        Missing => return (StatusCode::NOT_FOUND, Html("<h1>Not found</h1>".into())),
        NoPriceElement => "<p>Ask in store</p>".to_owned(),
        Slow => {
            tokio::time::sleep(Duration::from_secs(15)).await;
            "<span class=\"price\">3 290,00 ₽</span>".to_owned()
        }
        Price(price) => format!("<span class=\"price\">{price}</span>"),
    };
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{name}</title></head><body>\
         <h1>{name}</h1><p>Артикул {sku}</p>{price_html}<p class=\"stock\">{stock}</p></body></html>"
    );
    (StatusCode::OK, Html(html))
}
