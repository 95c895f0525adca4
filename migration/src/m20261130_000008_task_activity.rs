//! Task history: who did what when, written in the change's transaction and kept
//! as long as the task (unlike the events outbox, which is pruned). Existing tasks
//! get their history rebuilt from what their rows record.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum TaskActivity {
    Table,
    Id,
    TaskId,
    Kind,
    ActorId,
    SubtaskId,
    Detail,
    At,
}

const BY_TASK: &str = "idx_task_activity_task_id";

/// Rebuilds the history of tasks created before this table existed, in the order things happened.
const BACKFILL: [&str; 4] = [
    "INSERT INTO task_activity (task_id, kind, actor_id, subtask_id, detail, at) \
     SELECT id, 'created', created_by, NULL, NULL, created_at FROM tasks",
    "INSERT INTO task_activity (task_id, kind, actor_id, subtask_id, detail, at) \
     SELECT id, CASE WHEN status = 'rejected' THEN 'rejected' ELSE 'approved' END, decided_by, NULL, reject_reason, decided_at \
     FROM tasks WHERE decided_at IS NOT NULL",
    "INSERT INTO task_activity (task_id, kind, actor_id, subtask_id, detail, at) \
     SELECT task_id, 'subtask_completed', completed_by, id, NULL, completed_at FROM subtasks \
     WHERE completed_at IS NOT NULL ORDER BY completed_at",
    "INSERT INTO task_activity (task_id, kind, actor_id, subtask_id, detail, at) \
     SELECT id, 'completed', NULL, NULL, NULL, completed_at FROM tasks WHERE completed_at IS NOT NULL",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TaskActivity::Table)
                    .col(ColumnDef::new(TaskActivity::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(TaskActivity::TaskId).big_integer().not_null())
                    .col(ColumnDef::new(TaskActivity::Kind).string_len(40).not_null())
                    .col(ColumnDef::new(TaskActivity::ActorId).big_integer().null())
                    .col(ColumnDef::new(TaskActivity::SubtaskId).big_integer().null())
                    .col(ColumnDef::new(TaskActivity::Detail).text().null())
                    .col(ColumnDef::new(TaskActivity::At).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(BY_TASK)
                    .table(TaskActivity::Table)
                    .col(TaskActivity::TaskId)
                    .col(TaskActivity::Id)
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        for statement in BACKFILL {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(TaskActivity::Table).to_owned()).await
    }
}
