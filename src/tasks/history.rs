//! Task history: each change writes who did what in its own transaction, so the
//! history is exactly as durable as the change and outlives the events outbox.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;

use super::service::find_visible;
use crate::{
    auth::CurrentUser,
    entity::{
        subtask,
        task_activity::{self, TaskActivityKind},
        user,
    },
    error::Result,
    state::AppState,
};

/// One entry of `GET /api/tasks/{id}/history`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ActivityView {
    pub id: i64,
    pub kind: TaskActivityKind,
    pub at: DateTime<Utc>,
    /// Who did it (`null` for what the server did itself, e.g. completing the task).
    pub actor: Option<Named>,
    /// The subtask completed, for `subtask_completed`.
    pub subtask: Option<Named>,
    /// The reason given, for `rejected`.
    pub reason: Option<String>,
}

/// An id with the name people know it by.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Named {
    pub id: i64,
    pub name: String,
}

/// One history entry, to write in the change's transaction (alone, or several in one statement).
pub(crate) fn entry(
    task_id: i64,
    kind: TaskActivityKind,
    actor: Option<i64>,
    subtask_id: Option<i64>,
    detail: Option<String>,
    at: DateTime<Utc>,
) -> task_activity::ActiveModel {
    task_activity::ActiveModel {
        task_id: Set(task_id),
        kind: Set(kind),
        actor_id: Set(actor),
        subtask_id: Set(subtask_id),
        detail: Set(detail),
        at: Set(at),
        ..Default::default()
    }
}

/// The whole history of a task the user may see, oldest first; 404 otherwise.
pub async fn task_history(state: &AppState, user: &CurrentUser, task_id: i64) -> Result<Vec<ActivityView>> {
    find_visible(&state.db, user, task_id).await?;
    let rows = task_activity::Entity::find()
        .filter(task_activity::Column::TaskId.eq(task_id))
        .order_by_asc(task_activity::Column::At)
        .order_by_asc(task_activity::Column::Id)
        .all(&state.db)
        .await?;
    let actor_ids: Vec<i64> = rows.iter().filter_map(|r| r.actor_id).collect();
    let users: HashMap<i64, String> = user::Entity::find()
        .filter(user::Column::Id.is_in(actor_ids))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.username))
        .collect();
    let subtasks: HashMap<i64, String> = subtask::Entity::find()
        .filter(subtask::Column::TaskId.eq(task_id))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|s| (s.id, s.title))
        .collect();
    let named = |id: i64, names: &HashMap<i64, String>, fallback: &str| Named {
        id,
        name: names.get(&id).cloned().unwrap_or_else(|| format!("{fallback} #{id}")),
    };
    Ok(rows
        .into_iter()
        .map(|row| ActivityView {
            id: row.id,
            kind: row.kind,
            at: row.at,
            actor: row.actor_id.map(|id| named(id, &users, "user")),
            subtask: row.subtask_id.map(|id| named(id, &subtasks, "subtask")),
            reason: row.detail,
        })
        .collect())
}
