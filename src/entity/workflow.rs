//! A workflow template: the subtask titles generated when a task is approved.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "workflows")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    pub name: String,
    /// JSON array of subtask titles, in order.
    pub subtasks: String,
    pub updated_at: DateTimeUtc,
    /// Whether new tasks may use it; tasks created earlier keep it either way.
    pub active: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
