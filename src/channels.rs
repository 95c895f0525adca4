//! Who may subscribe to which channel; the per-event audience rule lives in `events`.

use crate::{
    auth::CurrentUser,
    events::{Channel, Topic},
    orders,
    state::AppState,
    tasks,
};

/// `Ok` when the user may subscribe; `Err` with a message for the `forbidden` error frame.
pub async fn authorize(state: &AppState, user: &CurrentUser, channel: Channel) -> Result<(), String> {
    match channel {
        Channel::All(Topic::Tasks | Topic::Orders) => Ok(()),
        Channel::All(Topic::Control) | Channel::One(Topic::Control, _) => Err(format!("{channel} is not a channel")),
        Channel::All(Topic::Jobs) | Channel::One(Topic::Jobs, _) => {
            if user.is_admin() {
                Ok(())
            } else {
                Err(format!("{channel} needs the ADMIN role"))
            }
        }
        Channel::One(Topic::Tasks, id) => match tasks::service::find_visible(&state.db, user, id).await {
            Ok(_) => Ok(()),
            Err(_) => Err(format!("task {id} does not exist or is not visible to you")),
        },
        Channel::One(Topic::Orders, id) => match orders::service::find_visible(&state.db, user, id).await {
            Ok(_) => Ok(()),
            Err(_) => Err(format!("order {id} does not exist or is not visible to you")),
        },
    }
}
