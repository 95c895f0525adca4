//! Users: roles, validation, and ADMIN user management.

pub mod model;
pub mod routes;
pub mod service;

pub use model::{Role, UserView};
