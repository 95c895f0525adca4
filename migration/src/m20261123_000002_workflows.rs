//! Workflow templates, with the default `vehicle_registration`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Workflows {
    Table,
    Key,
    Name,
    Subtasks,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Workflows::Table)
                    .col(ColumnDef::new(Workflows::Key).string_len(64).not_null().primary_key())
                    .col(ColumnDef::new(Workflows::Name).string_len(200).not_null())
                    .col(ColumnDef::new(Workflows::Subtasks).text().not_null())
                    .col(ColumnDef::new(Workflows::UpdatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        let subtasks = r#"["Verify customer data","Check documents","Register vehicle","Hand over keys"]"#;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(Workflows::Table)
                    .columns([Workflows::Key, Workflows::Name, Workflows::Subtasks, Workflows::UpdatedAt])
                    .values_panic([
                        "vehicle_registration".into(),
                        "Vehicle registration".into(),
                        subtasks.into(),
                        Expr::current_timestamp().into(),
                    ])
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Workflows::Table).to_owned()).await
    }
}
