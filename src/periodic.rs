//! The one shape of every background loop: do the work every `period`, skip
//! ticks missed while it ran, and stop at shutdown.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Runs `work` at once and then every `period` until `shutdown`.
pub async fn every<F, Fut>(period: Duration, shutdown: CancellationToken, work: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    run(tokio::time::Instant::now(), period, shutdown, work).await
}

/// Like [`every`], the first run one `period` from now: for work that was just done at start.
pub async fn every_after<F, Fut>(period: Duration, shutdown: CancellationToken, work: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    run(tokio::time::Instant::now() + period, period, shutdown, work).await
}

async fn run<F, Fut>(start: tokio::time::Instant, period: Duration, shutdown: CancellationToken, mut work: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut tick = tokio::time::interval_at(start, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => work().await,
            _ = shutdown.cancelled() => return,
        }
    }
}
