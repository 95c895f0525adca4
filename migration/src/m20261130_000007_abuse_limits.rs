//! What abuse resistance and order lookups need from the schema: when a refresh
//! token was rotated (its grace window for two tabs refreshing at once), an index
//! for counting a user's recent orders (the per-user order rate limit), and one
//! for finding an order by the provider's reference.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    RotatedAt,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    CreatedBy,
    CreatedAt,
    ProviderRef,
}

const ORDERS_BY_OWNER: &str = "idx_orders_created_by_created_at";
const ORDERS_BY_PROVIDER_REF: &str = "idx_orders_provider_ref";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(RefreshTokens::Table)
                    .add_column(ColumnDef::new(RefreshTokens::RotatedAt).timestamp_with_time_zone().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(ORDERS_BY_OWNER)
                    .table(Orders::Table)
                    .col(Orders::CreatedBy)
                    .col(Orders::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name(ORDERS_BY_PROVIDER_REF).table(Orders::Table).col(Orders::ProviderRef).to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name(ORDERS_BY_PROVIDER_REF).table(Orders::Table).to_owned()).await?;
        manager.drop_index(Index::drop().name(ORDERS_BY_OWNER).table(Orders::Table).to_owned()).await?;
        manager
            .alter_table(Table::alter().table(RefreshTokens::Table).drop_column(RefreshTokens::RotatedAt).to_owned())
            .await
    }
}
