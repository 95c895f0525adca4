//! Two futures raced, each polled only when its own waker fired.
//!
//! A session's reader and writer share one task. With `tokio::select!` every
//! wake polls both: each event queued for the writer would also poll the
//! reader, and tungstenite zero-fills its whole read buffer (kilobytes) on
//! every read attempt, even one that finds nothing — a memset per delivery per
//! session, and the buffers of thousands of sessions dragged through the cache.
//! Here each side gets its own waker, and only the side that was woken is polled.

use std::{
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
};

use futures_util::task::{ArcWake, AtomicWaker, waker_ref};

/// Resolves when either future does; the other is then dropped by the caller.
pub async fn first_of<A, B>(a: Pin<&mut A>, b: Pin<&mut B>)
where
    A: Future<Output = ()> + ?Sized,
    B: Future<Output = ()> + ?Sized,
{
    FirstOf { a: Side::new(a), b: Side::new(b) }.await
}

struct FirstOf<'a, A: ?Sized, B: ?Sized> {
    a: Side<'a, A>,
    b: Side<'a, B>,
}

/// One of the two futures and the waker it is polled with.
struct Side<'a, F: ?Sized> {
    future: Pin<&'a mut F>,
    woken: Arc<Woken>,
}

/// Set when the side's waker fires; read (and cleared) before it is polled.
struct Woken {
    flag: AtomicBool,
    /// The task that runs both sides.
    task: AtomicWaker,
}

impl ArcWake for Woken {
    fn wake_by_ref(this: &Arc<Self>) {
        this.flag.store(true, Ordering::Release);
        this.task.wake();
    }
}

impl<'a, F: Future<Output = ()> + ?Sized> Side<'a, F> {
    fn new(future: Pin<&'a mut F>) -> Self {
        // Both sides are polled the first time.
        Side { future, woken: Arc::new(Woken { flag: AtomicBool::new(true), task: AtomicWaker::new() }) }
    }

    /// Polls the future if its waker fired since its last poll; `true` once it finished.
    fn poll_if_woken(&mut self, cx: &Context<'_>) -> bool {
        // Registered before the flag is read: a wake in between is seen either way.
        self.woken.task.register(cx.waker());
        if !self.woken.flag.swap(false, Ordering::AcqRel) {
            return false;
        }
        let waker = waker_ref(&self.woken);
        self.future.as_mut().poll(&mut Context::from_waker(&waker)).is_ready()
    }
}

impl<A: Future<Output = ()> + ?Sized, B: Future<Output = ()> + ?Sized> Future for FirstOf<'_, A, B> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.a.poll_if_woken(cx) || this.b.poll_if_woken(cx) { Poll::Ready(()) } else { Poll::Pending }
    }
}

#[cfg(test)]
mod tests {
    use std::{
        pin::pin,
        sync::atomic::{AtomicUsize, Ordering},
    };

    use tokio::sync::{Notify, mpsc};

    use super::first_of;

    /// A future that counts its polls and finishes when `done` is notified.
    async fn counted(polls: &AtomicUsize, done: &Notify) {
        let notified = done.notified();
        let mut notified = pin!(notified);
        std::future::poll_fn(|cx| {
            polls.fetch_add(1, Ordering::SeqCst);
            notified.as_mut().poll(cx)
        })
        .await
    }

    #[tokio::test]
    async fn only_the_woken_side_is_polled() {
        let (tx, mut rx) = mpsc::channel::<u32>(8);
        let (received, reader_polls, reader_done) = (AtomicUsize::new(0), AtomicUsize::new(0), Notify::new());
        let writer = pin!(async {
            while rx.recv().await.is_some() {
                received.fetch_add(1, Ordering::SeqCst);
            }
        });
        let reader = pin!(counted(&reader_polls, &reader_done));
        let race = first_of(writer, reader);
        let mut race = pin!(race);
        assert!(futures_util::poll!(race.as_mut()).is_pending());
        for n in 1..=5 {
            tx.send(n).await.unwrap();
            assert!(futures_util::poll!(race.as_mut()).is_pending());
        }
        assert_eq!(received.load(Ordering::SeqCst), 5, "the writer ran for every message");
        assert_eq!(reader_polls.load(Ordering::SeqCst), 1, "the reader was polled once, at the start");
        reader_done.notify_one();
        assert!(futures_util::poll!(race.as_mut()).is_ready(), "the reader finishing ends the race");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn either_side_finishing_ends_it_across_tasks() {
        let (polls, done) = (AtomicUsize::new(0), std::sync::Arc::new(Notify::new()));
        let (tx, mut rx) = mpsc::channel::<()>(1);
        let writer = pin!(async move {
            rx.recv().await;
        });
        let reader = pin!(counted(&polls, &done));
        // Woken from another task, likely on another thread: the wake must reach this task.
        let sender = tokio::spawn(async move { tx.send(()).await.unwrap() });
        tokio::time::timeout(std::time::Duration::from_secs(5), first_of(writer, reader))
            .await
            .expect("the writer finished, so the race did");
        sender.await.unwrap();
        assert_eq!(polls.load(Ordering::SeqCst), 1, "the reader, never woken, was polled only at the start");
    }
}
