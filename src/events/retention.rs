//! Pruning events older than the retention period, so the outbox does not grow
//! forever, and remembering how far it went (the horizon), so a `since` from
//! before it is answered with `reset` rather than a partial replay.

use std::time::Duration;

use chrono::Utc;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect, TransactionTrait,
    sea_query::Expr,
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

/// Deletes every event up to the newest one older than `retention` and moves the
/// horizon there, in one transaction, so the horizon never trails a deletion.
/// Instances may prune at the same time: the horizon only moves forward.
/// Returns how many events were deleted.
pub async fn prune(db: &DatabaseConnection, retention: Duration) -> Result<u64, sea_orm::DbErr> {
    let cutoff = Utc::now() - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::days(7));
    let txn = db.begin().await?;
    let newest_expired: Option<i64> = event::Entity::find()
        .select_only()
        .column_as(event::Column::Id.max(), "newest")
        .filter(event::Column::CreatedAt.lt(cutoff))
        .into_tuple()
        .one(&txn)
        .await?
        .flatten();
    let Some(through) = newest_expired else {
        txn.rollback().await?;
        return Ok(0);
    };
    let deleted = event::Entity::delete_many().filter(event::Column::Id.lte(through)).exec(&txn).await?.rows_affected;
    event_horizon::Entity::update_many()
        .col_expr(event_horizon::Column::PrunedThrough, Expr::value(through))
        .filter(event_horizon::Column::Id.eq(HORIZON))
        .filter(event_horizon::Column::PrunedThrough.lt(through))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(deleted)
}

/// The highest event id that may have been pruned: a replay from an older `since`
/// would be missing events, so it is refused with `reset`.
pub async fn pruned_through(db: &impl ConnectionTrait) -> Result<i64, sea_orm::DbErr> {
    Ok(event_horizon::Entity::find_by_id(HORIZON).one(db).await?.map_or(0, |row| row.pruned_through))
}
