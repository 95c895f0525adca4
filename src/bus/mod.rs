//! The bus carries committed events to the hub of every instance.
//!
//! The embedded default is [`InProcessBus`]. The hub never trusts the bus
//! alone: it fills gaps from the outbox, so a lost publication only delays delivery.

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::events::StoredEvent;

/// Publishes committed events and hands them to subscribers (the hub).
pub trait Bus: Send + Sync + 'static {
    /// Fire and forget: a change must never fail because publishing did.
    fn publish(&self, events: &[Arc<StoredEvent>]);
    /// A receiver of every event published from now on, by any instance.
    fn subscribe(&self) -> broadcast::Receiver<Arc<StoredEvent>>;
}

/// One process, one broadcast channel.
pub struct InProcessBus {
    sender: broadcast::Sender<Arc<StoredEvent>>,
}

impl InProcessBus {
    pub fn new(capacity: usize) -> Self {
        InProcessBus {
            sender: broadcast::channel(capacity).0,
        }
    }
}

impl Bus for InProcessBus {
    fn publish(&self, events: &[Arc<StoredEvent>]) {
        for event in events {
            // No receiver (no hub yet) is fine: the outbox keeps the event.
            let _ = self.sender.send(event.clone());
        }
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<StoredEvent>> {
        self.sender.subscribe()
    }
}
