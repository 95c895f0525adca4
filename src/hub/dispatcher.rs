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
async fn dispatch(hub: &Hub, db: &DatabaseConnection, event: Arc<StoredEvent>) {
    let last = hub.last_dispatched();
    if event.id == last + 1 {
        hub.fan_out(&event);
    } else if event.id > last {
        debug!(from = last + 1, to = event.id, "filling a gap from the outbox");
        // On failure the catch-up tick retries from the outbox, where this event is too.
        dispatch_from_outbox(hub, db, Some(event.id)).await;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        auth::{CurrentUser, user_lookup::UserLookup},
        events::{Channel, NewEvent, Topic, dispatch_progress::DispatchProgress},
        hub::{ChannelPolicy, HubSettings, SessionThreads},
        metrics::Metrics,
    };
    use sea_orm::TransactionTrait;

    struct Anyone;

    #[async_trait::async_trait]
    impl ChannelPolicy for Anyone {
        async fn authorize(&self, _: &CurrentUser, _: Channel) -> Result<(), String> {
            Ok(())
        }
    }

    fn settings() -> HubSettings {
        HubSettings {
            allowed_origins: vec![],
            ping_interval: Duration::from_secs(30),
            auth_timeout: Duration::from_secs(5),
            queue_capacity: 16,
            max_subscriptions: 16,
            replay_max_rows: 1000,
            max_sessions_per_user: 4,
            max_sessions: 16,
            subscribe_rate: 10,
            subscribe_burst: 10,
            write_batch_bytes: 64 * 1024,
        }
    }

    /// Writes `count` events to the outbox; returns them as committed.
    async fn write_events(db: &DatabaseConnection, count: usize) -> Vec<Arc<StoredEvent>> {
        let txn = db.begin().await.unwrap();
        let events = (0..count)
            .map(|n| NewEvent {
                topic: Topic::Tasks,
                entity_id: n as i64,
                kind: "task.created",
                payload: "{}".into(),
                audience: vec![],
            })
            .collect();
        let stored = outbox::append(&txn, events).await.unwrap();
        txn.commit().await.unwrap();
        stored
    }

    /// Waits as a write of event `id` would (again after each bounded wait, up to 5 s).
    async fn reaches(progress: &Arc<DispatchProgress>, id: i64) {
        let _listening = progress.listen();
        let waited = tokio::time::timeout(Duration::from_secs(5), async {
            while let Some(wait) = progress.wait_for(Some(id)) {
                wait.await;
            }
        });
        waited.await.unwrap_or_else(|_| panic!("event {id} was never dispatched (last: {})", progress.last()));
        assert_eq!(progress.last(), id, "dispatched exactly through {id}");
    }

    /// A hub's dispatcher on an in-memory outbox, past its first catch-up (it
    /// reads the outbox at once when it starts, then not for an hour): what it
    /// dispatches after `start` came by the bus. Stops when dropped.
    struct Dispatching {
        db: DatabaseConnection,
        progress: Arc<DispatchProgress>,
        bus: broadcast::Sender<Arc<StoredEvent>>,
        _stop: tokio_util::sync::DropGuard,
    }

    impl Dispatching {
        /// With a bus that holds `capacity` events for the dispatcher.
        async fn start(capacity: usize) -> Dispatching {
            let db = crate::db::connect("sqlite::memory:").await.unwrap();
            crate::db::migrate(&db).await.unwrap();
            write_events(&db, 1).await;
            let (progress, shutdown) = (Arc::new(DispatchProgress::default()), CancellationToken::new());
            let hub = Hub::new(
                progress.clone(),
                settings(),
                Arc::new(Anyone),
                UserLookup::start(db.clone(), None),
                Arc::new(Metrics::default()),
                SessionThreads::start(1).unwrap(),
                shutdown.clone(),
            );
            let (bus, receiver) = broadcast::channel(capacity);
            let rarely = Duration::from_secs(3600);
            tokio::spawn(run_dispatcher(hub, db.clone(), receiver, None, rarely, shutdown.clone()));
            reaches(&progress, 1).await;
            Dispatching { db, progress, bus, _stop: shutdown.drop_guard() }
        }
    }

    #[tokio::test]
    async fn events_the_hub_fell_behind_on_are_dispatched_from_the_outbox_and_release_their_writes() {
        let hub = Dispatching::start(2).await;
        // Published faster than the hub reads: its receiver lags, and catches up from the outbox.
        for event in write_events(&hub.db, 6).await {
            hub.bus.send(event).unwrap();
        }
        reaches(&hub.progress, 7).await;
    }

    #[tokio::test]
    async fn a_gap_is_filled_from_the_outbox_before_the_write_after_it_is_released() {
        let hub = Dispatching::start(16).await;
        let stored = write_events(&hub.db, 4).await;
        // Only the last event arrives; the three before it were lost on the way.
        hub.bus.send(stored[3].clone()).unwrap();
        reaches(&hub.progress, 5).await;
    }

    #[tokio::test]
    async fn an_id_the_outbox_does_not_hold_is_never_counted_as_dispatched() {
        let hub = Dispatching::start(16).await;
        let stored = write_events(&hub.db, 1).await;
        let bogus = StoredEvent::new(1_000, Topic::Tasks, 1, "task.created".into(), "{}".into(), vec![], stored[0].at);
        hub.bus.send(bogus).unwrap();
        hub.bus.send(stored[0].clone()).unwrap();
        reaches(&hub.progress, 2).await;
        let _listening = hub.progress.listen();
        assert!(hub.progress.wait_for(Some(1_000)).is_some(), "the bogus id counts as not dispatched");
    }
}
