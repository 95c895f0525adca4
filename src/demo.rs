//! `serve --demo`: the demo users, created when absent.

use sea_orm::DatabaseConnection;
use tracing::info;

use crate::{
    error::Result,
    users::{Role, service::ensure_user},
};

/// The logins printed at start in demo mode.
pub const DEMO_USERS: [(&str, &str, Role); 2] =
    [("admin", "admin-demo", Role::Admin), ("worker", "worker-demo", Role::AdminLimited)];

/// Creates the demo users if they do not exist yet; existing ones are left as they are.
pub async fn seed(db: &DatabaseConnection) -> Result<()> {
    for (username, password, role) in DEMO_USERS {
        if ensure_user(db, username, password, role).await? {
            info!(username, "created demo user");
        }
    }
    Ok(())
}
