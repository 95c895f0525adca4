//! Background jobs with their failures, stores with items and price history, and the product catalog.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    Kind,
    Name,
    Scope,
    Status,
    Runner,
    Params,
    ItemsTotal,
    ItemsProcessed,
    ItemsFailed,
    Message,
    ErrorMessage,
    CreatedBy,
    CreatedAt,
    StartedAt,
    FinishedAt,
    UpdatedAt,
    HeartbeatAt,
    CancelRequested,
}

#[derive(DeriveIden)]
enum JobFailures {
    Table,
    Id,
    JobId,
    Item,
    Reason,
    At,
}

#[derive(DeriveIden)]
enum Stores {
    Table,
    Id,
    Name,
    IsActive,
    CreatedAt,
}

#[derive(DeriveIden)]
enum StoreItems {
    Table,
    Id,
    StoreId,
    Name,
    Url,
    Sku,
    PriceSelector,
    StockSelector,
    Price,
    InStock,
    ScrapedAt,
    LastError,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PricePoints {
    Table,
    Id,
    ItemId,
    Price,
    InStock,
    ScrapedAt,
}

#[derive(DeriveIden)]
enum Products {
    Table,
    Id,
    Sku,
    ExternalId,
    Name,
    Category,
    Price,
    Currency,
    Stock,
    SearchKey,
    UpdatedAt,
}

fn id<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).big_integer().not_null().auto_increment().primary_key().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Jobs::Table)
                    .col(id(Jobs::Id))
                    .col(ColumnDef::new(Jobs::Kind).string_len(64).not_null())
                    .col(ColumnDef::new(Jobs::Name).string_len(200).not_null())
                    .col(ColumnDef::new(Jobs::Scope).string_len(200).null())
                    .col(ColumnDef::new(Jobs::Status).string_len(16).not_null())
                    .col(ColumnDef::new(Jobs::Runner).string_len(16).not_null())
                    .col(ColumnDef::new(Jobs::Params).text().null())
                    .col(ColumnDef::new(Jobs::ItemsTotal).big_integer().not_null().default(0))
                    .col(ColumnDef::new(Jobs::ItemsProcessed).big_integer().not_null().default(0))
                    .col(ColumnDef::new(Jobs::ItemsFailed).big_integer().not_null().default(0))
                    .col(ColumnDef::new(Jobs::Message).text().null())
                    .col(ColumnDef::new(Jobs::ErrorMessage).text().null())
                    .col(ColumnDef::new(Jobs::CreatedBy).big_integer().null())
                    .col(ColumnDef::new(Jobs::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Jobs::StartedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Jobs::FinishedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Jobs::UpdatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Jobs::HeartbeatAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Jobs::CancelRequested).boolean().not_null().default(false))
                    .to_owned(),
            )
            .await?;
        for (name, columns) in
            [("idx_jobs_status", vec![Jobs::Status]), ("idx_jobs_kind_scope", vec![Jobs::Kind, Jobs::Scope])]
        {
            let mut index = Index::create().name(name).table(Jobs::Table).to_owned();
            for column in columns {
                index.col(column);
            }
            manager.create_index(index).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(JobFailures::Table)
                    .col(id(JobFailures::Id))
                    .col(ColumnDef::new(JobFailures::JobId).big_integer().not_null())
                    .col(ColumnDef::new(JobFailures::Item).text().not_null())
                    .col(ColumnDef::new(JobFailures::Reason).text().not_null())
                    .col(ColumnDef::new(JobFailures::At).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(JobFailures::Table, JobFailures::JobId)
                            .to(Jobs::Table, Jobs::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_job_failures_job")
                    .table(JobFailures::Table)
                    .col(JobFailures::JobId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Stores::Table)
                    .col(id(Stores::Id))
                    .col(ColumnDef::new(Stores::Name).string_len(200).not_null().unique_key())
                    .col(ColumnDef::new(Stores::IsActive).boolean().not_null().default(true))
                    .col(ColumnDef::new(Stores::CreatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(StoreItems::Table)
                    .col(id(StoreItems::Id))
                    .col(ColumnDef::new(StoreItems::StoreId).big_integer().not_null())
                    .col(ColumnDef::new(StoreItems::Name).string_len(200).not_null())
                    .col(ColumnDef::new(StoreItems::Url).text().not_null())
                    .col(ColumnDef::new(StoreItems::Sku).string_len(100).null())
                    .col(ColumnDef::new(StoreItems::PriceSelector).string_len(500).not_null())
                    .col(ColumnDef::new(StoreItems::StockSelector).string_len(500).null())
                    .col(ColumnDef::new(StoreItems::Price).double().null())
                    .col(ColumnDef::new(StoreItems::InStock).boolean().null())
                    .col(ColumnDef::new(StoreItems::ScrapedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(StoreItems::LastError).text().null())
                    .col(ColumnDef::new(StoreItems::CreatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(StoreItems::Table, StoreItems::StoreId)
                            .to(Stores::Table, Stores::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_store_items_store")
                    .table(StoreItems::Table)
                    .col(StoreItems::StoreId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("idx_store_items_sku").table(StoreItems::Table).col(StoreItems::Sku).to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PricePoints::Table)
                    .col(id(PricePoints::Id))
                    .col(ColumnDef::new(PricePoints::ItemId).big_integer().not_null())
                    .col(ColumnDef::new(PricePoints::Price).double().not_null())
                    .col(ColumnDef::new(PricePoints::InStock).boolean().null())
                    .col(ColumnDef::new(PricePoints::ScrapedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(PricePoints::Table, PricePoints::ItemId)
                            .to(StoreItems::Table, StoreItems::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_price_points_item")
                    .table(PricePoints::Table)
                    .col(PricePoints::ItemId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Products::Table)
                    .col(id(Products::Id))
                    .col(ColumnDef::new(Products::Sku).string_len(100).not_null().unique_key())
                    .col(ColumnDef::new(Products::ExternalId).string_len(200).null())
                    .col(ColumnDef::new(Products::Name).string_len(500).not_null())
                    .col(ColumnDef::new(Products::Category).string_len(200).null())
                    .col(ColumnDef::new(Products::Price).double().null())
                    .col(ColumnDef::new(Products::Currency).string_len(8).null())
                    .col(ColumnDef::new(Products::Stock).big_integer().null())
                    .col(ColumnDef::new(Products::SearchKey).text().not_null().default(""))
                    .col(ColumnDef::new(Products::UpdatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            PricePoints::Table.into_iden(),
            StoreItems::Table.into_iden(),
            Stores::Table.into_iden(),
            JobFailures::Table.into_iden(),
            Jobs::Table.into_iden(),
            Products::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
