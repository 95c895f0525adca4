//! Running the hub's dispatcher on a thread of its own, in the runtime's context.
//!
//! A fan-out wakes thousands of session tasks at once, and tokio's run queues
//! are first come, first served: a task woken a moment later waits until all of
//! them have run. The dispatcher is woken once per event; on a thread of its
//! own the wake reaches it directly, whatever the runtimes' queues hold; its
//! timers, sockets and the tasks it spawns still belong to the runtime. (Since
//! sessions run on threads of their own, `hub::SessionThreads`, the main
//! runtime's queues no longer hold them, and a dispatcher task measured the
//! same; the thread stays, since it costs nothing and keeps the dispatcher out
//! of any queue.)

/// Runs `work` on a new thread named `name`, in the current runtime's context,
/// until it finishes or the runtime shuts down.
pub fn spawn<F>(name: &str, work: F) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let runtime = tokio::runtime::Handle::current();
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || runtime.block_on(until_shutdown(&runtime, work)))?;
    Ok(())
}

/// Runs `work` until it finishes or the runtime shuts down: its timers and
/// sockets cannot be polled after that, so it is dropped instead. (A task of
/// the runtime holds `alive`; a shutdown drops the tasks before it stops the
/// timers, so `stopped` resolves before any timer could be polled.)
async fn until_shutdown<F: Future<Output = ()>>(runtime: &tokio::runtime::Handle, work: F) {
    let (alive, stopped) = tokio::sync::oneshot::channel::<()>();
    runtime.spawn(async move {
        let _alive = alive;
        std::future::pending::<()>().await
    });
    tokio::select! {
        biased;
        _ = stopped => {}
        () = work => {}
    }
}
#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::spawn;

    #[tokio::test]
    async fn the_work_runs_on_its_thread_and_spawns_into_the_runtime() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        spawn("own-thread-test", async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            let spawned = tokio::spawn(async { std::thread::current().name().map(str::to_owned) });
            let _ = tx.send((std::thread::current().name().map(str::to_owned), spawned.await.unwrap()));
        })
        .unwrap();
        let (ran_on, spawned_on) =
            tokio::time::timeout(Duration::from_secs(5), rx).await.expect("the work ran").unwrap();
        assert_eq!(ran_on.as_deref(), Some("own-thread-test"));
        assert_eq!(spawned_on, std::thread::current().name().map(str::to_owned), "spawned into the test's runtime");
    }

    #[test]
    fn work_with_a_timer_is_dropped_quietly_when_the_runtime_shuts_down() {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let (dropped_tx, dropped) = std::sync::mpsc::channel::<bool>();
        runtime.block_on(async {
            spawn("own-thread-test", async move {
                let _report = DropSignal(dropped_tx);
                let mut tick = tokio::time::interval(Duration::from_millis(1));
                loop {
                    tick.tick().await;
                }
            })
            .unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        });
        drop(runtime);
        // Polling the timer after the shutdown would panic, and the work would be dropped unwinding.
        let panicking = dropped.recv_timeout(Duration::from_secs(5)).expect("the work was dropped");
        assert!(!panicking, "the work was dropped by a panic, not at the shutdown");
    }

    /// Says, when dropped, whether the thread was unwinding.
    struct DropSignal(std::sync::mpsc::Sender<bool>);

    impl Drop for DropSignal {
        fn drop(&mut self) {
            let _ = self.0.send(std::thread::panicking());
        }
    }
}
