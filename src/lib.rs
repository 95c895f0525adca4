//! taskwire: a real-time task-workflow server — REST API, WebSocket hub and
//! browser pages in one binary. `Application` is what `main` and the tests start.

pub mod app;
pub mod auth;
pub mod bus;
pub mod catalog;
pub mod channels;
pub mod config;
pub mod db;
pub mod demo;
pub mod entity;
pub mod error;
pub mod events;
pub mod hub;
pub mod jobs;
pub mod listing;
pub mod lock;
pub mod metrics;
pub mod ops;
pub mod orders;
pub mod state;
pub mod stores;
pub mod tasks;
pub mod users;
pub mod web;
pub mod workflows;

pub use app::{Application, StartupError};
pub use config::Config;
