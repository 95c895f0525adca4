//! Stores, their item pages, price history, and the `scrape_store` job.

pub mod fetch;
pub mod guard;
pub mod price;
pub mod routes;
pub mod schedule;
pub mod scrape;
pub mod service;

pub use fetch::PageFetcher;
pub use guard::{AllowedHost, ScrapePolicy};
