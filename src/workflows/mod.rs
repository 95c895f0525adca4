//! Workflow templates: data, editable by ADMINs, that say which subtasks an approved task gets.

pub mod routes;
pub mod service;

pub use service::Workflow;
