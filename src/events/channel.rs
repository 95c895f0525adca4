//! Channel names: `tasks`, `task:{id}`, `jobs`, `job:{id}`, `orders`, `order:{id}`, `users`, `workflows`.

use std::fmt;

/// A family of entities whose changes are published together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    Tasks,
    Jobs,
    Orders,
    /// Accounts, for the ADMINs' users page; a collection channel only.
    Users,
    /// Workflow templates, for the ADMINs' templates page; a collection channel only.
    Workflows,
    /// Instructions between hubs (e.g. end a user's sessions); never a channel clients can subscribe to.
    Control,
}

impl Topic {
    /// The collection channel's name, also stored in the outbox.
    pub fn as_str(self) -> &'static str {
        match self {
            Topic::Tasks => "tasks",
            Topic::Jobs => "jobs",
            Topic::Orders => "orders",
            Topic::Users => "users",
            Topic::Workflows => "workflows",
            Topic::Control => "control",
        }
    }

    /// The prefix of a single entity's channel.
    fn entity_prefix(self) -> &'static str {
        match self {
            Topic::Tasks => "task",
            Topic::Jobs => "job",
            Topic::Orders => "order",
            Topic::Users => "user",
            Topic::Workflows => "workflow",
            Topic::Control => "control",
        }
    }

    pub fn parse(value: &str) -> Option<Topic> {
        [Topic::Tasks, Topic::Jobs, Topic::Orders, Topic::Users, Topic::Workflows, Topic::Control]
            .into_iter()
            .find(|t| t.as_str() == value)
    }
}

/// What a session subscribes to: a whole topic or one entity of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    All(Topic),
    One(Topic, i64),
}

impl Channel {
    /// Parses a channel name; `None` for anything not in the list above (users and
    /// workflows have no channel of their own: their pages follow the whole collection).
    pub fn parse(value: &str) -> Option<Channel> {
        if let Some(topic) = Topic::parse(value).filter(|t| *t != Topic::Control) {
            return Some(Channel::All(topic));
        }
        let (prefix, id) = value.split_once(':')?;
        let topic = [Topic::Tasks, Topic::Jobs, Topic::Orders].into_iter().find(|t| t.entity_prefix() == prefix)?;
        let id: i64 = id.parse().ok().filter(|id| *id > 0)?;
        Some(Channel::One(topic, id))
    }

    pub fn topic(self) -> Topic {
        match self {
            Channel::All(topic) | Channel::One(topic, _) => topic,
        }
    }

    /// Whether an event of this topic and entity belongs to this channel.
    pub fn matches(self, topic: Topic, entity_id: i64) -> bool {
        match self {
            Channel::All(t) => t == topic,
            Channel::One(t, id) => t == topic && id == entity_id,
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Channel::All(topic) => f.write_str(topic.as_str()),
            Channel::One(topic, id) => write!(f, "{}:{id}", topic.entity_prefix()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_round_trip() {
        for name in ["tasks", "task:7", "jobs", "job:42", "orders", "order:3", "users", "workflows"] {
            assert_eq!(Channel::parse(name).unwrap().to_string(), name);
        }
    }

    #[test]
    fn unknown_or_malformed_channels_are_refused() {
        for name in [
            "",
            "task",
            "task:",
            "task:x",
            "task:-1",
            "task:0",
            "user",
            "user:1",
            "workflow:1",
            "tasks:1",
            "job:1:2",
            "control",
            "control:1",
        ] {
            assert!(Channel::parse(name).is_none(), "{name} should be refused");
        }
    }

    #[test]
    fn a_channel_matches_its_topic_or_entity() {
        assert!(Channel::All(Topic::Tasks).matches(Topic::Tasks, 5));
        assert!(Channel::One(Topic::Tasks, 5).matches(Topic::Tasks, 5));
        assert!(!Channel::One(Topic::Tasks, 5).matches(Topic::Tasks, 6));
        assert!(!Channel::All(Topic::Jobs).matches(Topic::Tasks, 5));
    }
}
