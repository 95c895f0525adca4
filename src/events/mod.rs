//! Events: what changed, on which channel, and who may receive it.

pub mod channel;
pub mod outbox;
pub mod retention;

use std::sync::{Arc, OnceLock};

use axum::extract::ws::Utf8Bytes;
use chrono::{DateTime, SecondsFormat, Utc};

pub use channel::{Channel, Topic};

use crate::users::Role;

/// An event a service wants written in its transaction.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub topic: Topic,
    pub entity_id: i64,
    /// The event name clients see, e.g. `task.approved`.
    pub kind: &'static str,
    /// The event's `data`: the whole entity as the API shows it.
    pub payload: serde_json::Value,
    /// The non-ADMIN users who may receive it (ADMINs always may).
    pub audience: Vec<i64>,
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

    /// The serialized `event` frame, encoded once per event and channel form.
    pub fn frame(&self, form: ChannelForm) -> Utf8Bytes {
        let cell = match form {
            ChannelForm::Collection => &self.collection_frame,
            ChannelForm::Entity => &self.entity_frame,
        };
        cell.get_or_init(|| {
            let channel = match form {
                ChannelForm::Collection => Channel::All(self.topic),
                ChannelForm::Entity => Channel::One(self.topic, self.entity_id),
            };
            Utf8Bytes::from(format!(
                r#"{{"type":"event","id":{},"channel":"{}","event":"{}","at":"{}","data":{}}}"#,
                self.id,
                channel,
                self.kind,
                self.at.to_rfc3339_opts(SecondsFormat::Millis, true),
                self.payload
            ))
        })
        .clone()
    }

    /// Whether a user may receive this event: the audience rule.
    pub fn may_receive(&self, user_id: i64, role: Role) -> bool {
        may_receive(&self.audience, user_id, role)
    }
}

/// Which name a delivered frame carries in its `channel` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelForm {
    Collection,
    Entity,
}

/// ADMINs receive every event; anyone else only events naming them in the audience.
pub fn may_receive(audience: &[i64], user_id: i64, role: Role) -> bool {
    role == Role::Admin || audience.contains(&user_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admins_receive_everything_others_only_their_own() {
        assert!(may_receive(&[], 1, Role::Admin));
        assert!(may_receive(&[2, 3], 3, Role::AdminLimited));
        assert!(!may_receive(&[2, 3], 4, Role::AdminLimited));
        assert!(!may_receive(&[], 4, Role::AdminLimited));
    }

    #[test]
    fn a_frame_is_encoded_once_and_names_its_channel() {
        let event =
            StoredEvent::new(9, Topic::Tasks, 7, "task.created".into(), r#"{"id":7}"#.into(), vec![2], Utc::now());
        let frame = event.frame(ChannelForm::Collection);
        let parsed: serde_json::Value = serde_json::from_str(frame.as_str()).unwrap();
        assert_eq!(parsed["type"], "event");
        assert_eq!(parsed["id"], 9);
        assert_eq!(parsed["channel"], "tasks");
        assert_eq!(parsed["event"], "task.created");
        assert_eq!(parsed["data"]["id"], 7);
        let entity: serde_json::Value = serde_json::from_str(event.frame(ChannelForm::Entity).as_str()).unwrap();
        assert_eq!(entity["channel"], "task:7");
        assert!(std::ptr::eq(frame.as_str().as_ptr(), event.frame(ChannelForm::Collection).as_str().as_ptr()));
    }
}
