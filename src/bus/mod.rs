//! The bus carries committed events to the hub of every instance.
//!
//! The embedded default is [`InProcessBus`]; with `REDIS_URL`, [`RedisBus`]
//! connects the instances. The hub never trusts the bus
//! alone: it fills gaps from the outbox, so a lost publication only delays delivery.

pub mod redis;
pub mod signature;

use std::sync::Arc;

use tokio::sync::{broadcast, watch};

use crate::{
    events::{StoredEvent, dispatch_progress::DispatchProgress},
    metrics::Metrics,
};

/// Publishes committed events and hands them to subscribers (the hub).
pub trait Bus: Send + Sync + 'static {
    /// Fire and forget: a change must never fail because publishing did.
    fn publish(&self, events: &[Arc<StoredEvent>]);
    /// A receiver of every event published from now on, by any instance.
    fn subscribe(&self) -> broadcast::Receiver<Arc<StoredEvent>>;
    /// Whether the bus's backend is reachable; `None` when it has none.
    fn healthy(&self) -> Option<bool> {
        None
    }
    /// Changes each time the bus re-subscribes after losing its backend, so the
    /// hub reads the outbox for what was published meanwhile; `None` when it never does.
    fn resubscriptions(&self) -> Option<watch::Receiver<u64>> {
        None
    }
    /// How far this instance's hub has dispatched what was published: a
    /// write's answer waits until its events were offered to this instance's sessions.
    fn dispatch_progress(&self) -> &Arc<DispatchProgress>;
}

pub use self::{redis::RedisBus, signature::BusKey};

/// One process, one broadcast channel.
pub struct InProcessBus {
    sender: broadcast::Sender<Arc<StoredEvent>>,
    metrics: Arc<Metrics>,
    progress: Arc<DispatchProgress>,
}

impl InProcessBus {
    pub fn new(capacity: usize, metrics: Arc<Metrics>) -> Self {
        InProcessBus { sender: broadcast::channel(capacity).0, metrics, progress: Arc::default() }
    }
}

impl Bus for InProcessBus {
    fn publish(&self, events: &[Arc<StoredEvent>]) {
        self.metrics.events_published.inc_by(events.len() as u64);
        for event in events {
            // No receiver (no hub yet) is fine: the outbox keeps the event.
            let _ = self.sender.send(event.clone());
        }
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<StoredEvent>> {
        self.sender.subscribe()
    }

    fn dispatch_progress(&self) -> &Arc<DispatchProgress> {
        &self.progress
    }
}
