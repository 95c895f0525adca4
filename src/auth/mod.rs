//! Who is calling: passwords, tokens, the `CurrentUser` extractor and the auth routes.

pub mod client_address;
pub mod cookies;
pub mod current_user;
pub mod host;
pub mod origin;
pub mod password;
pub mod role;
pub mod routes;
pub mod service;
pub mod throttle;
pub mod tokens;
pub mod user_lookup;

pub use current_user::{AdminUser, CurrentUser};
pub use role::Role;
