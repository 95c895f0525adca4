//! Reading, creating and changing workflow templates; every change writes its
//! event for the ADMINs' templates pages in the same transaction.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, sea_query::OnConflict,
};
use tracing::instrument;

use super::model::{NewWorkflow, Workflow, WorkflowChanges, WorkflowDefinition, parse_key, parse_name, parse_subtasks};
use crate::{
    auth::CurrentUser,
    entity::workflow,
    error::{AppError, Result, ResultExt},
    events::{NewEvent, Topic, outbox::in_transaction},
    state::AppState,
};

/// The event name of a new template.
pub const WORKFLOW_CREATED: &str = "workflow.created";
/// The event name of a changed template (renamed, subtasks edited, (de)activated).
pub const WORKFLOW_UPDATED: &str = "workflow.updated";

/// The templates `user` may choose from, by key: ADMINs see every one with its
/// flag, everyone else only the active ones.
pub async fn list_for(db: &impl ConnectionTrait, user: &CurrentUser) -> Result<Vec<Workflow>> {
    let mut query = workflow::Entity::find().order_by_asc(workflow::Column::Key);
    if !user.is_admin() {
        query = query.filter(workflow::Column::Active.eq(true));
    }
    query.all(db).await?.into_iter().map(Workflow::try_from).collect()
}

/// One template, active or not, or `None`.
pub async fn find(db: &impl ConnectionTrait, key: &str) -> Result<Option<Workflow>> {
    workflow::Entity::find_by_id(key.to_owned()).one(db).await?.map(Workflow::try_from).transpose()
}

/// `POST /api/workflows`: a new template; a taken key is 409 `conflict`.
#[instrument(skip(state, new), fields(key = %new.key))]
pub async fn create(state: &AppState, new: NewWorkflow) -> Result<Workflow> {
    let key = parse_key(&new.key)?;
    let name = parse_name(&new.name)?;
    let subtasks = parse_subtasks(&new.subtasks)?;
    let active = new.active.unwrap_or(true);
    in_transaction(&state.db, &*state.bus, async |txn| {
        let model = workflow::ActiveModel {
            key: Set(key),
            name: Set(name),
            subtasks: Set(encode(&subtasks)?),
            updated_at: Set(Utc::now()),
            active: Set(active),
        }
        .insert(txn)
        .await
        .on_unique_violation("key")?;
        saved(model, WORKFLOW_CREATED)
    })
    .await
}

/// `PUT /api/workflows/{key}`: creates or replaces a template after validating it.
/// Without `active`, a new template is active and an existing one keeps its flag.
/// Tasks already approved keep their subtasks.
#[instrument(skip(state, definition))]
pub async fn put(state: &AppState, key: &str, definition: WorkflowDefinition) -> Result<Workflow> {
    let key = parse_key(key)?;
    let name = parse_name(&definition.name)?;
    let subtasks = parse_subtasks(&definition.subtasks)?;
    in_transaction(&state.db, &*state.bus, async |txn| {
        let existed = workflow::Entity::find_by_id(key.clone()).one(txn).await?.is_some();
        let mut replaced = vec![workflow::Column::Name, workflow::Column::Subtasks, workflow::Column::UpdatedAt];
        if definition.active.is_some() {
            replaced.push(workflow::Column::Active);
        }
        let model = workflow::ActiveModel {
            key: Set(key.clone()),
            name: Set(name),
            subtasks: Set(encode(&subtasks)?),
            updated_at: Set(Utc::now()),
            active: Set(definition.active.unwrap_or(true)),
        };
        // An upsert, so two PUTs of a new key at once both succeed, as PUT always has.
        workflow::Entity::insert(model)
            .on_conflict(OnConflict::column(workflow::Column::Key).update_columns(replaced).to_owned())
            .exec_without_returning(txn)
            .await?;
        let model = load(txn, &key).await?;
        saved(model, if existed { WORKFLOW_UPDATED } else { WORKFLOW_CREATED })
    })
    .await
}

/// `PATCH /api/workflows/{key}`: renames, replaces the subtask list, or (de)activates.
#[instrument(skip(state, changes))]
pub async fn update(state: &AppState, key: &str, changes: WorkflowChanges) -> Result<Workflow> {
    let key = parse_key(key)?;
    let name = changes.name.as_deref().map(parse_name).transpose()?;
    let subtasks = changes.subtasks.as_deref().map(parse_subtasks).transpose()?;
    in_transaction(&state.db, &*state.bus, async |txn| {
        let mut model: workflow::ActiveModel = load(txn, &key).await?.into();
        if let Some(name) = name {
            model.name = Set(name);
        }
        if let Some(subtasks) = &subtasks {
            model.subtasks = Set(encode(subtasks)?);
        }
        if let Some(active) = changes.active {
            model.active = Set(active);
        }
        model.updated_at = Set(Utc::now());
        saved(model.update(txn).await?, WORKFLOW_UPDATED)
    })
    .await
}

/// The template under `key`, or 404.
async fn load(txn: &DatabaseTransaction, key: &str) -> Result<workflow::Model> {
    workflow::Entity::find_by_id(key.to_owned())
        .one(txn)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no workflow named {key:?}")))
}

/// The saved template and its event on the ADMIN-only `workflows` channel.
fn saved(model: workflow::Model, kind: &'static str) -> Result<(Workflow, Vec<NewEvent>)> {
    let view = Workflow::try_from(model)?;
    // Templates are keyed by name and have no channel of their own: entity 0.
    let event = NewEvent::of(Topic::Workflows, 0, kind, &view, Vec::new());
    Ok((view, vec![event]))
}

fn encode(subtasks: &[String]) -> Result<String> {
    serde_json::to_string(subtasks).map_err(|e| AppError::Internal(e.to_string()))
}
