//! The order monitor: a timer per scheduled check on the instance that scheduled
//! it, and a periodic sweep that catches every overdue order (after a restart,
//! or one whose instance died). The lease makes each check happen once.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use futures_util::{StreamExt, stream};
use rand::RngCore;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::{info, warn};

use super::{
    provider::Provider,
    service::{check_order, due_orders, scheduled_orders},
};
use crate::{error::AppError, state::AppState};

/// This instance's side of order monitoring.
pub struct OrderMonitor {
    provider: Option<Arc<dyn Provider>>,
    /// Identifies this instance in order leases.
    pub instance: String,
    /// How long a claimed check may take before another instance may take over.
    pub lease: Duration,
    /// Ends the check timers at shutdown.
    shutdown: CancellationToken,
    /// The check timers, awaited at shutdown.
    timers: TaskTracker,
}

impl OrderMonitor {
    pub fn new(
        provider: Option<Arc<dyn Provider>>,
        lease: Duration,
        shutdown: CancellationToken,
        timers: TaskTracker,
    ) -> Self {
        let mut bytes = [0u8; 8];
        rand::thread_rng().fill_bytes(&mut bytes);
        let instance = bytes.iter().map(|b| format!("{b:02x}")).collect();
        OrderMonitor { provider, instance, lease, shutdown, timers }
    }

    /// The configured provider, or 503 when there is none.
    pub fn provider(&self) -> Result<Arc<dyn Provider>, AppError> {
        self.provider
            .clone()
            .ok_or_else(|| AppError::Unavailable("no order provider is configured (set PROVIDER_URL)".into()))
    }

    /// Checks the order when `at` comes (unless this instance shuts down first).
    pub fn schedule(&self, state: &AppState, order_id: i64, at: DateTime<Utc>) {
        let wait = (at - Utc::now()).to_std().unwrap_or_default();
        let (state, shutdown) = (state.clone(), self.shutdown.clone());
        self.timers.spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.cancelled() => return,
            }
            if let Err(err) = check_order(&state, order_id, false).await {
                warn!(order = order_id, error = %err, "checking an order failed");
            }
        });
    }
}

/// Checks every due order (up to the batch size), a few at a time.
pub async fn sweep(state: &AppState) -> usize {
    let due = match due_orders(&state.db, state.config.order_timing.sweep_batch).await {
        Ok(due) => due,
        Err(err) => {
            warn!(error = %err, "the order sweep could not read due orders");
            return 0;
        }
    };
    let count = due.len();
    stream::iter(due)
        .for_each_concurrent(8, |id| async move {
            if let Err(err) = check_order(state, id, false).await {
                warn!(order = id, error = %err, "checking an order failed");
            }
        })
        .await;
    count
}

/// At start: timers for every scheduled order and a sweep for overdue ones; then a sweep every interval.
pub async fn run_monitor(state: AppState, shutdown: CancellationToken) {
    if state.orders.provider.is_none() {
        return;
    }
    match scheduled_orders(&state.db, 10_000).await {
        Ok(scheduled) => {
            for (id, at) in scheduled {
                state.orders.schedule(&state, id, at);
            }
        }
        Err(err) => warn!(error = %err, "could not read the order schedule"),
    }
    crate::periodic::every(state.config.order_timing.sweep_interval, shutdown, || async {
        let checked = sweep(&state).await;
        if checked > 0 {
            info!(checked, "the order sweep checked overdue orders");
        }
    })
    .await
}
