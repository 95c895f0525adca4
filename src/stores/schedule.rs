//! Scheduled scrapes: a store with `scrape_every` is scraped by itself. Every
//! instance looks for due stores; the schedule lease in the database (as orders
//! use) lets exactly one of them start each run.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::service::start_scrapes;
use crate::{
    entity::store,
    error::{AppError, Result},
    state::AppState,
};

/// The longest schedule (30 days): longer ones are surely a typo.
pub const MAX_SCRAPE_EVERY: Duration = Duration::from_secs(30 * 86400);

/// How long an instance may take to start a due run before another may.
const LEASE: Duration = Duration::from_secs(60);

/// Due stores looked at per round.
const BATCH: u64 = 100;

/// `scrape_every` as written (`"6h"`, `"30m"`, `"1h 30m"`): at least `min`
/// (`SCRAPE_EVERY_MIN`), at most [`MAX_SCRAPE_EVERY`]; or a 400 naming the field.
pub fn parse_scrape_every(text: &str, min: Duration) -> Result<Duration> {
    let every = crate::config::parse_duration(text.trim())
        .map_err(|_| AppError::field("scrape_every", &format!("{text:?} is not a duration like \"30m\" or \"6h\"")))?;
    if every < min {
        return Err(AppError::field("scrape_every", &format!("must be at least {}", format_every(min))));
    }
    if every > MAX_SCRAPE_EVERY {
        return Err(AppError::field("scrape_every", "must be at most 30d"));
    }
    Ok(Duration::from_secs(every.as_secs().max(1)))
}

/// A schedule as the API shows it: `"6h"`, `"1h 30m"`.
pub fn format_every(every: Duration) -> String {
    humantime::format_duration(Duration::from_secs(every.as_secs().max(1))).to_string()
}

/// Starts every due scheduled scrape this instance wins the lease for.
pub async fn start_due_scrapes(state: &AppState) -> Result<usize> {
    let now = Utc::now();
    let due: Vec<i64> = store::Entity::find()
        .select_only()
        .column(store::Column::Id)
        .filter(store::Column::IsActive.eq(true))
        .filter(store::Column::ScrapeEverySecs.is_not_null())
        .filter(store::Column::NextScrapeAt.lte(now))
        .filter(store::Column::ScheduleLeaseUntil.is_null().or(store::Column::ScheduleLeaseUntil.lt(now)))
        .order_by_asc(store::Column::NextScrapeAt)
        .limit(BATCH)
        .into_tuple()
        .all(&state.db)
        .await?;
    let mut started = 0;
    for store_id in due {
        if start_if_due(state, store_id).await? {
            started += 1;
        }
    }
    Ok(started)
}

/// Claims the store's due run and starts it; false when another instance has it
/// or it is no longer due. The next run is then set from now.
async fn start_if_due(state: &AppState, store_id: i64) -> Result<bool> {
    let now = Utc::now();
    let owner = state.orders.instance.clone();
    let claimed = store::Entity::update_many()
        .col_expr(store::Column::ScheduleLeaseUntil, Expr::value(now + lease()))
        .col_expr(store::Column::ScheduleLeaseOwner, Expr::value(owner.clone()))
        .filter(store::Column::Id.eq(store_id))
        .filter(store::Column::IsActive.eq(true))
        .filter(store::Column::ScrapeEverySecs.is_not_null())
        .filter(store::Column::NextScrapeAt.lte(now))
        .filter(store::Column::ScheduleLeaseUntil.is_null().or(store::Column::ScheduleLeaseUntil.lt(now)))
        .exec(&state.db)
        .await?;
    if claimed.rows_affected == 0 {
        return Ok(false);
    }
    let started = match start_scrapes(state, None, &[store_id]).await {
        Ok(jobs) => {
            info!(store_id, job_id = jobs[0].id, "started a scheduled scrape");
            true
        }
        // A scrape already running (or a store just deactivated) stands for this run.
        Err(err @ (AppError::AlreadyRunning(_) | AppError::InvalidState(_))) => {
            info!(store_id, reason = %err, "skipped a scheduled scrape");
            false
        }
        Err(err) => {
            // Leave the run due: the lease expires and an instance tries again.
            warn!(store_id, error = %err, "could not start a scheduled scrape");
            return Ok(false);
        }
    };
    let Some(current) = store::Entity::find_by_id(store_id).one(&state.db).await? else { return Ok(started) };
    let next = current.scrape_every_secs.map(|secs| Utc::now() + chrono::Duration::seconds(secs));
    store::Entity::update_many()
        .col_expr(store::Column::NextScrapeAt, Expr::value(next))
        .col_expr(store::Column::ScheduleLeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(store::Column::ScheduleLeaseOwner, Expr::value(Option::<String>::None))
        .filter(store::Column::Id.eq(store_id))
        .filter(store::Column::ScheduleLeaseOwner.eq(owner))
        .exec(&state.db)
        .await?;
    Ok(started)
}

fn lease() -> chrono::Duration {
    chrono::Duration::from_std(LEASE).unwrap_or(chrono::Duration::seconds(60))
}

/// Looks for due scheduled scrapes every `SCRAPE_SCHEDULE_INTERVAL` until shutdown.
pub async fn run_scheduler(state: AppState, shutdown: CancellationToken) {
    crate::periodic::every(state.config.scrape_schedule_interval, shutdown, || async {
        if let Err(err) = start_due_scrapes(&state).await {
            warn!(error = %err, "the scrape scheduler could not read due stores");
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn schedules_read_like_durations_within_bounds() {
        assert_eq!(parse_scrape_every("6h", MINUTE).unwrap(), Duration::from_secs(6 * 3600));
        assert_eq!(parse_scrape_every(" 1h 30m ", MINUTE).unwrap(), Duration::from_secs(5400));
        assert_eq!(format_every(Duration::from_secs(5400)), "1h 30m");
        assert_eq!(format_every(Duration::from_secs(6 * 3600)), "6h");
        for bad in ["", "soon", "30s", "31d", "-1h"] {
            assert!(parse_scrape_every(bad, MINUTE).is_err(), "{bad}");
        }
        assert_eq!(parse_scrape_every("1s", Duration::from_secs(1)).unwrap(), Duration::from_secs(1));
    }
}
