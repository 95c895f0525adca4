//! An order dispatched to the provider, with its check schedule (`next_check_at`,
//! `check_attempts`) kept here so a restart loses nothing.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "orders")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub product: String,
    pub package: String,
    pub user_identifier: String,
    pub extra_field: Option<String>,
    pub status: OrderStatus,
    pub provider: String,
    pub provider_ref: Option<String>,
    pub pin_code: Option<String>,
    pub created_by: i64,
    pub created_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
    pub last_sync_at: Option<DateTimeUtc>,
    pub completed_at: Option<DateTimeUtc>,
    pub check_attempts: i32,
    pub next_check_at: Option<DateTimeUtc>,
    pub failure_reason: Option<String>,
    /// While set and in the future, one instance is checking the order; others keep off.
    pub lease_until: Option<DateTimeUtc>,
    pub lease_owner: Option<String>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Where an order is in its life.
/// Stored as the same lower-case words the API shows; no status string appears outside this enum.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize, utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Pending,
    Sent,
    Processing,
    Completed,
    Failed,
    Cancelled,
}
