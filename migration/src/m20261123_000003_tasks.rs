//! Tasks and the subtasks generated from their workflow on approval.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tasks {
    Table,
    Id,
    Title,
    Description,
    Workflow,
    Status,
    CreatedBy,
    Assignee,
    DecidedBy,
    DecidedAt,
    RejectReason,
    CreatedAt,
    UpdatedAt,
    CompletedAt,
}

#[derive(DeriveIden)]
enum Subtasks {
    Table,
    Id,
    TaskId,
    Position,
    Title,
    Status,
    CompletedBy,
    CompletedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tasks::Table)
                    .col(ColumnDef::new(Tasks::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(Tasks::Title).string_len(200).not_null())
                    .col(ColumnDef::new(Tasks::Description).text().not_null().default(""))
                    .col(ColumnDef::new(Tasks::Workflow).string_len(64).not_null())
                    .col(ColumnDef::new(Tasks::Status).string_len(32).not_null())
                    .col(ColumnDef::new(Tasks::CreatedBy).big_integer().not_null())
                    .col(ColumnDef::new(Tasks::Assignee).big_integer().not_null())
                    .col(ColumnDef::new(Tasks::DecidedBy).big_integer().null())
                    .col(ColumnDef::new(Tasks::DecidedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Tasks::RejectReason).text().null())
                    .col(ColumnDef::new(Tasks::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Tasks::UpdatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Tasks::CompletedAt).timestamp_with_time_zone().null())
                    .foreign_key(ForeignKey::create().from(Tasks::Table, Tasks::CreatedBy).to(Users::Table, Users::Id))
                    .foreign_key(ForeignKey::create().from(Tasks::Table, Tasks::Assignee).to(Users::Table, Users::Id))
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("idx_tasks_status", Tasks::Status),
            ("idx_tasks_created_by", Tasks::CreatedBy),
            ("idx_tasks_assignee", Tasks::Assignee),
        ] {
            manager.create_index(Index::create().name(name).table(Tasks::Table).col(col).to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(Subtasks::Table)
                    .col(ColumnDef::new(Subtasks::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(Subtasks::TaskId).big_integer().not_null())
                    .col(ColumnDef::new(Subtasks::Position).integer().not_null())
                    .col(ColumnDef::new(Subtasks::Title).string_len(200).not_null())
                    .col(ColumnDef::new(Subtasks::Status).string_len(16).not_null())
                    .col(ColumnDef::new(Subtasks::CompletedBy).big_integer().null())
                    .col(ColumnDef::new(Subtasks::CompletedAt).timestamp_with_time_zone().null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(Subtasks::Table, Subtasks::TaskId)
                            .to(Tasks::Table, Tasks::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_subtasks_task_position")
                    .table(Subtasks::Table)
                    .col(Subtasks::TaskId)
                    .col(Subtasks::Position)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Subtasks::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Tasks::Table).to_owned()).await
    }
}
