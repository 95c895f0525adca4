//! A persisted event: the outbox row the hub replays and fans out.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `tasks`, `jobs` or `orders`: the collection channel.
    pub topic: String,
    pub entity_id: i64,
    pub kind: String,
    /// The event's `data`, as JSON text.
    pub payload: String,
    /// Comma-separated ids of the non-ADMIN users allowed to receive it.
    pub audience: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
