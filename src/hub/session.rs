//! One session's side of the hub: its bounded queue, held-back events and close requests.

use std::{
    collections::HashSet,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    task::Poll,
};

use axum::extract::ws::Utf8Bytes;
use futures_util::task::AtomicWaker;
use tokio::sync::mpsc;

use super::protocol;
use crate::{
    auth::CurrentUser,
    events::{Channel, ChannelForm, StoredEvent},
};

/// An event and the channel name it is delivered under.
pub type Delivery = (Arc<StoredEvent>, ChannelForm);

const TOO_SLOW: &str = "too slow: reconnect and resume with since";

/// What the writer sends, in queue order.
#[derive(Debug)]
pub enum Outbound {
    /// A control frame: `ready`, `subscribed`, `error`, `pong`.
    Frame(Utf8Bytes),
    /// One live event.
    Event(Utf8Bytes),
}

/// The hub's handle on a connected session.
pub struct SessionHandle {
    pub id: u64,
    pub user: CurrentUser,
    queue: mpsc::Sender<Outbound>,
    capacity: usize,
    /// The channels this session subscribes to.
    channels: Mutex<HashSet<Channel>>,
    /// While a subscription is set up, live events wait here behind the replay.
    held: Mutex<Option<Vec<Delivery>>>,
    /// Whether `held` may be `Some`: lets a delivery skip its lock, the common case.
    /// Set under the hub's dispatch gate (as every `offer` runs), cleared under `held`'s lock.
    holding: AtomicBool,
    /// The first close requested (4408 too slow, 1009 too large …); the writer sends it.
    close_request: Mutex<Option<(u16, &'static str)>>,
    closing: AtomicBool,
    /// Wakes the session's writer (the only task that waits for a close request).
    /// Cheaper to poll than a `Notify`, which the writer polls once per frame.
    close_waker: AtomicWaker,
}

impl SessionHandle {
    pub fn new(id: u64, user: CurrentUser, queue: mpsc::Sender<Outbound>, capacity: usize) -> Self {
        SessionHandle {
            id,
            user,
            queue,
            capacity,
            channels: Mutex::new(HashSet::new()),
            held: Mutex::new(None),
            holding: AtomicBool::new(false),
            close_request: Mutex::new(None),
            closing: AtomicBool::new(false),
            close_waker: AtomicWaker::new(),
        }
    }

    /// Offers a live event: dropped if the user may not see it, held back during
    /// a subscription's replay, otherwise queued. A full queue closes the session with 4408.
    pub fn offer(&self, event: &Arc<StoredEvent>, form: ChannelForm) -> bool {
        let closing = self.closing.load(Ordering::Relaxed);
        if closing || !event.may_receive(self.user.id, self.user.is_admin()) {
            return false;
        }
        if self.holding.load(Ordering::Acquire)
            && let Some(held) = lock(&self.held).as_mut()
        {
            if held.len() >= self.capacity {
                self.request_close(4408, TOO_SLOW);
                return false;
            }
            held.push((event.clone(), form));
            return true;
        }
        if self.queue.try_send(Outbound::Event(protocol::event(event, form))).is_err() {
            self.request_close(4408, TOO_SLOW);
            return false;
        }
        true
    }

    /// Starts holding live events back (called under the hub's dispatch gate).
    pub(super) fn hold_live_events(&self) {
        lock(&self.held).get_or_insert_with(Vec::new);
        self.holding.store(true, Ordering::Release);
    }

    /// Queues a replayed event, waiting for room: a replay counts against the
    /// queue like any frame, so it is never held in one unbounded batch.
    /// `false` once the session is closing.
    pub(super) async fn send_replayed(&self, (event, form): &Delivery) -> bool {
        !self.closing.load(Ordering::Relaxed)
            && self.queue.send(Outbound::Event(protocol::event(event, *form))).await.is_ok()
    }

    /// Queues the live events held back during a subscription (all with ids above
    /// its replay's), waiting for room, and then resumes live delivery. Events that
    /// arrive meanwhile are held too, behind these; more than the queue's capacity
    /// of them closes the session with 4408.
    pub(super) async fn resume_live_events(&self) {
        loop {
            let waiting = {
                let mut held = lock(&self.held);
                match held.as_mut() {
                    Some(waiting) if !waiting.is_empty() => std::mem::take(waiting),
                    _ => {
                        *held = None;
                        self.holding.store(false, Ordering::Release);
                        return;
                    }
                }
            };
            // A subscription rolled back meanwhile: its held events are not wanted any more.
            let channels = self.channels();
            let wanted = |event: &StoredEvent| channels.iter().any(|c| c.matches(event.topic, event.entity_id));
            for delivery in waiting.iter().filter(|(event, _)| wanted(event)) {
                if !self.send_replayed(delivery).await {
                    return;
                }
            }
        }
    }

    /// Queues a control frame, waiting for room.
    pub async fn send_frame(&self, frame: Utf8Bytes) {
        let _ = self.queue.send(Outbound::Frame(frame)).await;
    }

    /// Asks the writer to close the connection; the first request wins.
    pub fn request_close(&self, code: u16, reason: &'static str) {
        let mut request = lock(&self.close_request);
        if request.is_none() {
            *request = Some((code, reason));
            self.closing.store(true, Ordering::Release);
            self.close_waker.wake();
        }
    }

    /// Resolves when a close was requested, with its code and reason. Only the
    /// session's writer may wait for it (there is one waker).
    pub async fn close_requested(&self) -> (u16, &'static str) {
        std::future::poll_fn(|cx| {
            if !self.closing.load(Ordering::Acquire) {
                self.close_waker.register(cx.waker());
                // A request made before the registration did not wake us: look again.
                if !self.closing.load(Ordering::Acquire) {
                    return Poll::Pending;
                }
            }
            Poll::Ready(lock(&self.close_request).unwrap_or((1011, "closing")))
        })
        .await
    }

    pub fn channels(&self) -> Vec<Channel> {
        lock(&self.channels).iter().copied().collect()
    }

    /// How many channels the session would subscribe to after adding `channels`.
    pub(super) fn channel_count_with(&self, channels: &[Channel]) -> usize {
        let current = lock(&self.channels);
        let new: HashSet<&Channel> = channels.iter().filter(|c| !current.contains(c)).collect();
        current.len() + new.len()
    }

    /// Records channels as subscribed; returns those that were not already.
    pub(super) fn add_channels(&self, channels: &[Channel]) -> Vec<Channel> {
        let mut current = lock(&self.channels);
        channels.iter().copied().filter(|c| current.insert(*c)).collect()
    }

    pub(super) fn remove_channels(&self, channels: &[Channel]) -> Vec<Channel> {
        let mut current = lock(&self.channels);
        channels.iter().copied().filter(|c| current.remove(c)).collect()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{auth::Role, events::Topic};
    use chrono::Utc;

    fn session(capacity: usize) -> (SessionHandle, mpsc::Receiver<Outbound>) {
        let (tx, rx) = mpsc::channel(capacity);
        let user = CurrentUser { id: 2, username: "ann".into(), role: Role::AdminLimited };
        (SessionHandle::new(1, user, tx, capacity), rx)
    }

    fn event(id: i64, audience: Vec<i64>) -> Arc<StoredEvent> {
        StoredEvent::new(id, Topic::Tasks, 7, "task.created".into(), "{}".into(), audience, Utc::now())
    }

    #[test]
    fn events_outside_the_audience_are_not_queued() {
        let (session, mut rx) = session(4);
        session.offer(&event(1, vec![3]), ChannelForm::Collection);
        session.offer(&event(2, vec![2]), ChannelForm::Collection);
        match rx.try_recv().unwrap() {
            Outbound::Event(frame) => assert!(frame.as_str().contains(r#""id":2"#)),
            other => panic!("unexpected {other:?}"),
        }
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn a_full_queue_requests_close_4408() {
        let (session, _rx) = session(2);
        for id in 1..=3 {
            session.offer(&event(id, vec![2]), ChannelForm::Collection);
        }
        assert_eq!(lock(&session.close_request).map(|(code, _)| code), Some(4408));
    }

    fn ids(rx: &mut mpsc::Receiver<Outbound>) -> Vec<i64> {
        std::iter::from_fn(|| rx.try_recv().ok())
            .map(|item| match item {
                Outbound::Event(frame) => {
                    serde_json::from_str::<serde_json::Value>(frame.as_str()).unwrap()["id"].as_i64().unwrap()
                }
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    #[tokio::test]
    async fn events_held_for_a_rolled_back_subscription_are_dropped() {
        let (session, mut rx) = session(8);
        session.hold_live_events();
        session.add_channels(&[Channel::All(Topic::Tasks)]);
        session.offer(&event(5, vec![2]), ChannelForm::Collection);
        session.remove_channels(&[Channel::All(Topic::Tasks)]);
        session.resume_live_events().await;
        assert!(ids(&mut rx).is_empty());
    }

    #[tokio::test]
    async fn held_events_follow_the_replay() {
        let (session, mut rx) = session(8);
        session.hold_live_events();
        session.add_channels(&[Channel::All(Topic::Tasks)]);
        session.offer(&event(5, vec![2]), ChannelForm::Collection);
        assert!(rx.try_recv().is_err(), "held back while replaying");
        assert!(session.send_replayed(&(event(3, vec![2]), ChannelForm::Collection)).await);
        session.resume_live_events().await;
        session.offer(&event(6, vec![2]), ChannelForm::Collection);
        assert_eq!(ids(&mut rx), vec![3, 5, 6]);
    }

    #[tokio::test]
    async fn a_replay_waits_for_room_in_the_queue() {
        let (session, mut rx) = session(2);
        session.hold_live_events();
        for id in 1..=2 {
            assert!(session.send_replayed(&(event(id, vec![2]), ChannelForm::Collection)).await);
        }
        let delivery = (event(3, vec![2]), ChannelForm::Collection);
        let third = session.send_replayed(&delivery);
        tokio::pin!(third);
        assert!(futures_util::poll!(third.as_mut()).is_pending(), "the queue is full");
        assert!(rx.try_recv().is_ok());
        assert!(third.await);
        assert_eq!(ids(&mut rx), vec![2, 3]);
    }
}
