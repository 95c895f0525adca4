//! Integration tests: a real server on a random port, real HTTP and WebSocket clients.
//!
//! Set `TEST_DATABASE=postgres` to run every test against PostgreSQL
//! (`TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`),
//! each test in a database of its own. `TEST_LOG=1` shows the server's logs.

mod auth;
mod browser;
mod bus_trust;
mod cli_import;
mod demo;
mod fuzz_findings;
mod hardening;
mod helpers;
mod imports;
mod job_retention;
mod jobs;
mod locks;
mod openapi;
mod ops;
mod orders;
mod pg_restart;
mod postgres;
mod products;
mod provider;
mod rejections;
mod retry;
mod scale;
mod schedules;
mod scrape_guard;
mod scraping;
mod shop;
mod store_bulk;
mod tasks;
mod users;
mod websocket;
mod worker;
mod workflows;
mod ws_fuzz;
mod ws_limits;
