//! A background job and its progress; `runner` is `server` for built-in kinds, `external` for workers.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub kind: String,
    pub name: String,
    pub scope: Option<String>,
    pub status: JobStatus,
    pub runner: String,
    /// What a built-in job works on, as JSON (a store id, a file name).
    pub params: Option<String>,
    pub items_total: i64,
    pub items_processed: i64,
    pub items_failed: i64,
    pub message: Option<String>,
    pub error_message: Option<String>,
    pub created_by: Option<i64>,
    pub created_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
    /// Refreshed every second by the instance running a built-in job; a stale one marks a zombie.
    pub heartbeat_at: Option<DateTimeUtc>,
    pub cancel_requested: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Where a job is in its life.
/// Stored as the same lower-case words the API shows; no status string appears outside this enum.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize, utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Pending,
    Running,
    Completed,
    Failed,
    Cancelled,
}
