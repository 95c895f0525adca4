//! sea-orm entities: one module per table of the migration crate.

pub mod event;
pub mod refresh_token;
pub mod subtask;
pub mod task;
pub mod user;
pub mod workflow;
