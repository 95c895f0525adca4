//! The JSON frames of the WebSocket protocol.

use axum::extract::ws::Utf8Bytes;
use serde::Deserialize;
use serde_json::json;

use crate::auth::CurrentUser;

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
    Ping,
}

/// `ready`: sent once the session is authenticated.
pub fn ready(user: &CurrentUser, last_event_id: i64) -> Utf8Bytes {
    frame(json!({
        "type": "ready",
        "user": {"id": user.id, "username": user.username, "role": user.role},
        "last_event_id": last_event_id,
    }))
}

pub fn subscribed(channels: &[String]) -> Utf8Bytes {
    frame(json!({"type": "subscribed", "channels": channels}))
}

pub fn unsubscribed(channels: &[String]) -> Utf8Bytes {
    frame(json!({"type": "unsubscribed", "channels": channels}))
}

pub fn pong() -> Utf8Bytes {
    Utf8Bytes::from_static(r#"{"type":"pong"}"#)
}

/// An error reply; the connection stays open.
pub fn error(code: &str, message: &str) -> Utf8Bytes {
    frame(json!({"type": "error", "code": code, "message": message}))
}

fn frame(value: serde_json::Value) -> Utf8Bytes {
    Utf8Bytes::from(value.to_string())
}
