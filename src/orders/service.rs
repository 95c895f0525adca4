//! Creating, dispatching, listing and checking orders. A check runs only under
//! the order's lease, so with several instances exactly one checks an order at a time.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use tracing::{instrument, warn};

use super::{
    model::{CheckResult, Decision, OrderStatus, OrderView, decide},
    provider::{CancelOutcome, DispatchError, OrderRequest},
};
use crate::{
    auth::CurrentUser,
    entity::{order, user},
    error::{AppError, Result},
    events::{NewEvent, Topic, outbox::in_transaction},
    listing::{page_size, split_page, status_filter},
    state::AppState,
};

/// The body of `POST /api/orders`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewOrder {
    #[schema(min_length = 1, max_length = 200)]
    pub product: String,
    #[schema(min_length = 1, max_length = 200)]
    pub package: String,
    #[schema(min_length = 1, max_length = 200)]
    pub user_identifier: String,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub extra_field: Option<String>,
}

fn required(field: &str, value: &str, max: usize) -> Result<String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(AppError::field(field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(AppError::field(field, &format!("must be at most {max} characters long")));
    }
    Ok(value.to_owned())
}

/// Creates an order and dispatches it to the provider at once.
#[instrument(skip(state, input), fields(user = user.id))]
pub async fn create_order(state: &AppState, user: &CurrentUser, input: NewOrder) -> Result<OrderView> {
    let product = required("product", &input.product, 200)?;
    let package = required("package", &input.package, 200)?;
    let user_identifier = required("user_identifier", &input.user_identifier, 200)?;
    let extra_field = input.extra_field.map(|e| e.trim().to_owned()).filter(|e| !e.is_empty());
    if extra_field.as_ref().is_some_and(|e| e.chars().count() > 500) {
        return Err(AppError::field("extra_field", "must be at most 500 characters long"));
    }
    let provider = state.orders.provider()?;
    let created = in_transaction(&state.db, &*state.bus, async |txn| {
        let now = Utc::now();
        within_order_rate(txn, user.id, now, state.config.order_rate_limit).await?;
        // Created leased and due: if this process dies before the dispatch below is
        // recorded, the lease expires and the sweep dispatches the order.
        let lease = chrono::Duration::from_std(state.orders.lease).unwrap_or(chrono::Duration::seconds(60));
        let created = order::ActiveModel {
            next_check_at: Set(Some(now)),
            lease_until: Set(Some(now + lease)),
            lease_owner: Set(Some(state.orders.instance.clone())),
            product: Set(product),
            package: Set(package),
            user_identifier: Set(user_identifier),
            extra_field: Set(extra_field),
            status: Set(OrderStatus::Pending),
            provider: Set(provider.name().to_owned()),
            created_by: Set(user.id),
            created_at: Set(now),
            check_attempts: Set(0),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        let view = view_of(txn, created.clone()).await?;
        Ok((created, vec![order_event("order.created", &view)]))
    })
    .await?;
    dispatch(state, created).await
}

/// Orders are paid calls to the provider: one user may create `limit` a minute,
/// across every instance (counted in the database, under a per-user lock, so
/// simultaneous requests cannot overshoot). Past it: 429 with `Retry-After`.
async fn within_order_rate(txn: &DatabaseTransaction, user_id: i64, now: DateTime<Utc>, limit: u32) -> Result<()> {
    crate::db::serialize_on(txn, &format!("orders:user:{user_id}")).await?;
    let window = chrono::Duration::minutes(1);
    let recent: Vec<DateTime<Utc>> = order::Entity::find()
        .select_only()
        .column(order::Column::CreatedAt)
        .filter(order::Column::CreatedBy.eq(user_id))
        .filter(order::Column::CreatedAt.gt(now - window))
        .order_by_desc(order::Column::CreatedAt)
        .limit(u64::from(limit))
        .into_tuple()
        .all(txn)
        .await?;
    if recent.len() < limit as usize {
        return Ok(());
    }
    // The `limit`-th most recent order leaves the window first among those that count.
    let frees_at = recent[recent.len() - 1] + window;
    let retry_after = (frees_at - now).num_seconds().clamp(0, 60) as u64 + 1;
    Err(AppError::TooMany {
        retry_after,
        message: format!("at most {limit} orders a minute; try again in {retry_after} seconds"),
    })
}

/// Places a pending order with the provider: `sent` with its reference, `failed`
/// if refused, or still `pending` (retried on the backoff schedule) if unreachable.
pub async fn dispatch(state: &AppState, pending: order::Model) -> Result<OrderView> {
    let provider = state.orders.provider()?;
    let request = OrderRequest {
        product: pending.product.clone(),
        package: pending.package.clone(),
        user_identifier: pending.user_identifier.clone(),
        extra_field: pending.extra_field.clone(),
    };
    let outcome = provider.dispatch(&request).await;
    let now = Utc::now();
    let timing = &state.config.order_timing;
    let (decision, reference) = match outcome {
        Ok(reference) => {
            let first = chrono::Duration::from_std(timing.first_check_delay).unwrap_or(chrono::Duration::minutes(1));
            let decision = Decision {
                status: OrderStatus::Sent,
                check_attempts: pending.check_attempts,
                next_check_at: Some(now + first),
                pin_code: None,
                failure_reason: None,
            };
            (decision, Some(reference))
        }
        Err(DispatchError::Refused(reason)) => {
            let decision = Decision {
                status: OrderStatus::Failed,
                check_attempts: pending.check_attempts,
                next_check_at: None,
                pin_code: None,
                failure_reason: Some(reason),
            };
            (decision, None)
        }
        Err(DispatchError::Unreachable(error)) => {
            warn!(order = pending.id, %error, "dispatching an order failed; will retry");
            let current = OrderStatus::Pending;
            (
                decide(
                    current,
                    pending.check_attempts,
                    pending.created_at,
                    now,
                    CheckResult::Unreachable(error),
                    timing,
                ),
                None,
            )
        }
    };
    record(state, &pending, decision, reference, now).await
}

/// Writes a check's (or dispatch's) outcome, releases the lease, announces it,
/// and schedules the next check.
async fn record(
    state: &AppState,
    before: &order::Model,
    decision: Decision,
    reference: Option<String>,
    now: DateTime<Utc>,
) -> Result<OrderView> {
    let view = in_transaction(&state.db, &*state.bus, async |txn| {
        let mut update = order::Entity::update_many()
            .col_expr(order::Column::Status, Expr::value(decision.status))
            .col_expr(order::Column::CheckAttempts, Expr::value(decision.check_attempts))
            .col_expr(order::Column::NextCheckAt, Expr::value(decision.next_check_at))
            .col_expr(order::Column::FailureReason, Expr::value(decision.failure_reason.clone()))
            .col_expr(order::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(order::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(order::Column::UpdatedAt, Expr::value(now));
        if let Some(reference) = &reference {
            update = update
                .col_expr(order::Column::ProviderRef, Expr::value(reference.clone()))
                .col_expr(order::Column::SentAt, Expr::value(now));
        } else if before.provider_ref.is_some() {
            update = update.col_expr(order::Column::LastSyncAt, Expr::value(now));
        }
        if decision.status == OrderStatus::Completed {
            update = update
                .col_expr(order::Column::PinCode, Expr::value(decision.pin_code.clone()))
                .col_expr(order::Column::CompletedAt, Expr::value(now));
        }
        // Only the lease holder records: a check that outlived its lease lost the order to another instance.
        let written = update
            .filter(order::Column::Id.eq(before.id))
            .filter(order::Column::Status.is_in(OrderStatus::ACTIVE))
            .filter(order::Column::LeaseOwner.eq(state.orders.instance.clone()))
            .exec(txn)
            .await?;
        let current = find_order(txn, before.id).await?;
        let view = view_of(txn, current).await?;
        if written.rows_affected == 0 {
            return Ok((view, Vec::new()));
        }
        let kind = match decision.status {
            OrderStatus::Completed => "order.completed",
            OrderStatus::Failed => "order.failed",
            status if status != before.status => "order.status_changed",
            _ => "order.checked",
        };
        let events = vec![order_event(kind, &view)];
        Ok((view, events))
    })
    .await?;
    if let Some(at) = view.next_check_at
        && !view.status.is_final()
    {
        state.orders.schedule(state, view.id, at);
    }
    Ok(view)
}

/// Checks an order under its lease. `force` checks now even if the order is not
/// due yet (ADMIN "check now"). `None` when another instance holds the lease or
/// the order is not due or already final.
pub async fn check_order(state: &AppState, order_id: i64, force: bool) -> Result<Option<OrderView>> {
    if !claim(state, order_id, force).await? {
        return Ok(None);
    }
    let claimed = find_order(&state.db, order_id).await?;
    let Some(reference) = claimed.provider_ref.clone() else {
        return dispatch(state, claimed).await.map(Some);
    };
    let result = state.orders.provider()?.check(&reference).await;
    let now = Utc::now();
    let current = claimed.status;
    let sent_at = claimed.sent_at.unwrap_or(claimed.created_at);
    let decision = decide(current, claimed.check_attempts, sent_at, now, result, &state.config.order_timing);
    record(state, &claimed, decision, None, now).await.map(Some)
}

/// Takes the order's lease if it is active, due (unless forced) and not leased by anyone else.
async fn claim(state: &AppState, order_id: i64, force: bool) -> Result<bool> {
    let now = Utc::now();
    let lease = chrono::Duration::from_std(state.orders.lease).unwrap_or(chrono::Duration::seconds(60));
    let mut update = order::Entity::update_many()
        .col_expr(order::Column::LeaseUntil, Expr::value(now + lease))
        .col_expr(order::Column::LeaseOwner, Expr::value(state.orders.instance.clone()))
        .filter(order::Column::Id.eq(order_id))
        .filter(order::Column::Status.is_in(OrderStatus::ACTIVE))
        .filter(Condition::any().add(order::Column::LeaseUntil.is_null()).add(order::Column::LeaseUntil.lt(now)));
    if !force {
        update = update.filter(order::Column::NextCheckAt.lte(now));
    }
    Ok(update.exec(&state.db).await?.rows_affected == 1)
}

/// Ids of active orders whose check is due and not leased, oldest due first.
pub async fn due_orders(db: &impl ConnectionTrait, limit: u64) -> Result<Vec<i64>> {
    let now = Utc::now();
    Ok(order::Entity::find()
        .select_only()
        .column(order::Column::Id)
        .filter(order::Column::Status.is_in(OrderStatus::ACTIVE))
        .filter(order::Column::NextCheckAt.lte(now))
        .filter(Condition::any().add(order::Column::LeaseUntil.is_null()).add(order::Column::LeaseUntil.lt(now)))
        .order_by_asc(order::Column::NextCheckAt)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?)
}

/// Active orders with a future check, for timers after a restart.
pub async fn scheduled_orders(db: &impl ConnectionTrait, limit: u64) -> Result<Vec<(i64, DateTime<Utc>)>> {
    Ok(order::Entity::find()
        .select_only()
        .column(order::Column::Id)
        .column(order::Column::NextCheckAt)
        .filter(order::Column::Status.is_in(OrderStatus::ACTIVE))
        .filter(order::Column::NextCheckAt.is_not_null())
        .order_by_asc(order::Column::NextCheckAt)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?)
}

/// The order if the user may see it: ADMINs all, others their own; 404 alike otherwise.
pub async fn find_visible(db: &impl ConnectionTrait, user: &CurrentUser, order_id: i64) -> Result<order::Model> {
    order::Entity::find_by_id(order_id)
        .one(db)
        .await?
        .filter(|o| user.is_admin() || o.created_by == user.id)
        .ok_or_else(|| AppError::NotFound(format!("order {order_id} does not exist")))
}

async fn find_order(db: &impl ConnectionTrait, order_id: i64) -> Result<order::Model> {
    order::Entity::find_by_id(order_id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("order {order_id} does not exist")))
}

/// One visible order.
pub async fn get_order(state: &AppState, user: &CurrentUser, order_id: i64) -> Result<OrderView> {
    let order = find_visible(&state.db, user, order_id).await?;
    view_of(&state.db, order).await
}

/// ADMIN "check now": checks at once, whatever the schedule.
pub async fn check_now(state: &AppState, order_id: i64) -> Result<OrderView> {
    let order = find_order(&state.db, order_id).await?;
    if order.status.is_final() {
        return Err(AppError::InvalidState(format!(
            "order {order_id} is {} and is not checked any more",
            order.status
        )));
    }
    match check_order(state, order_id, true).await? {
        Some(view) => Ok(view),
        None => Err(AppError::Conflict(format!("order {order_id} is being checked right now; try again in a moment"))),
    }
}

/// `POST /api/orders/{id}/cancel` (the owner or an ADMIN): asks the provider to
/// cancel, then stops the order here — `cancelled`, never checked again. A
/// provider that cannot cancel remotely (404/405) still gets the order stopped
/// here, and `failure_reason` says so. 409 once the order is final.
#[instrument(skip(state), fields(user = user.id))]
pub async fn cancel_order(state: &AppState, user: &CurrentUser, order_id: i64) -> Result<OrderView> {
    let order = find_visible(&state.db, user, order_id).await?;
    let final_already = |status: OrderStatus| {
        AppError::InvalidState(format!("order {order_id} is {status} and can no longer be cancelled"))
    };
    if order.status.is_final() {
        return Err(final_already(order.status));
    }
    let reason = match &order.provider_ref {
        None => format!("cancelled by {} before the provider accepted it", user.username),
        Some(reference) => match state.orders.provider()?.cancel(reference).await {
            CancelOutcome::Cancelled => format!("cancelled by {}", user.username),
            CancelOutcome::NotSupported => format!(
                "cancelled by {}; the provider cannot cancel orders remotely, so it was only stopped here",
                user.username
            ),
            CancelOutcome::Refused(message) => {
                return Err(AppError::InvalidState(format!(
                    "the provider refused to cancel order {order_id}: {message}"
                )));
            }
            CancelOutcome::Unreachable(error) => {
                return Err(AppError::Unavailable(format!(
                    "the provider could not be asked to cancel order {order_id} ({error}); try again"
                )));
            }
        },
    };
    in_transaction(&state.db, &*state.bus, async |txn| {
        let now = Utc::now();
        let cancelled = order::Entity::update_many()
            .col_expr(order::Column::Status, Expr::value(OrderStatus::Cancelled))
            .col_expr(order::Column::NextCheckAt, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(order::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(order::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(order::Column::FailureReason, Expr::value(reason.clone()))
            .col_expr(order::Column::UpdatedAt, Expr::value(now))
            .filter(order::Column::Id.eq(order_id))
            .filter(order::Column::Status.is_in(OrderStatus::ACTIVE))
            .exec(txn)
            .await?;
        let current = find_order(txn, order_id).await?;
        if cancelled.rows_affected == 0 {
            // A check finished it meanwhile.
            return Err(final_already(current.status));
        }
        let view = view_of(txn, current).await?;
        let events = vec![order_event("order.cancelled", &view)];
        Ok((view, events))
    })
    .await
}

/// Query of `GET /api/orders`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderFilter {
    pub status: Option<String>,
    /// The provider's reference, exactly (indexed): finds the order a provider asks about.
    pub provider_ref: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    pub before: Option<i64>,
}

/// A page of orders, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderPage {
    pub items: Vec<OrderView>,
    pub next_before: Option<i64>,
}

/// The orders the user may see, newest first.
pub async fn list_orders(state: &AppState, user: &CurrentUser, filter: OrderFilter) -> Result<OrderPage> {
    let limit = page_size(filter.limit)?;
    let mut query = order::Entity::find();
    if let Some(statuses) = status_filter::<OrderStatus>(filter.status.as_deref())? {
        query = query.filter(order::Column::Status.is_in(statuses));
    }
    if !user.is_admin() {
        query = query.filter(order::Column::CreatedBy.eq(user.id));
    }
    if let Some(reference) = filter.provider_ref.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        query = query.filter(order::Column::ProviderRef.eq(reference));
    }
    if let Some(before) = filter.before {
        query = query.filter(order::Column::Id.lt(before));
    }
    let rows = query.order_by_desc(order::Column::Id).limit(limit + 1).all(&state.db).await?;
    let (orders, next_before) = split_page(rows, limit, |o| o.id);
    let names = user_names(&state.db, orders.iter().map(|o| o.created_by).collect()).await?;
    let items = orders
        .into_iter()
        .map(|o| {
            let name = names.get(&o.created_by).cloned();
            OrderView::new(o, name)
        })
        .collect();
    Ok(OrderPage { items, next_before })
}

async fn user_names(db: &impl ConnectionTrait, mut ids: Vec<i64>) -> Result<HashMap<i64, String>> {
    ids.sort_unstable();
    ids.dedup();
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.username))
        .collect())
}

async fn view_of(db: &impl ConnectionTrait, order: order::Model) -> Result<OrderView> {
    let name = user::Entity::find_by_id(order.created_by).one(db).await?.map(|u| u.username);
    Ok(OrderView::new(order, name))
}

/// An order event, for the owner and ADMINs only — they alone may see the PIN it carries.
fn order_event(kind: &'static str, view: &OrderView) -> NewEvent {
    NewEvent::of(Topic::Orders, view.id, kind, view, vec![view.created_by])
}
