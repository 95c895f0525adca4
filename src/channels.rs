//! Who may subscribe to which channel, decided from the domains; the hub asks
//! through [`ChannelPolicy`]. The per-event audience rule lives in `events`.

use async_trait::async_trait;
use sea_orm::DatabaseConnection;

use crate::{
    auth::CurrentUser,
    events::{Channel, Topic},
    hub::ChannelPolicy,
    orders, tasks,
};

/// The subscription rules of taskwire's domains.
pub struct DomainChannelPolicy {
    /// Reads whether a single task or order is visible to the caller.
    pub db: DatabaseConnection,
}

#[async_trait]
impl ChannelPolicy for DomainChannelPolicy {
    async fn authorize(&self, user: &CurrentUser, channel: Channel) -> Result<(), String> {
        match channel {
            Channel::All(Topic::Tasks | Topic::Orders) => Ok(()),
            // Users and workflows have collection channels only.
            Channel::All(Topic::Control) | Channel::One(Topic::Control | Topic::Users | Topic::Workflows, _) => {
                Err(format!("{channel} is not a channel"))
            }
            Channel::All(Topic::Jobs | Topic::Users | Topic::Workflows) | Channel::One(Topic::Jobs, _) => {
                if user.is_admin() { Ok(()) } else { Err(format!("{channel} needs the ADMIN role")) }
            }
            Channel::One(Topic::Tasks, id) => match tasks::service::find_visible(&self.db, user, id).await {
                Ok(_) => Ok(()),
                Err(_) => Err(format!("task {id} does not exist or is not visible to you")),
            },
            Channel::One(Topic::Orders, id) => match orders::service::find_visible(&self.db, user, id).await {
                Ok(_) => Ok(()),
                Err(_) => Err(format!("order {id} does not exist or is not visible to you")),
            },
        }
    }
}
