//! Orders dispatched to an external provider, with their durable check schedule and lease.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Orders {
    Table,
    Id,
    Product,
    Package,
    UserIdentifier,
    ExtraField,
    Status,
    Provider,
    ProviderRef,
    PinCode,
    CreatedBy,
    CreatedAt,
    SentAt,
    LastSyncAt,
    CompletedAt,
    CheckAttempts,
    NextCheckAt,
    FailureReason,
    LeaseUntil,
    LeaseOwner,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Orders::Table)
                    .col(ColumnDef::new(Orders::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(Orders::Product).string_len(200).not_null())
                    .col(ColumnDef::new(Orders::Package).string_len(200).not_null())
                    .col(ColumnDef::new(Orders::UserIdentifier).string_len(200).not_null())
                    .col(ColumnDef::new(Orders::ExtraField).string_len(500).null())
                    .col(ColumnDef::new(Orders::Status).string_len(16).not_null())
                    .col(ColumnDef::new(Orders::Provider).string_len(32).not_null())
                    .col(ColumnDef::new(Orders::ProviderRef).string_len(200).null())
                    .col(ColumnDef::new(Orders::PinCode).string_len(200).null())
                    .col(ColumnDef::new(Orders::CreatedBy).big_integer().not_null())
                    .col(ColumnDef::new(Orders::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Orders::SentAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Orders::LastSyncAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Orders::CompletedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Orders::CheckAttempts).integer().not_null().default(0))
                    .col(ColumnDef::new(Orders::NextCheckAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Orders::FailureReason).text().null())
                    .col(ColumnDef::new(Orders::LeaseUntil).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Orders::LeaseOwner).string_len(64).null())
                    .col(ColumnDef::new(Orders::UpdatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_orders_due")
                    .table(Orders::Table)
                    .col(Orders::Status)
                    .col(Orders::NextCheckAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("idx_orders_created_by").table(Orders::Table).col(Orders::CreatedBy).to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Orders::Table).to_owned()).await
    }
}
