//! sea-orm entities: one module per table of the migration crate.

pub mod event;
pub mod job;
pub mod job_failure;
pub mod order;
pub mod price_point;
pub mod product;
pub mod refresh_token;
pub mod store;
pub mod store_item;
pub mod subtask;
pub mod task;
pub mod user;
pub mod workflow;
