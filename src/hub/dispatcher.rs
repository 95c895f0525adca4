//! The dispatcher: turns bus messages into an ordered, gap-free stream of fan-outs.

use std::{sync::Arc, time::Duration};

use sea_orm::DatabaseConnection;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::Hub;
use crate::events::{StoredEvent, outbox};

const PAGE: u64 = 500;

/// Runs until shutdown. Events are dispatched in id order, each once: an id
/// already dispatched is dropped, and when ids are missing below a received one,
/// that range is read from the outbox (ids commit in order, so they are there or
/// never will be) and the outbox's copies are dispatched.
/// A catch-up reads anything the bus lost: every `catch_up_every`, and at once
/// whenever the bus re-subscribes after an outage.
pub async fn run_dispatcher(
    hub: Hub,
    db: DatabaseConnection,
    mut events: broadcast::Receiver<Arc<StoredEvent>>,
    mut resubscriptions: Option<watch::Receiver<u64>>,
    catch_up_every: Duration,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(catch_up_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            received = events.recv() => match received {
                Ok(event) => dispatch(&hub, &db, event).await,
                Err(broadcast::error::RecvError::Lagged(skipped)) => {
                    warn!(skipped, "the hub fell behind the bus; catching up from the outbox");
                    catch_up(&hub, &db).await;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = tick.tick() => catch_up(&hub, &db).await,
            changed = resubscribed(&mut resubscriptions) => {
                if changed {
                    catch_up(&hub, &db).await;
                } else {
                    resubscriptions = None;
                }
            }
            _ = shutdown.cancelled() => return,
        }
    }
}

/// Resolves when the bus re-subscribed (true) or can no longer say (false); never without a bus signal.
async fn resubscribed(signal: &mut Option<watch::Receiver<u64>>) -> bool {
    match signal {
        Some(receiver) => receiver.changed().await.is_ok(),
        None => std::future::pending().await,
    }
}

/// The next id is fanned out as it came. An event further ahead is only a hint
/// that the outbox has more: everything up to it is read from the outbox and
/// dispatched from there, so an id the outbox does not hold (a bug, a message
/// from another deployment's past, `i64::MAX`) is never fanned out and can
/// neither make the hub skip the ids below it nor hold back the ones after.
/// The received event is marked dispatched once it (or its outbox copy) was:
/// the write that published it answers then.
async fn dispatch(hub: &Hub, db: &DatabaseConnection, event: Arc<StoredEvent>) {
    let last = hub.last_dispatched();
    if event.id == last + 1 {
        hub.fan_out(&event);
    } else if event.id > last {
        debug!(from = last + 1, to = event.id, "filling a gap from the outbox");
        // On failure the catch-up tick retries from the outbox, where this event is too.
        dispatch_from_outbox(hub, db, Some(event.id)).await;
    }
    if hub.last_dispatched() >= event.id {
        event.mark_dispatched();
    }
}

async fn catch_up(hub: &Hub, db: &DatabaseConnection) {
    dispatch_from_outbox(hub, db, None).await;
}

/// Dispatches every outbox event after the last dispatched one, up to `up_to`; false if the database failed.
async fn dispatch_from_outbox(hub: &Hub, db: &DatabaseConnection, up_to: Option<i64>) -> bool {
    loop {
        let after = hub.last_dispatched();
        let batch = match outbox::load(db, after, up_to, &[], PAGE).await {
            Ok(batch) => batch,
            Err(err) => {
                warn!(error = %err, "reading the outbox failed; will retry");
                return false;
            }
        };
        let full = batch.len() as u64 == PAGE;
        for event in batch {
            if event.id > hub.last_dispatched() {
                hub.fan_out(&event);
            }
        }
        if !full {
            return true;
        }
    }
}
