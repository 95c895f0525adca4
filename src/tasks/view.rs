//! Tasks as the API and the events show them, with subtasks and user names.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;

use crate::{
    entity::{
        subtask::{self, SubtaskStatus},
        task::{self, TaskStatus},
        user,
    },
    error::Result,
};

/// A task with its subtasks; the `data` of every task event.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TaskView {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub workflow: String,
    pub status: TaskStatus,
    pub created_by: i64,
    pub created_by_name: Option<String>,
    pub assignee: i64,
    pub assignee_name: Option<String>,
    pub decided_by: Option<i64>,
    pub decided_by_name: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub reject_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub subtasks: Vec<SubtaskView>,
}

/// One subtask of a task.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SubtaskView {
    pub id: i64,
    pub task_id: i64,
    pub position: i32,
    pub title: String,
    pub status: SubtaskStatus,
    pub completed_by: Option<i64>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl From<subtask::Model> for SubtaskView {
    fn from(s: subtask::Model) -> Self {
        SubtaskView {
            id: s.id,
            task_id: s.task_id,
            position: s.position,
            title: s.title,
            status: s.status,
            completed_by: s.completed_by,
            completed_at: s.completed_at,
        }
    }
}

/// Builds views for several tasks with one query for subtasks and one for names.
pub async fn build_views(db: &impl ConnectionTrait, tasks: Vec<task::Model>) -> Result<Vec<TaskView>> {
    if tasks.is_empty() {
        return Ok(Vec::new());
    }
    let task_ids: Vec<i64> = tasks.iter().map(|t| t.id).collect();
    let mut subtasks: HashMap<i64, Vec<SubtaskView>> = HashMap::new();
    for s in subtask::Entity::find()
        .filter(subtask::Column::TaskId.is_in(task_ids))
        .order_by_asc(subtask::Column::Position)
        .all(db)
        .await?
    {
        subtasks.entry(s.task_id).or_default().push(s.into());
    }
    let mut user_ids: Vec<i64> =
        tasks.iter().flat_map(|t| [Some(t.created_by), Some(t.assignee), t.decided_by]).flatten().collect();
    user_ids.sort_unstable();
    user_ids.dedup();
    let names: HashMap<i64, String> = user::Entity::find()
        .filter(user::Column::Id.is_in(user_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.username))
        .collect();
    let name = |id: Option<i64>| id.and_then(|id| names.get(&id).cloned());
    Ok(tasks
        .into_iter()
        .map(|t| {
            let subtasks = subtasks.remove(&t.id).unwrap_or_default();
            assemble(t, &name, subtasks)
        })
        .collect())
}

/// The view of a task just created, from what the creator already knows: it
/// has no subtasks yet and its two names are at hand, so no query is needed.
pub fn new_task_view(task: task::Model, creator_name: &str, assignee_name: &str) -> TaskView {
    let (creator, assignee) = (task.created_by, task.assignee);
    let name = |id: Option<i64>| match id {
        Some(id) if id == creator => Some(creator_name.to_owned()),
        Some(id) if id == assignee => Some(assignee_name.to_owned()),
        _ => None,
    };
    assemble(task, &name, Vec::new())
}

fn assemble(t: task::Model, name: &dyn Fn(Option<i64>) -> Option<String>, subtasks: Vec<SubtaskView>) -> TaskView {
    TaskView {
        created_by_name: name(Some(t.created_by)),
        assignee_name: name(Some(t.assignee)),
        decided_by_name: name(t.decided_by),
        subtasks,
        id: t.id,
        title: t.title,
        description: t.description,
        workflow: t.workflow,
        status: t.status,
        created_by: t.created_by,
        assignee: t.assignee,
        decided_by: t.decided_by,
        decided_at: t.decided_at,
        reject_reason: t.reject_reason,
        created_at: t.created_at,
        updated_at: t.updated_at,
        completed_at: t.completed_at,
    }
}

/// The view of one task.
pub async fn build_view(db: &impl ConnectionTrait, task: task::Model) -> Result<TaskView> {
    let mut views = build_views(db, vec![task]).await?;
    Ok(views.pop().expect("one task in, one view out"))
}
