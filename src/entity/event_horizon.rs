//! The one row that says how far the event history has been pruned.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "event_horizon")]
pub struct Model {
    /// Always 1: there is one horizon.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    /// Every event with an id up to this one may be gone; later ones are all kept.
    pub pruned_through: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
