//! Orders: dispatched to an external provider, then checked on a durable
//! backoff schedule until the provider completes (with a PIN) or fails them.

pub mod model;
pub mod monitor;
pub mod provider;
pub mod routes;
pub mod service;

pub use model::{OrderTiming, OrderView};
