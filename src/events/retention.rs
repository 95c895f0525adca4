//! Pruning events older than the retention period, so the outbox does not grow
//! forever, and remembering how far it went (the horizon), so a `since` from
//! before it is answered with `reset` rather than a partial replay.

use std::time::Duration;

use chrono::Utc;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait, sea_query::Expr,
};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::entity::{event, event_horizon};

/// The horizon row's id: there is one.
const HORIZON: i32 = 1;

/// Deletes old events once an hour until shutdown.
pub async fn run_pruner(db: DatabaseConnection, retention: Duration, shutdown: CancellationToken) {
    crate::periodic::every(Duration::from_secs(3600), shutdown, || async {
        match prune(&db, retention).await {
            Ok(0) => {}
            Ok(deleted) => info!(deleted, "pruned old events"),
            Err(err) => warn!(error = %err, "pruning old events failed"),
        }
    })
    .await
}

/// Events deleted per transaction: on SQLite a prune holds the only write
/// connection, so the first one after a long downtime must not stall every write.
const BATCH: u64 = 5000;

/// The advisory lock that lets one instance prune at a time.
const PRUNE_LOCK: &str = "event_retention";

/// Deletes every event up to the newest one older than `retention`, a batch per
/// transaction, moving the horizon with each batch so it never trails a deletion.
/// One instance prunes at a time (another one finds the lock taken and skips);
/// the horizon only moves forward. Returns how many events were deleted.
pub async fn prune(db: &DatabaseConnection, retention: Duration) -> Result<u64, sea_orm::DbErr> {
    let cutoff = Utc::now() - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::days(7));
    let mut deleted = 0;
    loop {
        let txn = db.begin().await?;
        if !crate::db::try_serialize_on(&txn, PRUNE_LOCK).await? {
            return Ok(deleted);
        }
        let expired: Vec<i64> = event::Entity::find()
            .select_only()
            .column(event::Column::Id)
            .filter(event::Column::CreatedAt.lt(cutoff))
            .order_by_asc(event::Column::Id)
            .limit(BATCH)
            .into_tuple()
            .all(&txn)
            .await?;
        let Some(&through) = expired.last() else {
            txn.rollback().await?;
            return Ok(deleted);
        };
        deleted += event::Entity::delete_many().filter(event::Column::Id.lte(through)).exec(&txn).await?.rows_affected;
        event_horizon::Entity::update_many()
            .col_expr(event_horizon::Column::PrunedThrough, Expr::value(through))
            .filter(event_horizon::Column::Id.eq(HORIZON))
            .filter(event_horizon::Column::PrunedThrough.lt(through))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        if (expired.len() as u64) < BATCH {
            return Ok(deleted);
        }
    }
}

/// The highest event id that may have been pruned: a replay from an older `since`
/// would be missing events, so it is refused with `reset`.
pub async fn pruned_through(db: &impl ConnectionTrait) -> Result<i64, sea_orm::DbErr> {
    Ok(event_horizon::Entity::find_by_id(HORIZON).one(db).await?.map_or(0, |row| row.pruned_through))
}
