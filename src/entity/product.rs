//! A catalog product, upserted by catalog imports by SKU.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "products")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub sku: String,
    /// The 1C `Ид` of a CommerceML import.
    pub external_id: Option<String>,
    pub name: String,
    pub category: Option<String>,
    pub price: Option<f64>,
    pub currency: Option<String>,
    pub stock: Option<i64>,
    /// Name and SKU lowercased (Unicode-aware, unlike SQLite's LOWER), for search.
    pub search_key: String,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
