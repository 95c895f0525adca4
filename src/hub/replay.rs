//! A `since` replay: bounded by the outbox rows it reads, streamed through the session's queue.

use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;

use super::{HubState, protocol, session::SessionHandle};
use crate::{
    error::AppError,
    events::{Channel, ChannelForm, StoredEvent, Topic, outbox, retention},
};

/// Outbox rows a replay reads per query; the events of one page are the most a replay holds at once.
const REPLAY_PAGE: u64 = 1000;

/// What a `since` leads to: a replay, or a `reset` when part of what it asks for was pruned.
pub(super) enum Resume {
    /// Every event after `since` is still there.
    Replay(Replay),
    /// Events after `since` up to `pruned_through` are gone: the client reloads its state instead.
    Reset { pruned_through: i64 },
}

/// A replay of the outbox in `(since, up_to]`, read a page at a time.
pub(super) struct Replay {
    up_to: i64,
    topics: Vec<Topic>,
    first_page: Vec<Arc<StoredEvent>>,
}

impl Replay {
    /// Refuses a `since` more than `replay_max_rows` ids back (ids are unique, so
    /// no more rows than that are read, whatever the user may see of them) and
    /// reads the first page, so that an unreadable history is an error frame.
    /// A `since` before the pruning horizon is a [`Resume::Reset`].
    pub(super) async fn start(
        state: &HubState,
        since: i64,
        up_to: i64,
        added: &[Channel],
    ) -> Result<Resume, Utf8Bytes> {
        let max_rows = state.hub.settings().replay_max_rows;
        if up_to.saturating_sub(since) > i64::try_from(max_rows).unwrap_or(i64::MAX) {
            return Err(protocol::reload_required(
                "invalid_message",
                &format!("since: more than {max_rows} events to replay; reload the current state and subscribe again"),
            ));
        }
        let unreadable = || protocol::error("unavailable", "the event history cannot be read right now; try again");
        let mut topics: Vec<_> = added.iter().map(|c| c.topic()).collect();
        topics.sort_by_key(|t| t.as_str());
        topics.dedup();
        let first_page = read_page(state, since, up_to, &topics).await.map_err(|_| unreadable())?;
        // The horizon after the page: it only moves forward, so a prune that ran
        // before the page was read shows here and the page is not trusted.
        let db = state.db.clone();
        let pruned_through = state.hub.on_main(async move { retention::pruned_through(&db).await }).await;
        let pruned_through = pruned_through.and_then(Result::ok).ok_or_else(unreadable)?;
        if since < pruned_through {
            return Ok(Resume::Reset { pruned_through });
        }
        Ok(Resume::Replay(Replay { up_to, topics, first_page }))
    }

    /// Queues the visible events of the newly added channels that the session's
    /// earlier channels did not already deliver, waiting for room in the queue.
    /// `Err` when a later page cannot be read.
    pub(super) async fn stream(
        self,
        state: &HubState,
        session: &SessionHandle,
        added: &[Channel],
        before: &[Channel],
    ) -> Result<(), AppError> {
        let mut page = self.first_page;
        loop {
            let Some(last) = page.last().map(|event| event.id) else { return Ok(()) };
            for event in page {
                let form = if added.contains(&Channel::All(event.topic)) {
                    ChannelForm::Collection
                } else if added.contains(&Channel::One(event.topic, event.entity_id)) {
                    ChannelForm::Entity
                } else {
                    continue;
                };
                let delivered_before = before.iter().any(|c| c.matches(event.topic, event.entity_id));
                if !delivered_before
                    && event.may_receive(session.user.id, session.user.is_admin())
                    && !session.send_replayed(&(event, form)).await
                {
                    return Ok(());
                }
            }
            if last >= self.up_to {
                return Ok(());
            }
            page = read_page(state, last, self.up_to, &self.topics).await?;
        }
    }
}

async fn read_page(
    state: &HubState,
    after: i64,
    up_to: i64,
    topics: &[Topic],
) -> Result<Vec<Arc<StoredEvent>>, AppError> {
    if after >= up_to {
        return Ok(Vec::new());
    }
    let (db, topics) = (state.db.clone(), topics.to_vec());
    // On the main runtime, as all database work of a session (see `Hub::on_main`).
    let page = state.hub.on_main(async move { outbox::load(&db, after, Some(up_to), &topics, REPLAY_PAGE).await });
    page.await.unwrap_or_else(|| Err(AppError::Unavailable("the server is shutting down".into())))
}
