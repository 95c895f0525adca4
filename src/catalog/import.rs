//! Starting a catalog import (one at a time, across instances) and the import job itself.

use std::path::{Path, PathBuf};

use chrono::Utc;
use sea_orm::{ActiveValue::Set, EntityTrait, sea_query::OnConflict};

use super::{CatalogRow, ParsedCatalog, commerceml::parse_commerceml, csv_file::parse_csv};
use crate::{
    entity::{job, product},
    error::{AppError, Result},
    jobs::{
        JobContext, JobView, Restart,
        runner::JobOutcome,
        service::{NewJob, Runner, active_job, already_running, create_job},
    },
    state::AppState,
};

/// The lock that makes catalog imports exclusive.
pub const IMPORT_LOCK: &str = "catalog_import";

/// The catalog files an import can read: `.csv` and `.xml` files of the catalog directory.
pub async fn catalog_files(dir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    if let Ok(mut entries) = tokio::fs::read_dir(dir).await {
        while let Ok(Some(entry)) = entries.next_entry().await {
            let name = entry.file_name().to_string_lossy().into_owned();
            let lower = name.to_lowercase();
            let is_file = entry.file_type().await.is_ok_and(|t| t.is_file());
            if is_file && (lower.ends_with(".csv") || lower.ends_with(".xml")) && !lower.starts_with("offers") {
                files.push(name);
            }
        }
    }
    files.sort();
    files
}

/// The file to import: the one named (inside the catalog directory only), or by
/// default `import.xml` if present, else the first CSV file.
pub async fn resolve_file(dir: &Path, requested: Option<&str>) -> Result<PathBuf> {
    let available = catalog_files(dir).await;
    let name = match requested.map(str::trim).filter(|f| !f.is_empty()) {
        Some(name) => {
            let plain = !name.contains(['/', '\\']) && name != "." && name != "..";
            if !plain {
                return Err(AppError::field("file", "must be a file name inside the catalog directory"));
            }
            if !available.iter().any(|f| f == name) {
                return Err(AppError::field(
                    "file",
                    &format!("there is no catalog file {name:?}; available: {}", available.join(", ")),
                ));
            }
            name.to_owned()
        }
        None => available
            .iter()
            .find(|f| f.eq_ignore_ascii_case("import.xml"))
            .or_else(|| available.iter().find(|f| f.to_lowercase().ends_with(".csv")))
            .cloned()
            .ok_or_else(|| AppError::field("file", "the catalog directory holds no .csv or import.xml file"))?,
    };
    Ok(dir.join(name))
}

/// Starts an import unless one runs anywhere: then 409 naming the running job and its start.
pub async fn start_import(state: &AppState, created_by: Option<i64>, requested: Option<&str>) -> Result<JobView> {
    let path = resolve_file(&state.config.catalog_dir, requested).await?;
    start_import_of(state, created_by, path).await
}

/// Starts an import of `path` (already resolved) under the cluster-wide import lock.
pub async fn start_import_of(state: &AppState, created_by: Option<i64>, path: PathBuf) -> Result<JobView> {
    let guard = state
        .locks
        .try_acquire(IMPORT_LOCK)
        .await
        .map_err(|e| AppError::Unavailable(format!("the import lock cannot be taken right now: {e}")))?;
    let Some(guard) = guard else {
        return Err(match active_job(&state.db, "catalog_import", None).await? {
            Some(running) => already_running(&running),
            None => AppError::AlreadyRunning("another catalog import is starting right now; try again shortly".into()),
        });
    };
    let file_name = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    let job = create_job(
        state,
        NewJob {
            kind: "catalog_import".into(),
            name: format!("Import {file_name}"),
            scope: None,
            items_total: 0,
            runner: Runner::Server,
            params: Some(serde_json::json!({"file": file_name}).to_string()),
            created_by,
            start_running: false,
            // Besides the lock: an import run by another process without a shared
            // lock backend (the `import-catalog` command) is still seen in the database.
            exclusive: true,
        },
    )
    .await?;
    state.jobs.spawn(state, job.id, Some(guard), move |context| import_catalog(context, path));
    Ok(job)
}

/// Starts a failed or cancelled import of the same file again (`POST /api/jobs/{id}/retry`).
pub struct RetryImport;

#[async_trait::async_trait]
impl Restart for RetryImport {
    async fn restart(&self, state: &AppState, job: &job::Model, created_by: Option<i64>) -> Result<JobView> {
        let file = job
            .params
            .as_deref()
            .and_then(|params| serde_json::from_str::<serde_json::Value>(params).ok())
            .and_then(|params| params["file"].as_str().map(str::to_owned))
            // Without it the retry would import whatever file is the default now.
            .ok_or_else(|| AppError::InvalidState(format!("job {} names no file to import", job.id)))?;
        start_import(state, created_by, Some(&file)).await
    }
}

/// Reads and parses a catalog file (`import.xml` takes `offers.xml` from beside it).
async fn read_catalog(path: PathBuf) -> std::result::Result<ParsedCatalog, String> {
    tokio::task::spawn_blocking(move || {
        let name = path.file_name().map(|f| f.to_string_lossy().to_lowercase()).unwrap_or_default();
        let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if name.ends_with(".xml") {
            let offers = path.with_file_name("offers.xml");
            let offers = std::fs::read_to_string(offers).ok();
            parse_commerceml(&text, offers.as_deref())
        } else {
            parse_csv(&text)
        }
    })
    .await
    .map_err(|e| format!("parsing crashed: {e}"))?
}

/// The `catalog_import` job: upserts every readable product by SKU, reporting as it goes.
pub async fn import_catalog(mut context: JobContext, path: PathBuf) -> JobOutcome {
    let rows = read_catalog(path).await?;
    context.set_total(rows.len() as i64, format!("importing {} products", rows.len())).await?;
    let mut imported = 0;
    for row in rows {
        if context.is_cancelled() {
            return Ok("cancelled".into());
        }
        let outcome = match row {
            Ok(row) => {
                let label = format!("{} ({})", row.sku, row.name);
                let problems = row.problems.join("; ");
                upsert_product(&context.state, row).await.map_err(|e| format!("writing products failed: {e}"))?;
                imported += 1;
                if problems.is_empty() {
                    context.item_done().await
                } else {
                    context.item_failed(&label, &problems).await
                }
            }
            Err(failure) => context.item_failed(&failure.item, &failure.reason).await,
        };
        outcome?;
    }
    let (total, _, failed) = context.counts();
    Ok(format!("imported {imported} of {total} products; {failed} items failed"))
}

async fn upsert_product(state: &AppState, row: CatalogRow) -> Result<()> {
    let model = product::ActiveModel {
        search_key: Set(format!("{} {}", row.name.to_lowercase(), row.sku.to_lowercase())),
        sku: Set(row.sku),
        external_id: Set(row.external_id),
        name: Set(row.name),
        category: Set(row.category),
        price: Set(row.price),
        currency: Set(row.currency),
        stock: Set(row.stock),
        updated_at: Set(Utc::now()),
        ..Default::default()
    };
    product::Entity::insert(model)
        .on_conflict(
            OnConflict::column(product::Column::Sku)
                .update_columns([
                    product::Column::ExternalId,
                    product::Column::Name,
                    product::Column::Category,
                    product::Column::Price,
                    product::Column::Currency,
                    product::Column::Stock,
                    product::Column::SearchKey,
                    product::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(&state.db)
        .await?;
    Ok(())
}
