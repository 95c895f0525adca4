//! Control events: instructions between hubs that travel through the outbox like
//! any change, so every instance obeys them, but that no client ever receives.

use super::{NewEvent, Topic};

/// End every session of the user named by `entity_id`, on every instance.
pub const SESSIONS_REVOKED: &str = "user.sessions_revoked";

/// The instruction to end a user's sessions, e.g. after their role changed or they were disabled.
pub fn revoke_sessions(user_id: i64) -> NewEvent {
    NewEvent {
        topic: Topic::Control,
        entity_id: user_id,
        kind: SESSIONS_REVOKED,
        payload: "{}".to_owned(),
        audience: Vec::new(),
    }
}
