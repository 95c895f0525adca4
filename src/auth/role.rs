//! The roles a caller can have: what the rest of the server authorizes against.

use serde::{Deserialize, Serialize};

/// The two roles of taskwire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Role {
    #[serde(rename = "ADMIN")]
    Admin,
    #[serde(rename = "ADMIN_LIMITED")]
    AdminLimited,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "ADMIN",
            Role::AdminLimited => "ADMIN_LIMITED",
        }
    }

    pub fn parse(value: &str) -> Option<Role> {
        match value {
            "ADMIN" => Some(Role::Admin),
            "ADMIN_LIMITED" => Some(Role::AdminLimited),
            _ => None,
        }
    }
}
