//! JWT access tokens and opaque, rotating refresh tokens.

use std::time::Duration;

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{
    error::{AppError, Result},
    users::Role,
};

/// What an access token says about its holder.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user id, as a string the way JWT wants `sub`.
    pub sub: String,
    pub username: String,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
}

/// HS256 keys derived once from `JWT_SECRET`.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    access_ttl: Duration,
}

impl AccessClaims {
    /// The user the token was issued to.
    pub fn user_id(&self) -> Result<i64> {
        self.sub.parse().map_err(|_| AppError::Unauthenticated("the access token is invalid".into()))
    }
}

impl TokenKeys {
    pub fn new(secret: &[u8], access_ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            access_ttl,
        }
    }

    /// Lifetime of an access token in seconds, as reported in `expires_in`.
    pub fn access_ttl_secs(&self) -> u64 {
        self.access_ttl.as_secs()
    }

    /// Signs an access token for this user.
    pub fn issue_access(&self, user_id: i64, username: &str, role: Role) -> Result<String> {
        let now = Utc::now().timestamp();
        let claims = AccessClaims {
            sub: user_id.to_string(),
            username: username.to_owned(),
            role,
            iat: now,
            exp: now + self.access_ttl.as_secs() as i64,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AppError::Internal(format!("signing a token failed: {e}")))
    }

    /// Verifies an access token; an expired one is told apart so clients know to refresh.
    pub fn verify_access(&self, token: &str) -> Result<AccessClaims> {
        jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation).map(|data| data.claims).map_err(
            |e| match e.kind() {
                ErrorKind::ExpiredSignature => AppError::TokenExpired,
                _ => {
                    tracing::debug!(error = ?e, "refused an access token");
                    AppError::Unauthenticated("the access token is invalid".into())
                }
            },
        )
    }
}

/// A new random refresh token (sent to the client) and its hash (stored).
pub fn new_refresh_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token = hex(&bytes);
    let hash = hash_refresh_token(&token);
    (token, hash)
}

/// The stored form of a refresh token.
pub fn hash_refresh_token(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn a_token_round_trips() {
        let keys = TokenKeys::new(SECRET, Duration::from_secs(900));
        let token = keys.issue_access(7, "ann", Role::AdminLimited).unwrap();
        let claims = keys.verify_access(&token).unwrap();
        assert_eq!((claims.sub.as_str(), claims.role), ("7", Role::AdminLimited));
        assert_eq!(claims.user_id().unwrap(), 7);
    }

    #[test]
    fn a_foreign_or_expired_token_is_refused() {
        let keys = TokenKeys::new(SECRET, Duration::from_secs(900));
        let other = TokenKeys::new(b"another-secret-another-secret-xx", Duration::from_secs(900));
        let token = other.issue_access(7, "ann", Role::Admin).unwrap();
        assert!(matches!(keys.verify_access(&token), Err(AppError::Unauthenticated(_))));
        let now = Utc::now().timestamp();
        let claims = AccessClaims {
            sub: "7".into(),
            username: "ann".into(),
            role: Role::Admin,
            iat: now - 1000,
            exp: now - 100,
        };
        let expired = jsonwebtoken::encode(&Header::default(), &claims, &EncodingKey::from_secret(SECRET)).unwrap();
        assert!(matches!(keys.verify_access(&expired), Err(AppError::TokenExpired)));
    }

    #[test]
    fn refresh_tokens_are_stored_hashed() {
        let (token, hash) = new_refresh_token();
        assert_eq!(token.len(), 64);
        assert_ne!(token, hash);
        assert_eq!(hash_refresh_token(&token), hash);
    }
}
