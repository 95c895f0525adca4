//! Database schema of taskwire, as sea-orm migrations the server runs at start.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_users;
mod m20261123_000002_workflows;
mod m20261123_000003_tasks;
mod m20261123_000004_events;
mod m20261123_000005_jobs_stores_products;
mod m20261123_000006_orders;
mod m20261130_000007_abuse_limits;
mod m20261130_000008_task_activity;
mod m20261130_000009_horizon_and_search;
mod m20261130_000010_last_login_and_active_workflows;
mod m20261130_000011_store_schedules;

/// The ordered list of every migration; `taskwire migrate` and `serve` apply it.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_users::Migration),
            Box::new(m20261123_000002_workflows::Migration),
            Box::new(m20261123_000003_tasks::Migration),
            Box::new(m20261123_000004_events::Migration),
            Box::new(m20261123_000005_jobs_stores_products::Migration),
            Box::new(m20261123_000006_orders::Migration),
            Box::new(m20261130_000007_abuse_limits::Migration),
            Box::new(m20261130_000008_task_activity::Migration),
            Box::new(m20261130_000009_horizon_and_search::Migration),
            Box::new(m20261130_000010_last_login_and_active_workflows::Migration),
            Box::new(m20261130_000011_store_schedules::Migration),
        ]
    }
}
