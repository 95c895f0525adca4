//! Two additions for people coming back to their pages:
//! - the event horizon: the highest event id the pruner has deleted, so a
//!   `since` older than the retained history is answered with `reset` instead of
//!   a silently partial replay (one row; databases pruned before this table
//!   existed start from the lowest event id still there);
//! - a task's `search_key`, its title in lower case (Unicode-aware, which
//!   SQLite's `lower()` is not), so a title search ignores case on every backend.

use sea_orm_migration::{prelude::*, sea_orm::ConnectionTrait};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum EventHorizon {
    Table,
    Id,
    PrunedThrough,
}

#[derive(DeriveIden)]
enum Tasks {
    Table,
    Id,
    Title,
    SearchKey,
}

const SEED_HORIZON: &str =
    "INSERT INTO event_horizon (id, pruned_through) SELECT 1, COALESCE(MIN(id) - 1, 0) FROM events";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(EventHorizon::Table)
                    .col(ColumnDef::new(EventHorizon::Id).integer().not_null().primary_key())
                    .col(ColumnDef::new(EventHorizon::PrunedThrough).big_integer().not_null().default(0))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(SEED_HORIZON).await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Tasks::Table)
                    .add_column(ColumnDef::new(Tasks::SearchKey).text().not_null().default(""))
                    .to_owned(),
            )
            .await?;
        backfill_search_keys(db).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Tasks::Table).drop_column(Tasks::SearchKey).to_owned()).await?;
        manager.drop_table(Table::drop().table(EventHorizon::Table).to_owned()).await
    }
}

/// Lower-cases every existing title in Rust, which knows all of Unicode's cases.
async fn backfill_search_keys(db: &SchemaManagerConnection<'_>) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let select = Query::select().columns([Tasks::Id, Tasks::Title]).from(Tasks::Table).to_owned();
    for row in db.query_all(backend.build(&select)).await? {
        let id: i64 = row.try_get("", "id")?;
        let title: String = row.try_get("", "title")?;
        let update = Query::update()
            .table(Tasks::Table)
            .value(Tasks::SearchKey, title.to_lowercase())
            .and_where(Expr::col(Tasks::Id).eq(id))
            .to_owned();
        db.execute(backend.build(&update)).await?;
    }
    Ok(())
}
