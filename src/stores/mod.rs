//! Stores, their item pages, price history, and the `scrape_store` job.

pub mod price;
pub mod routes;
pub mod scrape;
pub mod service;
