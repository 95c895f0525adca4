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

/// A runtime for session tasks; shut down (without waiting) when dropped, after
/// the hub closed every session.
pub struct SessionThreads {
    runtime: Option<Runtime>,
}

impl SessionThreads {
    /// Starts `threads` worker threads (at least one).
    pub fn start(threads: usize) -> io::Result<Self> {
        let runtime = Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("taskwire-sessions")
            .enable_all()
            .build()?;
        Ok(SessionThreads { runtime: Some(runtime) })
    }

    /// Runs a session's task on these threads.
    pub fn spawn(&self, session: impl Future<Output = ()> + Send + 'static) {
        if let Some(runtime) = &self.runtime {
            drop(runtime.spawn(session));
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
    use super::*;

    #[tokio::test]
    async fn a_session_runs_on_a_session_thread_and_the_threads_stop_when_dropped() {
        let threads = SessionThreads::start(1).unwrap();
        let (ran_on, named) = tokio::sync::oneshot::channel();
        threads.spawn(async move {
            let _ = ran_on.send(std::thread::current().name().map(str::to_owned));
        });
        let name = tokio::time::timeout(std::time::Duration::from_secs(5), named).await.unwrap().unwrap();
        assert_eq!(name.as_deref(), Some("taskwire-sessions"));
        // Dropped inside async code: must neither block nor panic.
        drop(threads);
    }
}
