//! Background jobs: a log record per job, live progress, a runner for built-in kinds,
//! and the REST API external workers use to report their own.

pub mod model;
pub mod progress;
pub mod progress_write;
pub mod retention;
pub mod retry;
pub mod routes;
pub mod runner;
pub mod service;
pub mod worker;

pub use model::{JobStatus, JobView};
pub use progress::ProgressUpdate;
pub use retry::{Restart, RestartableKinds};
pub use runner::{JobContext, JobRunner, refresh_job_gauges};
