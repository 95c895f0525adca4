//! Task operations: each runs in one transaction and writes its events there.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use tracing::instrument;

use super::{
    create_batch::PendingTask,
    history,
    model::{TaskAction, TaskStatus, audience, can_complete_subtasks, can_view, check_transition},
    view::{TaskView, build_view, build_views},
};
use crate::{
    auth::CurrentUser,
    entity::{
        subtask::{self, SubtaskStatus},
        task,
        task_activity::TaskActivityKind,
    },
    error::{AppError, Result},
    events::{NewEvent, Topic, outbox::in_transaction},
    listing::{contains_ignoring_case, page_size, split_page, status_filter},
    state::AppState,
    workflows,
};

const MAX_TITLE: usize = 200;
const MAX_DESCRIPTION: usize = 5000;
const MAX_REASON: usize = 1000;

/// The body of `POST /api/tasks`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewTask {
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    #[serde(default)]
    #[schema(max_length = 5000)]
    pub description: Option<String>,
    /// The key of a workflow template.
    #[schema(example = "vehicle_registration")]
    pub workflow: String,
    #[serde(default)]
    pub assignee: Option<i64>,
}

/// Creates a task in `pending_approval`; every ADMIN and the task's people see it at once.
#[instrument(skip(state, input), fields(user = user.id))]
pub async fn create_task(state: &AppState, user: &CurrentUser, input: NewTask) -> Result<TaskView> {
    let title = input.title.trim().to_owned();
    if title.is_empty() {
        return Err(AppError::field("title", "must not be empty"));
    }
    if title.chars().count() > MAX_TITLE {
        return Err(AppError::field("title", "must be at most 200 characters long"));
    }
    let description = input.description.unwrap_or_default().trim().to_owned();
    if description.chars().count() > MAX_DESCRIPTION {
        return Err(AppError::field("description", "must be at most 5000 characters long"));
    }
    let workflow = input.workflow.trim();
    if workflow.is_empty() {
        return Err(AppError::field("workflow", "must not be empty"));
    }
    // The rest (the workflow is active, the assignee exists) is checked in the
    // transaction that writes the task, shared with other creates waiting.
    let pending = PendingTask {
        title,
        description,
        workflow: workflow.to_owned(),
        creator: user.id,
        creator_name: user.username.clone(),
        assignee: input.assignee.unwrap_or(user.id),
    };
    state.task_creates.write(pending).await
}

/// Query of `GET /api/tasks`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskFilter {
    /// One status or several, comma-separated.
    pub status: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    /// Only tasks with an id below this (the previous page's `next_before`).
    pub before: Option<i64>,
    /// Only tasks whose title contains this, ignoring case (at most 200 characters).
    pub q: Option<String>,
    /// Only tasks of this workflow template (its key).
    pub workflow: Option<String>,
    /// Only tasks assigned to this user id.
    pub assignee: Option<i64>,
}

/// A page of tasks, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TaskPage {
    pub items: Vec<TaskView>,
    pub next_before: Option<i64>,
}

/// The tasks the user may see, newest first, a page at a time.
pub async fn list_tasks(db: &DatabaseConnection, user: &CurrentUser, filter: TaskFilter) -> Result<TaskPage> {
    let limit = page_size(filter.limit)?;
    let mut query = task::Entity::find();
    if let Some(statuses) = status_filter::<TaskStatus>(filter.status.as_deref())? {
        query = query.filter(task::Column::Status.is_in(statuses));
    }
    if let Some(before) = filter.before {
        query = query.filter(task::Column::Id.lt(before));
    }
    if let Some(search) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        if search.chars().count() > MAX_TITLE {
            return Err(AppError::field("q", "must be at most 200 characters long"));
        }
        query = query.filter(Expr::col(task::Column::SearchKey).like(contains_ignoring_case(search)));
    }
    if let Some(workflow) = filter.workflow.as_deref().map(str::trim).filter(|w| !w.is_empty()) {
        query = query.filter(task::Column::Workflow.eq(workflow));
    }
    if let Some(assignee) = filter.assignee {
        query = query.filter(task::Column::Assignee.eq(assignee));
    }
    if !user.is_admin() {
        query = query
            .filter(Condition::any().add(task::Column::CreatedBy.eq(user.id)).add(task::Column::Assignee.eq(user.id)));
    }
    let rows = query.order_by_desc(task::Column::Id).limit(limit + 1).all(db).await?;
    let (tasks, next_before) = split_page(rows, limit, |t| t.id);
    Ok(TaskPage { items: build_views(db, tasks).await?, next_before })
}

/// The task if the user may see it; 404 alike for missing and invisible tasks.
pub async fn find_visible(db: &impl ConnectionTrait, user: &CurrentUser, task_id: i64) -> Result<task::Model> {
    task::Entity::find_by_id(task_id)
        .one(db)
        .await?
        .filter(|t| can_view(user, t.created_by, t.assignee))
        .ok_or_else(|| AppError::NotFound(format!("task {task_id} does not exist")))
}

/// One visible task with its subtasks.
pub async fn get_task(db: &DatabaseConnection, user: &CurrentUser, task_id: i64) -> Result<TaskView> {
    let task = find_visible(db, user, task_id).await?;
    build_view(db, task).await
}

/// Approves a pending task and generates its subtasks, in one transaction.
/// Of two ADMINs approving at once, the conditional update lets exactly one win.
#[instrument(skip(state), fields(user = user.id))]
pub async fn approve_task(state: &AppState, user: &CurrentUser, task_id: i64) -> Result<TaskView> {
    user.require_admin()?;
    in_transaction(&state.db, &*state.bus, async |txn| {
        let task = decide(txn, user, task_id, TaskAction::Approve, None).await?;
        let workflow = workflows::service::find(txn, &task.workflow).await?.ok_or_else(|| {
            AppError::InvalidState(format!("the workflow {:?} of task {task_id} no longer exists", task.workflow))
        })?;
        let subtasks = workflow.subtasks.iter().enumerate().map(|(position, title)| subtask::ActiveModel {
            task_id: Set(task_id),
            position: Set(position as i32 + 1),
            title: Set(title.clone()),
            status: Set(SubtaskStatus::Open),
            ..Default::default()
        });
        subtask::Entity::insert_many(subtasks).exec_without_returning(txn).await?;
        let view = build_view(txn, task).await?;
        let events = vec![task_event("task.approved", &view)];
        Ok((view, events))
    })
    .await
}

/// Rejects a pending task with a reason.
#[instrument(skip(state, reason), fields(user = user.id))]
pub async fn reject_task(state: &AppState, user: &CurrentUser, task_id: i64, reason: &str) -> Result<TaskView> {
    user.require_admin()?;
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(AppError::field("reason", "must not be empty"));
    }
    if reason.chars().count() > MAX_REASON {
        return Err(AppError::field("reason", "must be at most 1000 characters long"));
    }
    in_transaction(&state.db, &*state.bus, async |txn| {
        let task = decide(txn, user, task_id, TaskAction::Reject, Some(reason)).await?;
        let view = build_view(txn, task).await?;
        let events = vec![task_event("task.rejected", &view)];
        Ok((view, events))
    })
    .await
}

/// Records an ADMIN's decision on a pending task with a conditional update, so of
/// two concurrent decisions exactly one wins and the other gets 409.
async fn decide(
    txn: &DatabaseTransaction,
    user: &CurrentUser,
    task_id: i64,
    action: TaskAction,
    reason: Option<&str>,
) -> Result<task::Model> {
    let now = Utc::now();
    let won = task::Entity::update_many()
        .col_expr(task::Column::Status, Expr::value(action.target_status()))
        .col_expr(task::Column::DecidedBy, Expr::value(user.id))
        .col_expr(task::Column::DecidedAt, Expr::value(now))
        .col_expr(task::Column::RejectReason, Expr::value(reason))
        .col_expr(task::Column::UpdatedAt, Expr::value(now))
        .filter(task::Column::Id.eq(task_id))
        .filter(task::Column::Status.eq(action.required_status()))
        .exec(txn)
        .await?;
    let task = find_visible(txn, user, task_id).await?;
    if won.rows_affected == 0 {
        return Err(transition_error(&task, action));
    }
    let kind = if action == TaskAction::Reject { TaskActivityKind::Rejected } else { TaskActivityKind::Approved };
    history::entry(task_id, kind, Some(user.id), None, reason.map(str::to_owned), now).insert(txn).await?;
    Ok(task)
}

/// Completes one subtask; completing the last open one completes the task in the same transaction.
#[instrument(skip(state), fields(user = user.id))]
pub async fn complete_subtask(state: &AppState, user: &CurrentUser, task_id: i64, subtask_id: i64) -> Result<TaskView> {
    let task = find_visible(&state.db, user, task_id).await?;
    if !can_complete_subtasks(user, task.assignee) {
        return Err(AppError::Forbidden(format!(
            "only the assignee of task {task_id} or an ADMIN may complete its subtasks"
        )));
    }
    in_transaction(&state.db, &*state.bus, async |txn| {
        let now = Utc::now();
        // Touching the task first locks its row, so concurrent completions of the
        // last subtasks serialize and exactly one of them completes the task.
        let locked = task::Entity::update_many()
            .col_expr(task::Column::UpdatedAt, Expr::value(now))
            .filter(task::Column::Id.eq(task_id))
            .filter(task::Column::Status.eq(TaskStatus::Approved))
            .exec(txn)
            .await?;
        if locked.rows_affected == 0 {
            let current = find_visible(txn, user, task_id).await?;
            return Err(transition_error(&current, TaskAction::CompleteSubtask));
        }
        let done = subtask::Entity::update_many()
            .col_expr(subtask::Column::Status, Expr::value(SubtaskStatus::Done))
            .col_expr(subtask::Column::CompletedBy, Expr::value(user.id))
            .col_expr(subtask::Column::CompletedAt, Expr::value(now))
            .filter(subtask::Column::Id.eq(subtask_id))
            .filter(subtask::Column::TaskId.eq(task_id))
            .filter(subtask::Column::Status.eq(SubtaskStatus::Open))
            .exec(txn)
            .await?;
        if done.rows_affected == 0 {
            let exists = subtask::Entity::find_by_id(subtask_id).one(txn).await?.is_some_and(|s| s.task_id == task_id);
            return Err(if exists {
                AppError::InvalidState(format!("subtask {subtask_id} is already done"))
            } else {
                AppError::NotFound(format!("task {task_id} has no subtask {subtask_id}"))
            });
        }
        history::entry(task_id, TaskActivityKind::SubtaskCompleted, Some(user.id), Some(subtask_id), None, now)
            .insert(txn)
            .await?;
        let open = subtask::Entity::find()
            .filter(subtask::Column::TaskId.eq(task_id))
            .filter(subtask::Column::Status.eq(SubtaskStatus::Open))
            .count(txn)
            .await?;
        let finished = open == 0;
        if finished {
            task::Entity::update_many()
                .col_expr(task::Column::Status, Expr::value(TaskAction::Complete.target_status()))
                .col_expr(task::Column::CompletedAt, Expr::value(now))
                .filter(task::Column::Id.eq(task_id))
                .exec(txn)
                .await?;
            history::entry(task_id, TaskActivityKind::Completed, None, None, None, now).insert(txn).await?;
        }
        let task = find_visible(txn, user, task_id).await?;
        let view = build_view(txn, task).await?;
        let mut events = vec![task_event("subtask.completed", &view)];
        if finished {
            events.push(task_event("task.completed", &view));
        }
        Ok((view, events))
    })
    .await
}

fn transition_error(task: &task::Model, action: TaskAction) -> AppError {
    check_transition(task.id, task.status, action)
        .err()
        .unwrap_or_else(|| AppError::InvalidState(format!("task {} changed while this request ran; retry", task.id)))
}

pub(super) fn task_event(kind: &'static str, view: &TaskView) -> NewEvent {
    NewEvent::of(Topic::Tasks, view.id, kind, view, audience(view.created_by, view.assignee))
}
