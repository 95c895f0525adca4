//! Reading and replacing workflow templates.

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, QueryOrder, sea_query::OnConflict};
use serde::{Deserialize, Serialize};

use crate::{
    entity::workflow,
    error::{AppError, Result},
};

/// A template as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Workflow {
    pub key: String,
    pub name: String,
    pub subtasks: Vec<String>,
}

impl TryFrom<workflow::Model> for Workflow {
    type Error = AppError;

    fn try_from(model: workflow::Model) -> Result<Self> {
        let subtasks = serde_json::from_str(&model.subtasks)
            .map_err(|e| AppError::Internal(format!("workflow {} has malformed subtasks: {e}", model.key)))?;
        Ok(Workflow { key: model.key, name: model.name, subtasks })
    }
}

/// The body of `PUT /api/workflows/{key}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowDefinition {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[schema(min_items = 1, max_items = 50)]
    pub subtasks: Vec<String>,
}

const MAX_SUBTASKS: usize = 50;

/// Every template, by key.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<Workflow>> {
    let models = workflow::Entity::find().order_by_asc(workflow::Column::Key).all(db).await?;
    models.into_iter().map(Workflow::try_from).collect()
}

/// One template, or `None`.
pub async fn find(db: &impl ConnectionTrait, key: &str) -> Result<Option<Workflow>> {
    workflow::Entity::find_by_id(key.to_owned()).one(db).await?.map(Workflow::try_from).transpose()
}

/// Creates or replaces a template after validating it. Tasks already approved keep their subtasks.
pub async fn put(db: &impl ConnectionTrait, key: &str, definition: WorkflowDefinition) -> Result<Workflow> {
    let key = parse_key(key)?;
    let name = definition.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::field("name", "must be 1 to 200 characters long"));
    }
    if definition.subtasks.is_empty() || definition.subtasks.len() > MAX_SUBTASKS {
        return Err(AppError::field("subtasks", "must list 1 to 50 subtask titles"));
    }
    let mut subtasks = Vec::with_capacity(definition.subtasks.len());
    for (i, title) in definition.subtasks.iter().enumerate() {
        let title = title.trim();
        if title.is_empty() || title.chars().count() > 200 {
            return Err(AppError::field(&format!("subtasks[{i}]"), "must be 1 to 200 characters long"));
        }
        subtasks.push(title.to_owned());
    }
    let encoded = serde_json::to_string(&subtasks).map_err(|e| AppError::Internal(e.to_string()))?;
    let model = workflow::ActiveModel {
        key: Set(key.clone()),
        name: Set(name.clone()),
        subtasks: Set(encoded),
        updated_at: Set(Utc::now()),
    };
    workflow::Entity::insert(model)
        .on_conflict(
            OnConflict::column(workflow::Column::Key)
                .update_columns([workflow::Column::Name, workflow::Column::Subtasks, workflow::Column::UpdatedAt])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(Workflow { key, name, subtasks })
}

/// A template key: 1–64 characters of `a-z`, `0-9`, `_`, `-`.
fn parse_key(key: &str) -> Result<String> {
    let valid = !key.is_empty()
        && key.len() <= 64
        && key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if valid {
        Ok(key.to_owned())
    } else {
        Err(AppError::field("key", "must be 1 to 64 characters of a-z, 0-9, '_' and '-'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked() {
        assert!(parse_key("vehicle_registration").is_ok());
        assert!(parse_key("Vehicle").is_err());
        assert!(parse_key("").is_err());
        assert!(parse_key("a b").is_err());
    }
}
