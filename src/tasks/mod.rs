//! Tasks: created by anyone, approved or rejected by ADMINs, worked through subtask by subtask.

pub mod create_batch;
pub mod history;
pub mod model;
pub mod routes;
pub mod service;
pub mod view;

pub use view::TaskView;
