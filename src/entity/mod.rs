//! sea-orm entities: one module per table of the migration crate.

pub mod event;
pub mod event_horizon;
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
pub mod task_activity;
pub mod user;
pub mod workflow;

/// Status enums read as their stored word in messages and logs (`job 5 is running`).
macro_rules! display_as_stored_value {
    ($($status:ty),*) => {$(
        impl std::fmt::Display for $status {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&sea_orm::ActiveEnum::to_value(self))
            }
        }
    )*};
}

display_as_stored_value!(task::TaskStatus, subtask::SubtaskStatus, job::JobStatus, order::OrderStatus);
