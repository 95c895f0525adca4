//! Pruning events older than the retention period, so the outbox does not grow forever.

use std::time::Duration;

use chrono::Utc;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::entity::event;

/// Deletes old events once an hour until shutdown.
pub async fn run_pruner(db: DatabaseConnection, retention: Duration, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        let cutoff = Utc::now() - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::days(7));
        match event::Entity::delete_many().filter(event::Column::CreatedAt.lt(cutoff)).exec(&db).await {
            Ok(result) if result.rows_affected > 0 => {
                info!(deleted = result.rows_affected, "pruned old events")
            }
            Ok(_) => {}
            Err(err) => warn!(error = %err, "pruning old events failed"),
        }
    }
}
