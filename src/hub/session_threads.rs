//! The threads WebSocket sessions run on, apart from everything else.
//!
//! A fan-out wakes thousands of session tasks at once. On the runtime that
//! also serves HTTP, every step of the next write (its request, each database
//! reply, the writer's turn) would queue behind them, first come first served,
//! so the next event would start its fan-out only after the previous one ended.
//! With sessions on threads of their own, a write's steps run on the main
//! runtime's threads while sessions are written, and the operating system
//! shares the cores between the two.
//!
//! Sockets stay registered with the runtime that accepted them (its driver
//! reports their readiness); only the session tasks run here.

use std::{future::Future, io};

use tokio::runtime::{Builder, Runtime};

/// A runtime for session tasks (or none: sessions then run on the runtime
/// that accepted them); shut down (without waiting) when dropped. The
/// hub holds it, and every session holds the hub, so it is dropped when the
/// last session has ended and the server let go of the hub — often by that
/// last session itself, on one of these threads (which `shutdown_background`
/// allows).
pub struct SessionThreads {
    runtime: Option<Runtime>,
}

impl SessionThreads {
    /// Starts `threads` worker threads; with 0, none: sessions share the
    /// accepting runtime (no extra threads, e.g. for a command that serves no
    /// sessions; a large fan-out then holds back the next write).
    pub fn start(threads: usize) -> io::Result<Self> {
        if threads == 0 {
            return Ok(SessionThreads { runtime: None });
        }
        let runtime = Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("taskwire-sessions")
            .enable_all()
            .build()?;
        Ok(SessionThreads { runtime: Some(runtime) })
    }

    /// Runs a session's task on these threads, or on the current runtime when there are none.
    pub fn spawn(&self, session: impl Future<Output = ()> + Send + 'static) {
        match &self.runtime {
            Some(runtime) => drop(runtime.spawn(session)),
            None => drop(tokio::spawn(session)),
        }
    }
}

impl Drop for SessionThreads {
    fn drop(&mut self) {
        // Dropping a runtime waits for its threads, which async code must not do.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{sync::Arc, time::Duration};

    use tokio::sync::oneshot;

    use super::*;

    /// The name of the thread a session spawned on `threads` runs on.
    async fn thread_of_a_session(threads: &SessionThreads) -> Option<String> {
        let (ran_on, named) = oneshot::channel();
        threads.spawn(async move {
            let _ = ran_on.send(std::thread::current().name().map(str::to_owned));
        });
        tokio::time::timeout(Duration::from_secs(5), named).await.unwrap().unwrap()
    }

    #[tokio::test]
    async fn a_session_runs_on_a_session_thread() {
        let threads = SessionThreads::start(1).unwrap();
        assert_eq!(thread_of_a_session(&threads).await.as_deref(), Some("taskwire-sessions"));
    }

    #[tokio::test]
    async fn dropped_by_the_last_session_on_its_own_thread_the_runtime_ends_its_tasks() {
        let threads = Arc::new(SessionThreads::start(1).unwrap());
        // A session that never ends: dropped with the runtime, which drops its sender.
        let (parked, ended) = oneshot::channel::<()>();
        threads.spawn(async move {
            let _parked = parked;
            std::future::pending::<()>().await
        });
        // The last holder lets go inside a session task, on the runtime's own thread.
        let (go, gate) = oneshot::channel::<()>();
        let last_holder = threads.clone();
        threads.spawn(async move {
            let _ = gate.await;
            drop(last_holder);
        });
        drop(threads);
        go.send(()).unwrap();
        let ended = tokio::time::timeout(Duration::from_secs(5), ended).await.expect("the runtime shut down");
        assert!(ended.is_err(), "the parked session was dropped, not completed");
    }

    #[tokio::test]
    async fn without_threads_a_session_runs_on_the_current_runtime() {
        let threads = SessionThreads::start(0).unwrap();
        assert_ne!(thread_of_a_session(&threads).await.as_deref(), Some("taskwire-sessions"));
    }

    #[tokio::test]
    async fn dropped_inside_async_code_it_neither_blocks_nor_panics() {
        let threads = SessionThreads::start(2).unwrap();
        threads.spawn(std::future::pending());
        drop(threads);
    }
}
