//! The `scrape_store` job: fetch every item page of a store, read price and stock, record them.

use std::time::Duration;

use chrono::Utc;
use futures_util::{StreamExt, stream};
use scraper::{Html, Selector};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
    sea_query::Expr,
};

use super::{
    fetch::PageFetcher,
    price::{bounded, parse_price, parse_stock},
};
use crate::{
    entity::{price_point, store_item},
    jobs::{JobContext, runner::JobOutcome},
};

/// Largest page read; bigger ones are refused rather than exhausting memory.
const MAX_PAGE_BYTES: usize = 5 * 1024 * 1024;

/// What one page said.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub price: f64,
    pub in_stock: Option<bool>,
}

/// Scrapes every item of the store with a few requests at a time; stops within
/// moments of a cancellation (in-flight requests are dropped).
pub async fn scrape_store(mut context: JobContext, store_id: i64) -> JobOutcome {
    let state = context.state.clone();
    let items = store_item::Entity::find()
        .filter(store_item::Column::StoreId.eq(store_id))
        .order_by_asc(store_item::Column::Id)
        .all(&state.db)
        .await
        .map_err(|e| format!("reading the store's items failed: {e}"))?;
    let total = items.len() as i64;
    context.set_total(total, format!("scraping {total} items")).await?;
    let fetcher = state.scraper.clone();
    let timeout = state.config.scrape_timeout;
    let mut fetches = stream::iter(items)
        .map(|item| {
            let fetcher = fetcher.clone();
            async move {
                let reading = scrape_item(&fetcher, &item, timeout).await.map_err(|reason| bounded(&reason));
                (item, reading)
            }
        })
        .buffer_unordered(state.config.scrape_concurrency);
    loop {
        let next = tokio::select! {
            next = fetches.next() => next,
            _ = context.cancel.cancelled() => return Ok("cancelled".into()),
        };
        let Some((item, reading)) = next else { break };
        let now = Utc::now();
        let label = format!("{} ({})", item.name, item.url);
        match reading {
            Ok(reading) => {
                if record_reading(&state.db, &item, &reading, now).await? {
                    context.item_done().await?;
                } else {
                    context.item_failed(&label, CHANGED_DURING_SCRAPE).await?;
                }
            }
            Err(reason) => {
                let recorded = store_item::Entity::update_many()
                    .col_expr(store_item::Column::LastError, Expr::value(reason.clone()))
                    .filter(unchanged_since_read(&item))
                    .exec(&state.db)
                    .await?;
                let reason = if recorded.rows_affected == 0 { CHANGED_DURING_SCRAPE.to_owned() } else { reason };
                context.item_failed(&label, &reason).await?;
            }
        }
    }
    let (total, processed, failed) = context.counts();
    Ok(format!("scraped {} of {total} items; {failed} failed", processed - failed))
}

/// Why a reading was not recorded: the item was edited or deleted while its page was read.
const CHANGED_DURING_SCRAPE: &str = "the item was changed or deleted during the scrape; not recorded";

/// Records a reading as the item's latest price and a point of its history, in one
/// transaction so an item deleted meanwhile cannot be half-recorded; false (and
/// nothing written) when the item changed or went away since the scrape read it.
async fn record_reading(
    db: &sea_orm::DatabaseConnection,
    item: &store_item::Model,
    reading: &Reading,
    now: chrono::DateTime<Utc>,
) -> Result<bool, sea_orm::DbErr> {
    let txn = db.begin().await?;
    let recorded = store_item::Entity::update_many()
        .col_expr(store_item::Column::Price, Expr::value(reading.price))
        .col_expr(store_item::Column::InStock, Expr::value(reading.in_stock))
        .col_expr(store_item::Column::ScrapedAt, Expr::value(now))
        .col_expr(store_item::Column::LastError, Expr::value(Option::<String>::None))
        .filter(unchanged_since_read(item))
        .exec(&txn)
        .await?;
    if recorded.rows_affected == 0 {
        return Ok(false);
    }
    price_point::ActiveModel {
        item_id: Set(item.id),
        price: Set(reading.price),
        in_stock: Set(reading.in_stock),
        scraped_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(true)
}

/// The item row as the scrape read it: same page and selectors. A reading of a page
/// the item no longer points to (or of a deleted item) must not be recorded.
fn unchanged_since_read(item: &store_item::Model) -> sea_orm::Condition {
    let stock = match &item.stock_selector {
        Some(css) => store_item::Column::StockSelector.eq(css.as_str()),
        None => store_item::Column::StockSelector.is_null(),
    };
    sea_orm::Condition::all()
        .add(store_item::Column::Id.eq(item.id))
        .add(store_item::Column::Url.eq(item.url.as_str()))
        .add(store_item::Column::PriceSelector.eq(item.price_selector.as_str()))
        .add(stock)
}

/// Fetches one page and reads it; the error says what went wrong in words.
pub async fn scrape_item(
    fetcher: &PageFetcher,
    item: &store_item::Model,
    timeout: Duration,
) -> Result<Reading, String> {
    let response = fetcher.get(&item.url, timeout).await?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("HTTP {}", status.as_u16()));
    }
    let too_large = || format!("page larger than {} MiB", MAX_PAGE_BYTES / 1024 / 1024);
    if response.content_length().is_some_and(|length| length > MAX_PAGE_BYTES as u64) {
        return Err(too_large());
    }
    let mut response = response;
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| super::fetch::describe(&e, timeout))? {
        if body.len() + chunk.len() > MAX_PAGE_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    // Parsing is CPU work: keep it off the async threads.
    let (price_selector, stock_selector) = (item.price_selector.clone(), item.stock_selector.clone());
    tokio::task::spawn_blocking(move || {
        read_page(&String::from_utf8_lossy(&body), &price_selector, stock_selector.as_deref())
    })
    .await
    .map_err(|e| format!("reading the page crashed: {e}"))?
}

/// Reads price and stock from a page with CSS selectors.
pub fn read_page(html: &str, price_selector: &str, stock_selector: Option<&str>) -> Result<Reading, String> {
    let document = Html::parse_document(html);
    let price_css =
        Selector::parse(price_selector).map_err(|_| format!("invalid price selector {price_selector:?}"))?;
    let price_text = document
        .select(&price_css)
        .next()
        .map(|element| element.text().collect::<String>())
        .ok_or_else(|| format!("price selector {price_selector:?} found nothing"))?;
    let price = parse_price(&price_text)?;
    let in_stock = match stock_selector {
        Some(css) => {
            let selector = Selector::parse(css).map_err(|_| format!("invalid stock selector {css:?}"))?;
            document.select(&selector).next().and_then(|e| parse_stock(&e.text().collect::<String>()))
        }
        None => None,
    };
    Ok(Reading { price, in_stock })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_price_and_stock_with_selectors() {
        let page = r#"<html><body><div class="p"><span class="price">1 299,00 ₽</span></div><p id="stock">In stock</p></body></html>"#;
        assert_eq!(read_page(page, ".price", Some("#stock")), Ok(Reading { price: 1299.0, in_stock: Some(true) }));
        assert_eq!(read_page(page, ".price", None), Ok(Reading { price: 1299.0, in_stock: None }));
    }

    #[test]
    fn says_what_went_wrong() {
        let page = r#"<span class="price">ask us</span>"#;
        assert!(read_page(page, ".cost", None).unwrap_err().contains("found nothing"));
        assert!(read_page(page, ".price", None).unwrap_err().contains("unparsable price"));
        assert!(read_page(page, "[[", None).unwrap_err().contains("invalid price selector"));
    }
}
