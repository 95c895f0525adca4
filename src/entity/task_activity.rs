//! One line of a task's history: who did what when.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "task_activity")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub task_id: i64,
    pub kind: TaskActivityKind,
    /// Who did it; `None` for what the server did on its own.
    pub actor_id: Option<i64>,
    pub subtask_id: Option<i64>,
    /// The rejection reason.
    pub detail: Option<String>,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// What happened to the task.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize, utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(40))", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum TaskActivityKind {
    Created,
    Approved,
    Rejected,
    SubtaskCompleted,
    Completed,
}
