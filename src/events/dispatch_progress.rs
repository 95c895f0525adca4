//! How far this instance's hub has dispatched: a write answers once the hub
//! has offered its events to the sessions, so a client that subscribes after
//! the answer never gets that write's event live.
//!
//! One number covers every path an event can take to the sessions (the bus,
//! a gap filled from the outbox, a catch-up after the hub fell behind):
//! dispatch is in id order, so "dispatched through id N" means every event up
//! to N was offered.

use std::{
    sync::{
        Arc,
        atomic::{AtomicI64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::sync::Notify;

/// How long a write's answer waits at most for this instance's hub to dispatch its events.
pub const DISPATCH_WAIT: Duration = Duration::from_millis(250);

/// The highest event id this instance's hub has dispatched, and whether a hub
/// is dispatching at all (without one, writes do not wait).
#[derive(Debug, Default)]
pub struct DispatchProgress {
    last: AtomicI64,
    advanced: Notify,
    /// Guards held: hubs dispatching (one in the server; tests may hold more).
    listeners: AtomicUsize,
}

impl DispatchProgress {
    /// The highest event id dispatched.
    pub fn last(&self) -> i64 {
        self.last.load(Ordering::Acquire)
    }

    /// Records that everything through `id` was dispatched; never moves back.
    pub fn advance(&self, id: i64) {
        if self.last.fetch_max(id, Ordering::AcqRel) < id {
            self.advanced.notify_waiters();
        }
    }

    /// Marks a hub as dispatching until the returned guard is dropped, however
    /// the dispatcher ends (returns, panics, is dropped at shutdown).
    #[must_use = "writes wait only while the guard is held"]
    pub fn listen(self: &Arc<Self>) -> Listening {
        self.listeners.fetch_add(1, Ordering::AcqRel);
        Listening(self.clone())
    }

    /// What a write whose last event is `id` waits for before answering: that
    /// id's dispatch, at most [`DISPATCH_WAIT`]. `None` when there is nothing
    /// to wait for (no event, no hub dispatching, or already dispatched).
    pub fn wait_for(self: &Arc<Self>, id: Option<i64>) -> Option<impl Future<Output = ()> + use<>> {
        let id = id.filter(|&id| self.listeners.load(Ordering::Acquire) > 0 && self.last() < id)?;
        let progress = self.clone();
        Some(async move {
            let _ = tokio::time::timeout(DISPATCH_WAIT, progress.reached(id)).await;
        })
    }

    async fn reached(&self, id: i64) {
        loop {
            let advanced = self.advanced.notified();
            let mut advanced = std::pin::pin!(advanced);
            // Registered before the number is read: an advance in between still wakes us.
            advanced.as_mut().enable();
            if self.last() >= id {
                return;
            }
            advanced.await;
        }
    }
}

/// Held while a hub dispatches; see [`DispatchProgress::listen`].
pub struct Listening(Arc<DispatchProgress>);

impl Drop for Listening {
    fn drop(&mut self) {
        self.0.listeners.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listened() -> (Arc<DispatchProgress>, Listening) {
        let progress = Arc::new(DispatchProgress::default());
        let listening = progress.listen();
        (progress, listening)
    }

    #[tokio::test]
    async fn a_write_waits_until_its_last_event_is_dispatched() {
        let (progress, _listening) = listened();
        let waiting = progress.wait_for(Some(3)).expect("a hub listens");
        tokio::pin!(waiting);
        progress.advance(2);
        assert!(futures_util::poll!(waiting.as_mut()).is_pending(), "not dispatched through 3 yet");
        let started = std::time::Instant::now();
        let advancing = progress.clone();
        tokio::spawn(async move { advancing.advance(5) });
        waiting.await;
        assert!(started.elapsed() < DISPATCH_WAIT / 2, "woken by the dispatch, not by the bound");
    }

    #[tokio::test]
    async fn a_hub_that_never_dispatches_delays_the_answer_by_the_bound_only() {
        let (progress, _listening) = listened();
        let started = std::time::Instant::now();
        let waiting = progress.wait_for(Some(1)).expect("a hub listens");
        tokio::time::timeout(Duration::from_secs(5), waiting).await.expect("the wait is bounded");
        assert!(started.elapsed() >= DISPATCH_WAIT, "it waited for the hub first");
    }

    #[test]
    fn nothing_to_wait_for_without_a_hub_an_event_or_an_undispatched_one() {
        let (progress, listening) = listened();
        progress.advance(4);
        assert!(progress.wait_for(None).is_none(), "a write without events");
        assert!(progress.wait_for(Some(4)).is_none(), "already dispatched");
        assert!(progress.wait_for(Some(5)).is_some());
        let second = progress.listen();
        drop(listening);
        assert!(progress.wait_for(Some(5)).is_some(), "one hub stopped, another still dispatches");
        drop(second);
        assert!(progress.wait_for(Some(5)).is_none(), "no hub dispatches");
    }

    #[test]
    fn progress_never_moves_back() {
        let progress = DispatchProgress::default();
        progress.advance(7);
        progress.advance(3);
        assert_eq!(progress.last(), 7);
    }
}
