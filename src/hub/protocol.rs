//! The JSON frames of the WebSocket protocol.

use axum::extract::ws::Utf8Bytes;
use chrono::SecondsFormat;
use serde::Deserialize;
use serde_json::json;

use crate::{
    auth::CurrentUser,
    events::{ChannelForm, StoredEvent},
};

/// A message from the client.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    Auth {
        token: String,
    },
    Subscribe {
        channels: Vec<String>,
        #[serde(default)]
        since: Option<i64>,
    },
    Unsubscribe {
        channels: Vec<String>,
    },
    /// A struct variant, so that unknown fields are refused here too.
    Ping {},
}

/// `ready`: sent once the session is authenticated.
/// (Written directly, like `subscribed`: every handshake sends both.)
pub fn ready(user: &CurrentUser, last_event_id: i64) -> Utf8Bytes {
    Utf8Bytes::from(format!(
        r#"{{"type":"ready","user":{{"id":{},"username":{},"role":{}}},"last_event_id":{last_event_id}}}"#,
        user.id,
        json_text(&user.username),
        json_text(&user.role),
    ))
}

pub fn subscribed(channels: &[String]) -> Utf8Bytes {
    Utf8Bytes::from(format!(r#"{{"type":"subscribed","channels":{}}}"#, json_text(&channels)))
}

/// A value as JSON text (strings and lists of strings cannot fail to serialize).
fn json_text(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

/// The answer to a `since` older than the retained history: the channels are
/// subscribed from `last_event_id` on, and the client reloads its state over REST
/// instead of getting a replay with a hole in it.
pub fn reset(channels: &[String], last_event_id: i64, pruned_through: i64) -> Utf8Bytes {
    frame(json!({
        "type": "reset",
        "channels": channels,
        "last_event_id": last_event_id,
        "pruned_through": pruned_through,
        "message": "events after your since were pruned; reload the current state, live events follow from last_event_id",
    }))
}

pub fn unsubscribed(channels: &[String]) -> Utf8Bytes {
    frame(json!({"type": "unsubscribed", "channels": channels}))
}

pub fn pong() -> Utf8Bytes {
    Utf8Bytes::from_static(r#"{"type":"pong"}"#)
}

/// `event`: one committed change, encoded once per event and channel form and
/// shared by every session that receives it. `data` is embedded without re-parsing.
pub fn event(event: &StoredEvent, form: ChannelForm) -> Utf8Bytes {
    event.encoded_frame(form, |event, channel| {
        format!(
            r#"{{"type":"event","id":{},"channel":"{}","event":"{}","at":"{}","data":{}}}"#,
            event.id,
            channel,
            event.kind,
            event.at.to_rfc3339_opts(SecondsFormat::Millis, true),
            event.payload
        )
    })
}

/// An error reply; the connection stays open.
pub fn error(code: &str, message: &str) -> Utf8Bytes {
    frame(json!({"type": "error", "code": code, "message": message}))
}

/// An error reply after which the client must reload its state over REST
/// (`"reload": true`), e.g. a `since` too far back to replay.
pub fn reload_required(code: &str, message: &str) -> Utf8Bytes {
    frame(json!({"type": "error", "code": code, "message": message, "reload": true}))
}

fn frame(value: serde_json::Value) -> Utf8Bytes {
    Utf8Bytes::from(value.to_string())
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    #[test]
    fn client_messages_refuse_unknown_fields_and_deep_nesting() {
        let parse = |text: &str| serde_json::from_str::<ClientMessage>(text);
        assert!(matches!(parse(r#"{"type":"ping"}"#), Ok(ClientMessage::Ping {})));
        assert!(parse(r#"{"type":"ping","extra":1}"#).is_err());
        assert!(parse(r#"{"type":"subscribe","channels":["tasks"],"extra":1}"#).is_err());
        // serde_json stops at 128 levels instead of overflowing the stack.
        let nested = "[".repeat(100_000) + &"]".repeat(100_000);
        let err = parse(&format!(r#"{{"type":"subscribe","channels":{nested}}}"#)).unwrap_err();
        assert!(err.to_string().contains("recursion limit"), "{err}");
    }

    use super::*;
    use crate::events::Topic;

    #[test]
    fn an_event_frame_is_encoded_once_and_names_its_channel() {
        let stored =
            StoredEvent::new(9, Topic::Tasks, 7, "task.created".into(), r#"{"id":7}"#.into(), vec![2], Utc::now());
        let frame = event(&stored, ChannelForm::Collection);
        let parsed: serde_json::Value = serde_json::from_str(frame.as_str()).unwrap();
        assert_eq!(parsed["type"], "event");
        assert_eq!(parsed["id"], 9);
        assert_eq!(parsed["channel"], "tasks");
        assert_eq!(parsed["event"], "task.created");
        assert_eq!(parsed["data"]["id"], 7);
        let entity: serde_json::Value = serde_json::from_str(event(&stored, ChannelForm::Entity).as_str()).unwrap();
        assert_eq!(entity["channel"], "task:7");
        assert!(std::ptr::eq(frame.as_str().as_ptr(), event(&stored, ChannelForm::Collection).as_str().as_ptr()));
    }

    #[test]
    fn ready_and_subscribed_are_json_whatever_the_names() {
        let user =
            CurrentUser { id: 3, username: "a \"quoted\" \\ name".into(), role: crate::auth::Role::AdminLimited };
        let ready: serde_json::Value = serde_json::from_str(ready(&user, 42).as_str()).unwrap();
        assert_eq!(
            ready,
            json!({"type": "ready", "user": {"id": 3, "username": "a \"quoted\" \\ name", "role": "ADMIN_LIMITED"}, "last_event_id": 42})
        );
        let channels = vec!["tasks".to_owned(), "task:7".to_owned()];
        let subscribed: serde_json::Value = serde_json::from_str(subscribed(&channels).as_str()).unwrap();
        assert_eq!(subscribed, json!({"type": "subscribed", "channels": ["tasks", "task:7"]}));
    }
}
