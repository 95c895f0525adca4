//! `/api/workflows`.

use axum::{
    Router,
    extract::{Path, State},
    routing::{get, put},
};

use super::{Workflow, service};
use crate::{
    auth::CurrentUser,
    error::{AppJson, Result},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/workflows", get(list_workflows))
        .route("/api/workflows/{key}", put(put_workflow))
}

async fn list_workflows(
    State(state): State<AppState>,
    _user: CurrentUser,
) -> Result<AppJson<Vec<Workflow>>> {
    Ok(AppJson(service::list(&state.db).await?))
}

async fn put_workflow(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(key): Path<String>,
    AppJson(definition): AppJson<service::WorkflowDefinition>,
) -> Result<AppJson<Workflow>> {
    user.require_admin()?;
    Ok(AppJson(service::put(&state.db, &key, definition).await?))
}
