//! Workflow templates as the API shows them, and the rules a key, a name and a subtask list must meet.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{entity::workflow, error::AppError};

/// A template as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Workflow {
    pub key: String,
    pub name: String,
    pub subtasks: Vec<String>,
    /// Whether new tasks may use it. Inactive templates are shown to ADMINs only;
    /// tasks created from one earlier keep it (and still get its subtasks on approval).
    pub active: bool,
    /// The last change to the template: which of two copies is current.
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<workflow::Model> for Workflow {
    type Error = AppError;

    fn try_from(model: workflow::Model) -> Result<Self, AppError> {
        let subtasks = serde_json::from_str(&model.subtasks)
            .map_err(|e| AppError::Internal(format!("workflow {} has malformed subtasks: {e}", model.key)))?;
        Ok(Workflow { key: model.key, name: model.name, subtasks, active: model.active, updated_at: model.updated_at })
    }
}

/// The body of `PUT /api/workflows/{key}`: the whole template. Without `active`
/// a new template is active and an existing one keeps its flag.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowDefinition {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[schema(min_items = 1, max_items = 50)]
    pub subtasks: Vec<String>,
    #[serde(default)]
    pub active: Option<bool>,
}

/// The body of `POST /api/workflows`: a new template under a key not yet taken.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWorkflow {
    #[schema(min_length = 1, max_length = 64, pattern = "^[a-z0-9_-]+$", example = "customer_onboarding")]
    pub key: String,
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[schema(min_items = 1, max_items = 50)]
    pub subtasks: Vec<String>,
    /// Default `true`.
    #[serde(default)]
    pub active: Option<bool>,
}

/// The body of `PATCH /api/workflows/{key}`: only what changes.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowChanges {
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    #[serde(default)]
    #[schema(min_items = 1, max_items = 50)]
    pub subtasks: Option<Vec<String>>,
    #[serde(default)]
    pub active: Option<bool>,
}

/// The most subtasks a template may list.
pub const MAX_SUBTASKS: usize = 50;
/// The longest template name and subtask title, in characters.
pub const MAX_TITLE: usize = 200;
/// The longest key, in characters.
pub const MAX_KEY: usize = 64;

/// A template key: 1–64 characters of `a-z`, `0-9`, `_`, `-`.
pub fn parse_key(key: &str) -> Result<String, AppError> {
    let valid = !key.is_empty()
        && key.len() <= MAX_KEY
        && key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if valid {
        Ok(key.to_owned())
    } else {
        Err(AppError::field("key", "must be 1 to 64 characters of a-z, 0-9, '_' and '-'"))
    }
}

/// A template name: trimmed, 1–200 characters.
pub fn parse_name(name: &str) -> Result<String, AppError> {
    AppError::bounded_text("name", name, MAX_TITLE)
}

/// Subtask titles: 1–50 of them, each trimmed and 1–200 characters; the message names the failing index.
pub fn parse_subtasks(titles: &[String]) -> Result<Vec<String>, AppError> {
    if titles.is_empty() || titles.len() > MAX_SUBTASKS {
        return Err(AppError::field("subtasks", "must list 1 to 50 subtask titles"));
    }
    titles
        .iter()
        .enumerate()
        .map(|(i, title)| AppError::bounded_text(&format!("subtasks[{i}]"), title, MAX_TITLE))
        .collect()
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
        assert!(parse_key(&"k".repeat(65)).is_err());
    }

    #[test]
    fn names_and_subtasks_are_checked() {
        assert_eq!(parse_name("  Onboarding ").unwrap(), "Onboarding");
        assert!(parse_name(" ").is_err());
        assert!(parse_name(&"n".repeat(201)).is_err());
        assert_eq!(parse_subtasks(&[" a ".into()]).unwrap(), ["a"]);
        assert!(parse_subtasks(&[]).is_err());
        assert!(parse_subtasks(&vec!["x".into(); 51]).is_err());
        let message = parse_subtasks(&["a".into(), " ".into()]).unwrap_err().to_string();
        assert!(message.contains("subtasks[1]"), "{message}");
    }
}
