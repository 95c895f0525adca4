//! One product page of a store, with its latest scraped price.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "store_items")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub store_id: i64,
    pub name: String,
    pub url: String,
    /// Links the item to a catalog product, for "cheapest store" views.
    pub sku: Option<String>,
    pub price_selector: String,
    pub stock_selector: Option<String>,
    pub price: Option<f64>,
    pub in_stock: Option<bool>,
    pub scraped_at: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
