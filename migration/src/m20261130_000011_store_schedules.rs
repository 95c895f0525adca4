//! Scheduled scrapes: how often a store is scraped by itself (`null`: only by
//! hand), when its next run is due, and the lease that lets exactly one
//! instance start each run.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Stores {
    Table,
    ScrapeEverySecs,
    NextScrapeAt,
    ScheduleLeaseUntil,
    ScheduleLeaseOwner,
}

const DUE_STORES: &str = "idx_stores_next_scrape_at";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per ALTER: SQLite adds columns one at a time.
        for column in [
            ColumnDef::new(Stores::ScrapeEverySecs).big_integer().null().to_owned(),
            ColumnDef::new(Stores::NextScrapeAt).timestamp_with_time_zone().null().to_owned(),
            ColumnDef::new(Stores::ScheduleLeaseUntil).timestamp_with_time_zone().null().to_owned(),
            ColumnDef::new(Stores::ScheduleLeaseOwner).string_len(64).null().to_owned(),
        ] {
            let mut column = column;
            manager.alter_table(Table::alter().table(Stores::Table).add_column(&mut column).to_owned()).await?;
        }
        manager
            .create_index(Index::create().name(DUE_STORES).table(Stores::Table).col(Stores::NextScrapeAt).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name(DUE_STORES).table(Stores::Table).to_owned()).await?;
        for column in
            [Stores::ScheduleLeaseOwner, Stores::ScheduleLeaseUntil, Stores::NextScrapeAt, Stores::ScrapeEverySecs]
        {
            manager.alter_table(Table::alter().table(Stores::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}
