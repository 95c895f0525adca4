//! The outbox: events written in the change's transaction, read back for replay and catch-up.

use std::sync::Arc;

use chrono::Utc;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement, TransactionTrait,
};

use super::{NewEvent, StoredEvent, Topic};
use crate::{
    bus::Bus,
    entity::event,
    error::{AppError, Result},
};

/// Key of the PostgreSQL advisory lock that makes event ids commit in id order.
const EVENT_ORDER_LOCK: i64 = 0x7461_736b_7769_7265; // "taskwire"

/// Events inserted by one statement (seven bound values each).
const EVENTS_PER_STATEMENT: usize = 500;

/// Writes events in the caller's transaction. Call it last, just before commit.
///
/// On PostgreSQL a transaction-scoped advisory lock is taken first, so ids are
/// allocated and committed in the same order: once id N is visible, every
/// smaller id is visible too or never will be. Replay and gap-filling rely on
/// that. (SQLite serializes writers, so it holds there already.)
pub async fn append(txn: &DatabaseTransaction, events: Vec<NewEvent>) -> Result<Vec<Arc<StoredEvent>>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            [EVENT_ORDER_LOCK.into()],
        ))
        .await?;
    }
    let now = Utc::now();
    let mut ids = Vec::with_capacity(events.len());
    // One statement per chunk (a chunk stays far below SQLite's limit of bound values).
    // Ids are allocated in row order (one writer on SQLite, the order lock above on
    // PostgreSQL), so the returned ids sorted line up with `events`.
    for chunk in events.chunks(EVENTS_PER_STATEMENT) {
        let rows = chunk.iter().map(|new| event::ActiveModel {
            topic: Set(new.topic.as_str().to_owned()),
            entity_id: Set(new.entity_id),
            kind: Set(new.kind.to_owned()),
            payload: Set(new.payload.clone()),
            audience: Set(encode_audience(&new.audience)),
            created_at: Set(now),
            ..Default::default()
        });
        ids.extend(event::Entity::insert_many(rows).exec_with_returning_keys(txn).await?);
    }
    if ids.len() != events.len() {
        return Err(AppError::Internal(format!("{} events written, {} ids returned", events.len(), ids.len())));
    }
    ids.sort_unstable();
    Ok(ids
        .into_iter()
        .zip(events)
        .map(|(id, new)| {
            StoredEvent::new(id, new.topic, new.entity_id, new.kind.to_owned(), new.payload, new.audience, now)
        })
        .collect())
}

/// Commits the transaction, then hands its events to the bus; returns the id of
/// the last of them, for the answer to wait for its dispatch
/// ([`DispatchProgress::wait_for`](super::dispatch_progress::DispatchProgress::wait_for)). Publishing never fails the change: hubs that
/// miss the publication catch up from the outbox.
pub(super) async fn commit_and_publish(
    txn: DatabaseTransaction,
    bus: &dyn Bus,
    events: Vec<Arc<StoredEvent>>,
) -> Result<Option<i64>> {
    txn.commit().await?;
    if !events.is_empty() {
        bus.publish(&events);
    }
    Ok(events.last().map(|event| event.id))
}

/// Runs `work` in a transaction, commits, and publishes the events it returns.
pub async fn in_transaction<T, F>(db: &sea_orm::DatabaseConnection, bus: &dyn Bus, work: F) -> Result<T>
where
    F: AsyncFnOnce(&DatabaseTransaction) -> Result<(T, Vec<NewEvent>)>,
{
    let txn = db.begin().await?;
    let (value, events) = work(&txn).await?;
    let stored = append(&txn, events).await?;
    let last = commit_and_publish(txn, bus, stored).await?;
    if let Some(dispatch) = bus.dispatch_progress().wait_for(last) {
        dispatch.await;
    }
    Ok(value)
}

/// The newest event id, 0 when there is none.
pub async fn max_id(db: &impl ConnectionTrait) -> Result<i64> {
    let newest = event::Entity::find().order_by_desc(event::Column::Id).limit(1).one(db).await?;
    Ok(newest.map_or(0, |e| e.id))
}

/// Events with `after < id <= up_to` (no upper bound when `None`), of the given topics, in id order, at most `limit`.
pub async fn load(
    db: &impl ConnectionTrait,
    after: i64,
    up_to: Option<i64>,
    topics: &[Topic],
    limit: u64,
) -> Result<Vec<Arc<StoredEvent>>> {
    let mut query = event::Entity::find().filter(event::Column::Id.gt(after));
    if let Some(up_to) = up_to {
        query = query.filter(event::Column::Id.lte(up_to));
    }
    if !topics.is_empty() {
        query = query.filter(event::Column::Topic.is_in(topics.iter().map(|t| t.as_str())));
    }
    let rows = query.order_by_asc(event::Column::Id).limit(limit).all(db).await?;
    Ok(rows.into_iter().filter_map(from_row).collect())
}

fn from_row(row: event::Model) -> Option<Arc<StoredEvent>> {
    let topic = Topic::parse(&row.topic)?;
    Some(StoredEvent::new(
        row.id,
        topic,
        row.entity_id,
        row.kind,
        row.payload,
        decode_audience(&row.audience),
        row.created_at,
    ))
}

fn encode_audience(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

fn decode_audience(text: &str) -> Vec<i64> {
    text.split(',').filter_map(|id| id.parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audiences_round_trip() {
        assert_eq!(decode_audience(&encode_audience(&[3, 5])), vec![3, 5]);
        assert_eq!(decode_audience(&encode_audience(&[])), Vec::<i64>::new());
    }
}
