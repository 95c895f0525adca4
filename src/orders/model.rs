//! Order statuses, the check schedule and what each provider answer leads to — no I/O.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::entity::order;

pub use crate::entity::order::OrderStatus;

impl OrderStatus {
    /// Final orders are never checked again.
    pub fn is_final(self) -> bool {
        matches!(self, OrderStatus::Completed | OrderStatus::Failed | OrderStatus::Cancelled)
    }

    /// The statuses the monitor still checks.
    pub const ACTIVE: [OrderStatus; 3] = [OrderStatus::Pending, OrderStatus::Sent, OrderStatus::Processing];
}

/// Every timing of the monitor; all configurable (`ORDER_*`).
#[derive(Debug, Clone)]
pub struct OrderTiming {
    pub first_check_delay: Duration,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub max_checks: i32,
    pub deadline: Duration,
    pub sweep_interval: Duration,
    pub sweep_batch: u64,
}

impl Default for OrderTiming {
    fn default() -> Self {
        OrderTiming {
            first_check_delay: Duration::from_secs(60),
            backoff_base: Duration::from_secs(30),
            backoff_max: Duration::from_secs(600),
            max_checks: 20,
            deadline: Duration::from_secs(24 * 3600),
            sweep_interval: Duration::from_secs(300),
            sweep_batch: 100,
        }
    }
}

impl OrderTiming {
    /// The wait after the `checks_done`-th inconclusive check: base, 2×base, 4×base … capped.
    pub fn backoff(&self, checks_done: i32) -> Duration {
        let exponent = (checks_done.max(1) - 1).min(30) as u32;
        self.backoff_base.saturating_mul(2u32.saturating_pow(exponent)).min(self.backoff_max)
    }
}

/// What the provider said when checked, or why it could not be asked.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckResult {
    Pending,
    Processing,
    Completed {
        pin_code: Option<String>,
    },
    Failed {
        message: Option<String>,
    },
    /// The provider does not know the reference.
    UnknownReference,
    /// Timeout, 5xx, connection refused: counts as an attempt and is retried.
    Unreachable(String),
}

/// The order's state after a check.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub status: OrderStatus,
    pub check_attempts: i32,
    pub next_check_at: Option<DateTime<Utc>>,
    pub pin_code: Option<String>,
    pub failure_reason: Option<String>,
}

/// Applies one check's result: final answers end the order; otherwise it is
/// checked again after the backoff, unless it ran out of checks or time.
pub fn decide(
    current: OrderStatus,
    checks_before: i32,
    sent_at: DateTime<Utc>,
    now: DateTime<Utc>,
    result: CheckResult,
    timing: &OrderTiming,
) -> Decision {
    let checks = checks_before + 1;
    let failed = |reason: String| Decision {
        status: OrderStatus::Failed,
        check_attempts: checks,
        next_check_at: None,
        pin_code: None,
        failure_reason: Some(reason),
    };
    let deadline = sent_at + chrono::Duration::from_std(timing.deadline).unwrap_or(chrono::Duration::days(1));
    let status = match result {
        CheckResult::Completed { pin_code } => {
            return Decision {
                status: OrderStatus::Completed,
                check_attempts: checks,
                next_check_at: None,
                pin_code,
                failure_reason: None,
            };
        }
        CheckResult::Failed { message } => {
            return failed(message.unwrap_or_else(|| "the provider reported the order as failed".into()));
        }
        CheckResult::UnknownReference => return failed("the provider does not know this order's reference".into()),
        CheckResult::Processing => OrderStatus::Processing,
        CheckResult::Pending | CheckResult::Unreachable(_) => current,
    };
    if now >= deadline {
        return failed("timeout".into());
    }
    // The fast backoff runs out after `max_checks`; the order stays watched at the
    // sweep cadence until the deadline, so a late PIN is never lost.
    let wait = if checks >= timing.max_checks { timing.sweep_interval } else { timing.backoff(checks) };
    let wait = chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::minutes(10));
    Decision {
        status,
        check_attempts: checks,
        next_check_at: Some((now + wait).min(deadline)),
        pin_code: None,
        failure_reason: None,
    }
}

/// An order as the API and the events show it; the PIN only to those allowed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OrderView {
    pub id: i64,
    pub product: String,
    pub package: String,
    pub user_identifier: String,
    pub extra_field: Option<String>,
    pub status: OrderStatus,
    pub provider: String,
    pub provider_ref: Option<String>,
    pub pin_code: Option<String>,
    pub created_by: i64,
    pub created_by_name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub check_attempts: i32,
    pub next_check_at: Option<DateTime<Utc>>,
    pub failure_reason: Option<String>,
    /// When anything shown here last changed; pages keep the newest view they saw.
    pub updated_at: DateTime<Utc>,
}

impl OrderView {
    /// The view for someone who may see the PIN (the owner or an ADMIN; nobody else sees the order at all).
    pub fn new(order: order::Model, created_by_name: Option<String>) -> Self {
        OrderView {
            id: order.id,
            product: order.product,
            package: order.package,
            user_identifier: order.user_identifier,
            extra_field: order.extra_field,
            status: order.status,
            provider: order.provider,
            provider_ref: order.provider_ref,
            pin_code: order.pin_code,
            created_by: order.created_by,
            created_by_name,
            created_at: order.created_at,
            sent_at: order.sent_at,
            last_sync_at: order.last_sync_at,
            completed_at: order.completed_at,
            check_attempts: order.check_attempts,
            next_check_at: order.next_check_at,
            failure_reason: order.failure_reason,
            updated_at: order.updated_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing() -> OrderTiming {
        OrderTiming::default()
    }

    #[test]
    fn the_backoff_doubles_from_the_base_and_is_capped() {
        let t = timing();
        let waits: Vec<u64> = (1..=7).map(|n| t.backoff(n).as_secs()).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 600, 600]);
        assert_eq!(t.backoff(40).as_secs(), 600);
    }

    #[test]
    fn a_pending_answer_schedules_the_next_check() {
        let now = Utc::now();
        let d = decide(OrderStatus::Sent, 0, now, now, CheckResult::Pending, &timing());
        assert_eq!((d.status, d.check_attempts), (OrderStatus::Sent, 1));
        assert_eq!(d.next_check_at, Some(now + chrono::Duration::seconds(30)));
        let d = decide(OrderStatus::Sent, 2, now, now, CheckResult::Processing, &timing());
        assert_eq!(d.status, OrderStatus::Processing);
        assert_eq!(d.next_check_at, Some(now + chrono::Duration::seconds(120)));
    }

    #[test]
    fn final_answers_end_the_order() {
        let now = Utc::now();
        let done = decide(
            OrderStatus::Processing,
            3,
            now,
            now,
            CheckResult::Completed { pin_code: Some("1234".into()) },
            &timing(),
        );
        assert_eq!(
            (done.status, done.pin_code.as_deref(), done.next_check_at),
            (OrderStatus::Completed, Some("1234"), None)
        );
        let failed = decide(
            OrderStatus::Sent,
            0,
            now,
            now,
            CheckResult::Failed { message: Some("out of codes".into()) },
            &timing(),
        );
        assert_eq!((failed.status, failed.failure_reason.as_deref()), (OrderStatus::Failed, Some("out of codes")));
        let unknown = decide(OrderStatus::Sent, 0, now, now, CheckResult::UnknownReference, &timing());
        assert_eq!(unknown.status, OrderStatus::Failed);
    }

    #[test]
    fn after_the_fast_checks_the_order_is_watched_at_the_sweep_cadence_until_the_deadline() {
        let now = Utc::now();
        let t = timing();
        let retry = decide(OrderStatus::Sent, 5, now, now, CheckResult::Unreachable("HTTP 503".into()), &t);
        assert_eq!((retry.status, retry.check_attempts), (OrderStatus::Sent, 6));
        assert_eq!(retry.next_check_at, Some(now + chrono::Duration::from_std(t.backoff(6)).unwrap()));
        for (checks_before, result) in [(19, CheckResult::Unreachable("HTTP 503".into())), (40, CheckResult::Pending)] {
            let late = decide(OrderStatus::Sent, checks_before, now, now, result, &t);
            assert_eq!(late.status, OrderStatus::Sent, "still watched after {checks_before} checks");
            assert_eq!(late.next_check_at, Some(now + chrono::Duration::from_std(t.sweep_interval).unwrap()));
        }
        let sent_5h_ago = now - chrono::Duration::hours(5);
        let pin =
            decide(OrderStatus::Sent, 60, sent_5h_ago, now, CheckResult::Completed { pin_code: Some("1".into()) }, &t);
        assert_eq!(pin.status, OrderStatus::Completed, "a PIN at hour 5 still arrives");
    }

    #[test]
    fn the_deadline_fails_the_order_with_timeout_and_bounds_the_schedule() {
        let sent = Utc::now() - chrono::Duration::hours(25);
        let d = decide(OrderStatus::Processing, 3, sent, Utc::now(), CheckResult::Processing, &timing());
        assert_eq!((d.status, d.failure_reason.as_deref()), (OrderStatus::Failed, Some("timeout")));
        let sent = Utc::now() - chrono::Duration::hours(24) + chrono::Duration::seconds(10);
        let now = Utc::now();
        let d = decide(OrderStatus::Sent, 3, sent, now, CheckResult::Pending, &timing());
        assert!(d.next_check_at.unwrap() <= sent + chrono::Duration::hours(24), "never scheduled past the deadline");
    }

    #[test]
    fn statuses_round_trip() {
        assert!(OrderStatus::Completed.is_final() && !OrderStatus::Sent.is_final());
    }
}
