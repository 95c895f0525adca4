//! Workflow templates: data, editable by ADMINs, that say which subtasks an approved task gets.

pub mod model;
pub mod routes;
pub mod service;

pub use model::Workflow;
