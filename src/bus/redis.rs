//! The scale-out bus: Redis pub/sub between instances.
//!
//! `publish` delivers to this instance's hub at once and queues the event for
//! Redis. A publisher task sends the queue; when Redis is unreachable it keeps
//! the unpublished events and sends them once Redis is back (the outbox relay),
//! so other instances get them at least once — their hubs drop ids they already
//! delivered. A subscriber task feeds events from other instances to the local
//! hub and reconnects with backoff.
//!
//! Every message is signed with the deployment's `BusKey`; a message that does
//! not verify (forged, unsigned, garbled, or for another channel) is dropped and
//! counted in `taskwire_bus_rejected_total`.

use std::{
    collections::VecDeque,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use redis::{AsyncConnectionConfig, Client, aio::MultiplexedConnection};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc, watch};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::{debug, info, warn};

use super::{Bus, signature::BusKey};
use crate::{
    events::{StoredEvent, Topic, dispatch_progress::DispatchProgress},
    metrics::Metrics,
};

/// Events kept for re-publication while Redis is down; older ones are left to the outbox catch-up.
const MAX_UNPUBLISHED: usize = 100_000;
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Redis pub/sub plus the local fan-in.
pub struct RedisBus {
    outgoing: mpsc::UnboundedSender<Arc<StoredEvent>>,
    incoming: broadcast::Sender<Arc<StoredEvent>>,
    /// True while the subscription to Redis is up; `/ready` reports it.
    connected: Arc<AtomicBool>,
    /// Counts re-subscriptions; the hub catches up from the outbox on each.
    resubscribed: watch::Sender<u64>,
    metrics: Arc<Metrics>,
    progress: Arc<DispatchProgress>,
}

/// An event as it travels through Redis.
#[derive(Serialize, Deserialize)]
struct WireEvent {
    id: i64,
    topic: String,
    entity_id: i64,
    kind: String,
    payload: String,
    audience: Vec<i64>,
    at: DateTime<Utc>,
}

impl RedisBus {
    /// Starts the publisher and subscriber tasks on `tasks`, until `shutdown`;
    /// fails only on a malformed URL (an unreachable Redis is retried in the background).
    pub fn start(
        url: &str,
        prefix: &str,
        key: BusKey,
        metrics: Arc<Metrics>,
        shutdown: CancellationToken,
        tasks: &TaskTracker,
    ) -> redis::RedisResult<Self> {
        let client = Client::open(url)?;
        let channel = format!("{prefix}events");
        let (outgoing, queue) = mpsc::unbounded_channel();
        let incoming = broadcast::channel(4096).0;
        let connected = Arc::new(AtomicBool::new(false));
        let resubscribed = watch::channel(0).0;
        tasks.spawn(run_publisher(client.clone(), channel.clone(), key.clone(), queue, shutdown.clone()));
        tasks.spawn(run_subscriber(
            client,
            channel,
            key,
            incoming.clone(),
            connected.clone(),
            resubscribed.clone(),
            metrics.clone(),
            shutdown,
        ));
        Ok(RedisBus { outgoing, incoming, connected, resubscribed, metrics, progress: Arc::default() })
    }
}

impl Bus for RedisBus {
    fn publish(&self, events: &[Arc<StoredEvent>]) {
        self.metrics.events_published.inc_by(events.len() as u64);
        for event in events {
            let _ = self.incoming.send(event.clone());
            let _ = self.outgoing.send(event.clone());
        }
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<StoredEvent>> {
        self.incoming.subscribe()
    }

    fn healthy(&self) -> Option<bool> {
        Some(self.connected.load(Ordering::Relaxed))
    }

    fn resubscriptions(&self) -> Option<watch::Receiver<u64>> {
        Some(self.resubscribed.subscribe())
    }

    fn dispatch_progress(&self) -> &Arc<DispatchProgress> {
        &self.progress
    }
}

fn connection_config() -> AsyncConnectionConfig {
    AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(2)))
}

async fn run_publisher(
    client: Client,
    channel: String,
    key: BusKey,
    mut queue: mpsc::UnboundedReceiver<Arc<StoredEvent>>,
    shutdown: CancellationToken,
) {
    let mut unpublished: VecDeque<Arc<StoredEvent>> = VecDeque::new();
    let mut connection: Option<MultiplexedConnection> = None;
    let mut backoff = Duration::from_millis(100);
    loop {
        if connection.is_none() {
            match client.get_multiplexed_async_connection_with_config(&connection_config()).await {
                Ok(c) => {
                    connection = Some(c);
                    backoff = Duration::from_millis(100);
                }
                Err(err) => {
                    warn!(error = %err, "cannot reach Redis to publish; retrying");
                    // Keep collecting events while waiting, so nothing is lost from the queue.
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.cancelled() => return,
                    }
                    while let Ok(event) = queue.try_recv() {
                        remember(&mut unpublished, event);
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            }
        }
        if let Some(event) = unpublished.pop_front() {
            if !publish_one(connection.as_mut().expect("connected above"), &channel, &key, &event).await {
                unpublished.push_front(event);
                connection = None;
            }
            continue;
        }
        tokio::select! {
            next = queue.recv() => match next {
                Some(event) => remember(&mut unpublished, event),
                None => return,
            },
            _ = shutdown.cancelled() => return,
        }
    }
}

fn remember(unpublished: &mut VecDeque<Arc<StoredEvent>>, event: Arc<StoredEvent>) {
    if unpublished.len() >= MAX_UNPUBLISHED {
        unpublished.pop_front();
    }
    unpublished.push_back(event);
}

async fn publish_one(connection: &mut MultiplexedConnection, channel: &str, key: &BusKey, event: &StoredEvent) -> bool {
    let wire = WireEvent {
        id: event.id,
        topic: event.topic.as_str().to_owned(),
        entity_id: event.entity_id,
        kind: event.kind.clone(),
        payload: event.payload.clone(),
        audience: event.audience.clone(),
        at: event.at,
    };
    let Ok(body) = serde_json::to_string(&wire) else { return true };
    let payload = key.sign(channel, &body);
    match redis::cmd("PUBLISH").arg(channel).arg(payload).query_async::<i64>(connection).await {
        Ok(_) => true,
        Err(err) => {
            warn!(error = %err, event = event.id, "publishing to Redis failed; will republish");
            false
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_subscriber(
    client: Client,
    channel: String,
    key: BusKey,
    incoming: broadcast::Sender<Arc<StoredEvent>>,
    connected: Arc<AtomicBool>,
    resubscribed: watch::Sender<u64>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    let mut backoff = Duration::from_millis(100);
    let mut first = true;
    loop {
        let subscription = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        match tokio::time::timeout(Duration::from_secs(3), subscription).await {
            Ok(Ok(pubsub)) => {
                if !first {
                    metrics.bus_reconnects.inc();
                    resubscribed.send_modify(|n| *n += 1);
                    info!("resubscribed to Redis; catching up from the outbox");
                }
                first = false;
                connected.store(true, Ordering::Relaxed);
                backoff = Duration::from_millis(100);
                let mut messages = pubsub.into_on_message();
                loop {
                    tokio::select! {
                        message = messages.next() => match message {
                            Some(message) => {
                                match decode(&key, &channel, message.get_payload_bytes()) {
                                    Some(event) => {
                                        let _ = incoming.send(event);
                                    }
                                    None => {
                                        metrics.bus_rejected.inc();
                                        debug!("dropped a bus message that is not a signed event of this deployment");
                                    }
                                }
                            }
                            None => break,
                        },
                        _ = shutdown.cancelled() => return,
                    }
                }
                connected.store(false, Ordering::Relaxed);
                warn!("lost the Redis subscription; reconnecting");
            }
            Ok(Err(err)) => warn!(error = %err, "cannot subscribe to Redis; retrying"),
            Err(_) => warn!("subscribing to Redis timed out; retrying"),
        }
        connected.store(false, Ordering::Relaxed);
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = shutdown.cancelled() => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// The event in a message, if it carries this deployment's signature for this channel.
fn decode(key: &BusKey, channel: &str, message: &[u8]) -> Option<Arc<StoredEvent>> {
    let wire: WireEvent = serde_json::from_slice(key.verify(channel, message)?).ok()?;
    let topic = Topic::parse(&wire.topic)?;
    Some(StoredEvent::new(wire.id, topic, wire.entity_id, wire.kind, wire.payload, wire.audience, wire.at))
}
