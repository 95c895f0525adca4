//! Task creates written together: under load, every create waiting for the
//! database shares one transaction, three multi-row statements and one commit
//! (see `events::group_commit`). The workflow and assignee checks run in that
//! transaction (on SQLite, where writes are serialized, no deactivation can slip
//! in between; on PostgreSQL one committed during the batch may not be seen, as
//! with any check-then-insert at its default isolation).

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter};

use super::{
    history,
    model::TaskStatus,
    service::task_event,
    view::{TaskView, new_task_view},
};
use crate::{
    entity::{
        task,
        task_activity::{self, TaskActivityKind},
        user, workflow,
    },
    error::{AppError, Result},
    events::group_commit::{BatchWrite, ItemOutcome},
};

/// A create whose input has been checked on its own; what remains to check needs the database.
#[derive(Debug)]
pub struct PendingTask {
    pub title: String,
    pub description: String,
    pub workflow: String,
    pub creator: i64,
    pub creator_name: String,
    pub assignee: i64,
}

impl BatchWrite for PendingTask {
    type Output = TaskView;

    async fn write_batch(txn: &DatabaseTransaction, items: &[Self]) -> Result<Vec<ItemOutcome<TaskView>>> {
        let workflows = workflow_states(txn, items).await?;
        let assignees = other_assignees(txn, items).await?;
        let checked: Vec<Result<String>> = items.iter().map(|item| check(item, &workflows, &assignees)).collect();
        let now = Utc::now();
        let rows: Vec<task::ActiveModel> = items
            .iter()
            .zip(&checked)
            .filter(|(_, check)| check.is_ok())
            .map(|(item, _)| task::ActiveModel {
                search_key: Set(item.title.to_lowercase()),
                title: Set(item.title.clone()),
                description: Set(item.description.clone()),
                workflow: Set(item.workflow.clone()),
                status: Set(TaskStatus::PendingApproval),
                created_by: Set(item.creator),
                assignee: Set(item.assignee),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            })
            .collect();
        let mut created = if rows.is_empty() {
            Vec::new()
        } else {
            task::Entity::insert_many(rows).exec_with_returning_many(txn).await?
        };
        // Ids are allocated in the order of the rows, so sorted they line up with the accepted items.
        created.sort_unstable_by_key(|task| task.id);
        if !created.is_empty() {
            let entries = created
                .iter()
                .map(|task| history::entry(task.id, TaskActivityKind::Created, Some(task.created_by), None, None, now));
            task_activity::Entity::insert_many(entries).exec_without_returning(txn).await?;
        }
        let mut created = created.into_iter();
        items
            .iter()
            .zip(checked)
            .map(|(item, check)| {
                let assignee_name = match check {
                    Ok(name) => name,
                    Err(refused) => return Ok(Err(refused)),
                };
                let task =
                    created.next().ok_or_else(|| AppError::Internal("fewer tasks written than accepted".into()))?;
                let view = new_task_view(task, &item.creator_name, &assignee_name);
                let events = vec![task_event("task.created", &view)];
                Ok(Ok((view, events)))
            })
            .collect()
    }
}

/// Whether each workflow the items name exists and is active.
async fn workflow_states(txn: &DatabaseTransaction, items: &[PendingTask]) -> Result<HashMap<String, bool>> {
    let keys: HashSet<&str> = items.iter().map(|item| item.workflow.as_str()).collect();
    let found = workflow::Entity::find().filter(workflow::Column::Key.is_in(keys)).all(txn).await?;
    Ok(found.into_iter().map(|w| (w.key, w.active)).collect())
}

/// The users assigned by someone else (a creator assigning themselves is known to be active).
async fn other_assignees(txn: &DatabaseTransaction, items: &[PendingTask]) -> Result<HashMap<i64, user::Model>> {
    let ids: HashSet<i64> = items.iter().filter(|i| i.assignee != i.creator).map(|i| i.assignee).collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let found = user::Entity::find().filter(user::Column::Id.is_in(ids)).all(txn).await?;
    Ok(found.into_iter().map(|u| (u.id, u)).collect())
}

/// The assignee's name, or why the create is refused.
fn check(
    item: &PendingTask,
    workflows: &HashMap<String, bool>,
    assignees: &HashMap<i64, user::Model>,
) -> Result<String> {
    let key = &item.workflow;
    match workflows.get(key) {
        None => return Err(AppError::field("workflow", &format!("there is no workflow named {key:?}"))),
        Some(false) => {
            let problem = format!("the workflow {key:?} is inactive and no longer offered for new tasks");
            return Err(AppError::field("workflow", &problem));
        }
        Some(true) => {}
    }
    if item.assignee == item.creator {
        return Ok(item.creator_name.clone());
    }
    match assignees.get(&item.assignee) {
        Some(other) if other.is_active => Ok(other.username.clone()),
        _ => Err(AppError::field("assignee", &format!("there is no active user with id {}", item.assignee))),
    }
}
