//! Users as the API shows them, and the rules a username and a password must meet.

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use crate::auth::Role;
use crate::{entity::user, error::AppError};

/// A user as the API shows it: never the hash.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    /// The last change to the account (role, active, password): which of two copies is current.
    pub updated_at: DateTime<Utc>,
    /// The last successful login with a password; `null` for someone who never signed in.
    pub last_login_at: Option<DateTime<Utc>>,
}

impl From<user::Model> for UserView {
    fn from(user: user::Model) -> Self {
        UserView {
            id: user.id,
            role: Role::parse(&user.role).unwrap_or(Role::AdminLimited),
            username: user.username,
            is_active: user.is_active,
            created_at: user.created_at,
            updated_at: user.updated_at,
            last_login_at: user.last_login_at,
        }
    }
}

/// A new account's fields, checked: what `POST /api/users` and `create-user` insert.
#[derive(Debug)]
pub struct NewUser {
    pub username: String,
    pub password: String,
    pub role: Role,
}

impl NewUser {
    /// Checks every field; the first that fails is named in the 400.
    pub fn parse(username: &str, password: &str, role: &str) -> Result<NewUser, AppError> {
        Ok(NewUser {
            username: parse_username(username)?,
            password: parse_password(password)?,
            role: parse_role(role)?,
        })
    }
}

/// The longest username that can exist; logins with longer ones are refused before any work.
pub const MAX_USERNAME_LEN: usize = 64;

/// A username: 3–64 characters of letters, digits, `.`, `_`, `-`; stored lowercase.
pub fn parse_username(value: &str) -> Result<String, AppError> {
    let value = value.trim();
    if value.len() < 3 || value.len() > MAX_USERNAME_LEN {
        return Err(AppError::field("username", "must be 3 to 64 characters long"));
    }
    if !value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) {
        return Err(AppError::field("username", "may contain only letters, digits, '.', '_' and '-'"));
    }
    Ok(value.to_ascii_lowercase())
}

/// A password: 8–256 characters.
pub fn parse_password(value: &str) -> Result<String, AppError> {
    let length = value.chars().count();
    if length < 8 {
        return Err(AppError::field("password", "must be at least 8 characters long"));
    }
    if length > 256 {
        return Err(AppError::field("password", "must be at most 256 characters long"));
    }
    Ok(value.to_owned())
}

/// A role name as sent by a client.
pub fn parse_role(value: &str) -> Result<Role, AppError> {
    Role::parse(value).ok_or_else(|| AppError::field("role", "must be ADMIN or ADMIN_LIMITED"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_normalised_and_checked() {
        assert_eq!(parse_username(" Ann.Lee ").unwrap(), "ann.lee");
        assert!(parse_username("ab").is_err());
        assert!(parse_username("ann lee").is_err());
        assert!(parse_username(&"a".repeat(65)).is_err());
    }

    #[test]
    fn passwords_and_roles_are_checked() {
        assert!(parse_password("short").is_err());
        assert!(parse_password("long enough").is_ok());
        assert_eq!(parse_role("ADMIN").unwrap(), Role::Admin);
        assert!(parse_role("admin").is_err());
    }
}
