//! A shop whose item pages are scraped.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stores")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub name: String,
    pub is_active: bool,
    pub created_at: DateTimeUtc,
    /// Seconds between scheduled scrapes; `None`: scraped only by hand.
    pub scrape_every_secs: Option<i64>,
    /// When the next scheduled scrape is due.
    pub next_scrape_at: Option<DateTimeUtc>,
    /// The instance starting the due scrape holds the schedule until then.
    pub schedule_lease_until: Option<DateTimeUtc>,
    pub schedule_lease_owner: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
