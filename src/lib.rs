//! taskwire: a real-time task-workflow server — REST API, WebSocket hub and
//! browser pages in one binary. `Application` is what `main` and the tests start.

pub mod app;
pub(crate) mod auth;
pub(crate) mod bus;
pub(crate) mod catalog;
pub(crate) mod channels;
pub mod cli;
pub mod config;
pub mod db;
pub mod demo;
pub mod entity;
pub mod error;
pub mod events;
pub mod fd_limit;
pub mod hub;
pub mod jobs;
pub(crate) mod listing;
pub mod lock;
pub(crate) mod metrics;
pub mod observe;
pub mod openapi;
pub(crate) mod ops;
pub(crate) mod orders;
pub(crate) mod own_thread;
pub(crate) mod periodic;
pub mod state;
pub(crate) mod stores;
pub(crate) mod tasks;
pub mod users;
pub(crate) mod web;
pub(crate) mod workflows;

pub use app::{Application, StartupError};
pub use config::Config;
