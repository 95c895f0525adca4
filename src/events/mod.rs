//! Events: what changed, on which channel, and who may receive it.

pub mod channel;
pub mod control;
pub mod dispatch_progress;
pub mod group_commit;
pub mod outbox;
pub mod retention;

use std::sync::{Arc, OnceLock};

use axum::extract::ws::Utf8Bytes;
use chrono::{DateTime, Utc};

pub use channel::{Channel, Topic};

/// An event a service wants written in its transaction.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub topic: Topic,
    pub entity_id: i64,
    /// The event name clients see, e.g. `task.approved`.
    pub kind: &'static str,
    /// The event's `data` as JSON text: the whole entity as the API shows it,
    /// serialized once (it is stored and sent as it is).
    pub payload: String,
    /// The non-ADMIN users who may receive it (ADMINs always may).
    pub audience: Vec<i64>,
}

impl NewEvent {
    /// An event whose `data` is `view`, the entity as the API shows it.
    pub fn of(
        topic: Topic,
        entity_id: i64,
        kind: &'static str,
        view: &impl serde::Serialize,
        audience: Vec<i64>,
    ) -> NewEvent {
        let payload = serde_json::to_string(view).unwrap_or_else(|_| "null".to_owned());
        NewEvent { topic, entity_id, kind, payload, audience }
    }
}

/// A committed event, as read back from the outbox or received from the bus.
#[derive(Debug)]
pub struct StoredEvent {
    pub id: i64,
    pub topic: Topic,
    pub entity_id: i64,
    pub kind: String,
    /// `data` as JSON text, embedded in frames without re-parsing.
    pub payload: String,
    pub audience: Vec<i64>,
    pub at: DateTime<Utc>,
    /// The frame named after the collection channel (`tasks`), built on first use and shared by every session.
    collection_frame: OnceLock<Utf8Bytes>,
    /// The frame named after the entity channel (`task:7`), for sessions subscribed only to that.
    entity_frame: OnceLock<Utf8Bytes>,
}

impl StoredEvent {
    pub fn new(
        id: i64,
        topic: Topic,
        entity_id: i64,
        kind: String,
        payload: String,
        audience: Vec<i64>,
        at: DateTime<Utc>,
    ) -> Arc<Self> {
        Arc::new(StoredEvent {
            id,
            topic,
            entity_id,
            kind,
            payload,
            audience,
            at,
            collection_frame: OnceLock::new(),
            entity_frame: OnceLock::new(),
        })
    }

    /// The frame for one channel form, made by `encode` on first use and shared
    /// by every later caller: each event is serialized at most once per form.
    pub fn encoded_frame(&self, form: ChannelForm, encode: impl FnOnce(&Self, Channel) -> String) -> Utf8Bytes {
        let (cell, channel) = match form {
            ChannelForm::Collection => (&self.collection_frame, Channel::All(self.topic)),
            ChannelForm::Entity => (&self.entity_frame, Channel::One(self.topic, self.entity_id)),
        };
        cell.get_or_init(|| Utf8Bytes::from(encode(self, channel))).clone()
    }

    /// Whether a user may receive this event: the audience rule.
    pub fn may_receive(&self, user_id: i64, is_admin: bool) -> bool {
        may_receive(&self.audience, user_id, is_admin)
    }
}

/// Which name a delivered frame carries in its `channel` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelForm {
    Collection,
    Entity,
}

/// ADMINs receive every event; anyone else only events naming them in the audience.
pub fn may_receive(audience: &[i64], user_id: i64, is_admin: bool) -> bool {
    is_admin || audience.contains(&user_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admins_receive_everything_others_only_their_own() {
        assert!(may_receive(&[], 1, true));
        assert!(may_receive(&[2, 3], 3, false));
        assert!(!may_receive(&[2, 3], 4, false));
        assert!(!may_receive(&[], 4, false));
    }
}
