//! Who may subscribe to which channel: decided by the domains, asked by the hub.

use async_trait::async_trait;

use crate::{auth::CurrentUser, events::Channel};

/// The subscription rule the hub consults before adding a channel to a session.
/// `app.rs` builds it from the domains, so the hub itself knows none of them.
#[async_trait]
pub trait ChannelPolicy: Send + Sync {
    /// `Ok` when `user` may subscribe to `channel`; `Err` with the message of the `forbidden` error frame.
    async fn authorize(&self, user: &CurrentUser, channel: Channel) -> Result<(), String>;
}
