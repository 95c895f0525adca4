//! The events outbox: every change's event, written in the change's transaction.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    Topic,
    EntityId,
    Kind,
    Payload,
    Audience,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Events::Table)
                    .col(ColumnDef::new(Events::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(Events::Topic).string_len(16).not_null())
                    .col(ColumnDef::new(Events::EntityId).big_integer().not_null())
                    .col(ColumnDef::new(Events::Kind).string_len(64).not_null())
                    .col(ColumnDef::new(Events::Payload).text().not_null())
                    .col(ColumnDef::new(Events::Audience).text().not_null())
                    .col(ColumnDef::new(Events::CreatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_events_topic_entity")
                    .table(Events::Table)
                    .col(Events::Topic)
                    .col(Events::EntityId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Events::Table).to_owned()).await
    }
}
