//! Trust on the bus: only events signed with the deployment's key reach sessions,
//! and no id, however absurd, stalls or reorders delivery.

use std::time::Duration;

use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::{
    helpers::*,
    scale::{two_instances_polling, until_ready_is},
};

/// HMAC-SHA256 in hex, as the bus writes it.
fn mac_hex(key: &[u8], parts: &[&[u8]]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// A message as docs/API.md describes it: `v1.<hex HMAC(key, channel NUL body)>.<body>`.
fn signed(key: &[u8], channel: &str, body: &str) -> String {
    format!("v1.{}.{body}", mac_hex(key, &[channel.as_bytes(), b"\0", body.as_bytes()]))
}

/// The key an instance without `BUS_SECRET` uses: HMAC-SHA256(JWT_SECRET, label).
fn derived_key(jwt_secret: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(jwt_secret).unwrap();
    mac.update(b"taskwire bus event key v1");
    mac.finalize().into_bytes().to_vec()
}

/// A `task.created` event as it travels on the bus, titled `title`.
fn wire_event(id: i64, title: &str) -> String {
    json!({
        "id": id,
        "topic": "tasks",
        "entity_id": 424242,
        "kind": "task.created",
        "payload": json!({"id": 424242, "title": title, "status": "new"}).to_string(),
        "audience": [],
        "at": chrono::Utc::now(),
    })
    .to_string()
}

fn counter(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} is exported: {metrics}"))
}

#[tokio::test]
async fn forged_unsigned_and_garbled_bus_messages_never_reach_sessions_and_absurd_ids_do_not_stall() {
    // Hubs read the outbox only on demand: what sessions get comes through Redis.
    let (_database, a, b) = two_instances_polling("redis://127.0.0.1:6379", Duration::from_secs(3600)).await;
    until_ready_is(&a, StatusCode::OK).await;
    until_ready_is(&b, StatusCode::OK).await;
    let admin = a.token(ADMIN).await;
    let ann = a.token(ANN).await;
    let mut on_b = b.ws_subscribed(&admin, &["tasks"], None).await;
    a.create_task(&ann, "real 1").await;
    let first = on_b.expect_event("task.created").await;
    assert_eq!(first["data"]["title"], "real 1", "a signed event from the other instance is accepted");
    let last = first["id"].as_i64().unwrap();

    let channel = format!("{}events", b.state.config.redis_prefix);
    let key = derived_key(&b.state.config.jwt_secret);
    let next = wire_event(last + 1, "forged");
    let rejected: Vec<Vec<u8>> = vec![
        b"\x00\xffnot even text".to_vec(),
        next.clone().into_bytes(),
        format!("v1.{}.{next}", "0".repeat(64)).into_bytes(),
        signed(b"a key that is not the deployment's", &channel, &next).into_bytes(),
        signed(&key, "another-deployment:events", &next).into_bytes(),
        signed(&key, &channel, &next).replace("forged", "altered").into_bytes(),
        format!("v1.{}", next).into_bytes(),
    ];
    // Correctly signed but wrong: an id far beyond the outbox, and a replay of an old one.
    let verified_but_bogus = [
        signed(&key, &channel, &wire_event(i64::MAX, "absurd id")),
        signed(&key, &channel, &wire_event(last, "replayed")),
    ];
    let before = counter(
        &b.http.get(b.url("/metrics")).send().await.unwrap().text().await.unwrap(),
        "taskwire_bus_rejected_total",
    );
    let redis = redis::Client::open("redis://127.0.0.1:6379").unwrap();
    let mut connection = redis.get_multiplexed_async_connection().await.unwrap();
    for message in
        rejected.iter().chain(verified_but_bogus.iter().map(|m| m.as_bytes().to_vec()).collect::<Vec<_>>().iter())
    {
        let receivers: i64 =
            redis::cmd("PUBLISH").arg(&channel).arg(message.as_slice()).query_async(&mut connection).await.unwrap();
        assert_eq!(receivers, 2, "both instances listen on {channel}");
    }

    // Real events published after them arrive next, in order, and nothing else does.
    a.create_task(&ann, "real 2").await;
    b.create_task(&ann, "real 3").await;
    a.create_task(&ann, "real 4").await;
    let mut ids = vec![last];
    for title in ["real 2", "real 3", "real 4"] {
        let frame = on_b.expect_event("task.created").await;
        assert_eq!(frame["data"]["title"], title, "{frame}");
        ids.push(frame["id"].as_i64().unwrap());
    }
    assert!(ids.windows(2).all(|w| w[1] > w[0]), "ids increase: {ids:?}");
    on_b.expect_silence().await;
    let metrics = b.http.get(b.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert_eq!(counter(&metrics, "taskwire_bus_rejected_total") - before, rejected.len() as f64, "{metrics}");
    let (_, tasks) = b.get("/api/tasks", Some(&admin)).await;
    let titles: Vec<&Value> =
        tasks["items"].as_array().map(|t| t.iter().map(|t| &t["title"]).collect()).unwrap_or_default();
    assert!(
        !titles.iter().any(|t| t.as_str().is_some_and(|t| t.contains("forged") || t.contains("absurd"))),
        "{tasks}"
    );
}

#[tokio::test]
async fn instances_with_different_bus_secrets_ignore_each_other() {
    let (database, url) = TestDatabase::create_postgres().await;
    let prefix = format!("taskwire-test-{:016x}:", rand::random::<u64>());
    let configure = |secret: &'static str| {
        let prefix = prefix.clone();
        move |c: &mut taskwire::Config| {
            c.redis_url = Some("redis://127.0.0.1:6379".into());
            c.redis_prefix = prefix;
            c.outbox_catch_up = Duration::from_secs(3600);
            c.bus_secret = Some(secret.as_bytes().to_vec());
        }
    };
    let a = spawn_on(&url, configure("bus-secret-of-a-bus-secret-of-a-0000")).await;
    let b = spawn_on(&url, configure("bus-secret-of-b-bus-secret-of-b-0000")).await;
    for (user, role) in [(ADMIN, "ADMIN"), (ANN, "ADMIN_LIMITED")] {
        taskwire::users::service::create_user(&a.state.db, user.0, user.1, role).await.unwrap();
    }
    until_ready_is(&a, StatusCode::OK).await;
    until_ready_is(&b, StatusCode::OK).await;
    let admin = a.token(ADMIN).await;
    let ann = a.token(ANN).await;
    let mut on_b = b.ws_subscribed(&admin, &["tasks"], None).await;
    a.create_task(&ann, "signed with A's secret").await;
    on_b.expect_silence().await;
    let metrics = b.http.get(b.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert_eq!(counter(&metrics, "taskwire_bus_rejected_total"), 1.0, "{metrics}");
    // B's own change makes its hub read the outbox: A's event comes through there, in order.
    b.create_task(&ann, "made on B").await;
    assert_eq!(on_b.expect_event("task.created").await["data"]["title"], "signed with A's secret");
    assert_eq!(on_b.expect_event("task.created").await["data"]["title"], "made on B");
    drop((a, b));
    drop(database);
}
