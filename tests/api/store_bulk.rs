//! Bulk store actions and editing or deleting an item, including while a scrape reads it.

use std::sync::Arc;

use axum::{Router, response::Html, routing::get};
use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};

use crate::{
    helpers::*,
    scraping::{add_item, create_store, job_end},
    shop::FakeShop,
};

async fn bulk(app: &TestApp, token: &str, body: Value) -> (StatusCode, Value) {
    app.post_json("/api/stores/bulk", Some(token), &body).await
}

async fn stores_active(app: &TestApp, token: &str) -> Vec<(i64, bool)> {
    let (_, stores) = app.get("/api/stores", Some(token)).await;
    stores.as_array().unwrap().iter().map(|s| (s["id"].as_i64().unwrap(), s["is_active"].as_bool().unwrap())).collect()
}

#[tokio::test]
async fn stores_are_deactivated_and_activated_together_all_or_none() {
    let app = spawn_app_with(|c| c.store_bulk_max = 3).await;
    let admin = app.token(ADMIN).await;
    let a = create_store(&app, &admin, "Shop A").await;
    let b = create_store(&app, &admin, "Shop B").await;
    let c = create_store(&app, &admin, "Shop C").await;

    // Repeated ids count once; the answer lists the stores by id.
    let (status, changed) = bulk(&app, &admin, json!({"store_ids": [b, a, b], "is_active": false})).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    let changed: Vec<(i64, bool)> = changed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_i64().unwrap(), s["is_active"].as_bool().unwrap()))
        .collect();
    assert_eq!(changed, vec![(a, false), (b, false)]);
    assert_eq!(stores_active(&app, &admin).await, vec![(a, false), (b, false), (c, true)]);
    // An inactive store is not scraped, by hand or in bulk.
    assert_error(
        &app.post_json("/api/stores/scrape", Some(&admin), &json!({"store_ids": [a]})).await,
        StatusCode::CONFLICT,
        "invalid_state",
    );

    // One unknown store: 404 naming it, and the others are left as they were.
    let missing = bulk(&app, &admin, json!({"store_ids": [a, c, 987654], "is_active": true})).await;
    assert_error(&missing, StatusCode::NOT_FOUND, "not_found");
    assert!(missing.1["error"]["message"].as_str().unwrap().contains("987654"), "{}", missing.1);
    assert_eq!(stores_active(&app, &admin).await, vec![(a, false), (b, false), (c, true)]);

    let (status, _) = bulk(&app, &admin, json!({"store_ids": [a, b], "is_active": true})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stores_active(&app, &admin).await, vec![(a, true), (b, true), (c, true)]);

    // Bad requests change nothing.
    for body in [
        json!({"store_ids": [], "is_active": false}),
        json!({"store_ids": [a]}),
        json!({"store_ids": [a], "is_active": "no"}),
        json!({"store_ids": [a], "is_active": false, "name": "x"}),
        json!({"store_ids": ["1"], "is_active": false}),
    ] {
        assert_error(&bulk(&app, &admin, body).await, StatusCode::BAD_REQUEST, "validation_failed");
    }
    assert_eq!(stores_active(&app, &admin).await, vec![(a, true), (b, true), (c, true)]);

    // STORE_BULK_MAX (3 here) bounds bulk activation and bulk scrapes alike.
    let four = json!([a, b, c, 987654]);
    let over = bulk(&app, &admin, json!({"store_ids": four, "is_active": false})).await;
    assert_error(&over, StatusCode::BAD_REQUEST, "validation_failed");
    assert!(over.1["error"]["message"].as_str().unwrap().contains("at most 3"), "{}", over.1);
    assert_error(
        &app.post_json("/api/stores/scrape", Some(&admin), &json!({"store_ids": four})).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    );
    let (status, _) = bulk(&app, &admin, json!({"store_ids": [a, b, c], "is_active": false})).await;
    assert_eq!(status, StatusCode::OK, "exactly the limit is allowed");

    let limited = app.token(ANN).await;
    assert_error(
        &bulk(&app, &limited, json!({"store_ids": [a], "is_active": true})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error(
        &app.post_json("/api/stores/bulk", None, &json!({"store_ids": [a], "is_active": true})).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
}

#[tokio::test]
async fn simultaneous_bulk_changes_each_apply_whole() {
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let mut ids = Vec::new();
    for n in 0..8 {
        ids.push(create_store(&app, &admin, &format!("Shop {n}")).await);
    }
    // 24 requests at once, alternately switching the same stores off and on (in different orders).
    let requests = (0..24).map(|n| {
        let mut order = ids.clone();
        if n % 3 == 0 {
            order.reverse();
        }
        let body = json!({"store_ids": order, "is_active": n % 2 == 0});
        let app = &app;
        let admin = &admin;
        async move { bulk(app, admin, body).await }
    });
    for (status, body) in join_all(requests).await {
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // Whichever came last, it applied to every store: no mix of two requests.
    let states: Vec<bool> = stores_active(&app, &admin).await.into_iter().map(|(_, active)| active).collect();
    assert_eq!(states.len(), 8);
    assert!(states.iter().all(|s| *s == states[0]), "stores ended up mixed: {states:?}");
}

/// A server scraping a fake shop, an ADMIN watching `jobs`, and two stores.
struct Shops {
    shop: FakeShop,
    app: TestApp,
    admin: String,
    dashboard: WsClient,
    store: i64,
    other: i64,
}

impl Shops {
    async fn start() -> Shops {
        let shop = FakeShop::start().await;
        let app = spawn_app_with(|c| c.scrape_allowed_hosts = vec![shop.host()]).await;
        let admin = app.token(ADMIN).await;
        let dashboard = app.ws_subscribed(&admin, &["jobs"], None).await;
        let store = create_store(&app, &admin, "Shop A").await;
        let other = create_store(&app, &admin, "Shop B").await;
        Shops { shop, app, admin, dashboard, store, other }
    }
}

#[tokio::test]
async fn an_item_is_edited_field_by_field_and_bad_changes_are_refused() {
    let Shops { shop, app, admin, mut dashboard, store, other } = Shops::start().await;
    let item = add_item(
        &app,
        &admin,
        store,
        json!({"name": "Ball", "url": shop.url("/missing"), "sku": "SP-1", "stock_selector": ".stock"}),
    )
    .await;
    let id = item["id"].as_i64().unwrap();
    let path = format!("/api/stores/{store}/items/{id}");
    let patch = |body: Value| {
        let app = &app;
        let admin = &admin;
        let path = path.clone();
        async move { app.request(Method::PATCH, &path, Some(admin), Some(&body)).await }
    };

    // A failed reading leaves an error on the item.
    let (_, job) = app.post(&format!("/api/stores/{store}/scrape"), Some(&admin)).await;
    job_end(&mut dashboard, job["id"].as_i64().unwrap()).await;
    let (_, items) = app.get(&format!("/api/stores/{store}/items"), Some(&admin)).await;
    assert_eq!(items[0]["last_error"], "HTTP 404");

    // Renaming alone keeps the error (it is still about the same page).
    let (status, renamed) = patch(json!({"name": "  Football  "})).await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!((renamed["name"].as_str(), renamed["last_error"].as_str()), (Some("Football"), Some("HTTP 404")));
    assert_eq!(renamed["url"], item["url"]);

    // A new page clears it; the next scrape reads the new page.
    let (status, moved) = patch(json!({"url": shop.url("/item/7")})).await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["url"], shop.url("/item/7"));
    assert_eq!(moved["last_error"], Value::Null);
    let (_, job) = app.post(&format!("/api/stores/{store}/scrape"), Some(&admin)).await;
    let end = job_end(&mut dashboard, job["id"].as_i64().unwrap()).await;
    assert_eq!(end["event"], "job.completed", "{end}");
    let (_, items) = app.get(&format!("/api/stores/{store}/items"), Some(&admin)).await;
    assert_eq!(items[0]["price"], 70.0);

    // null clears the SKU and the stock selector and restores the default price selector.
    let (status, cleared) =
        patch(json!({"sku": null, "stock_selector": null, "price_selector": null, "name": "Ball"})).await;
    assert_eq!(status, StatusCode::OK, "{cleared}");
    assert_eq!(cleared["sku"], Value::Null);
    assert_eq!(cleared["stock_selector"], Value::Null);
    assert_eq!(cleared["price_selector"], ".price");
    assert_eq!(cleared["price"], 70.0, "the price and its history stay");
    let (status, set) = patch(json!({"sku": "SP-9", "price_selector": "span.price"})).await;
    assert_eq!(status, StatusCode::OK, "{set}");
    assert_eq!((set["sku"].as_str(), set["price_selector"].as_str()), (Some("SP-9"), Some("span.price")));
    // An item always has a name and a page: null leaves them as they are.
    let (status, kept) = patch(json!({"name": null, "url": null})).await;
    assert_eq!(
        (status, kept["name"].as_str(), kept["url"].clone()),
        (StatusCode::OK, Some("Ball"), set["url"].clone())
    );

    // Bad changes are refused with the field named, and change nothing.
    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "x".repeat(201)}), "name"),
        (json!({"url": "ftp://shop/item"}), "url"),
        (json!({"url": "not a url"}), "url"),
        (json!({"url": "http://127.0.0.1:1/internal", "name": "Changed"}), "url"),
        (json!({"price_selector": "[[", "name": "Changed"}), "price_selector"),
        (json!({"stock_selector": "a:::b"}), "stock_selector"),
        (json!({"sku": "s".repeat(101)}), "sku"),
    ] {
        let refused = patch(body.clone()).await;
        assert_error(&refused, StatusCode::BAD_REQUEST, "validation_failed");
        assert!(refused.1["error"]["message"].as_str().unwrap().starts_with(field), "{body}: {}", refused.1);
    }
    for body in [json!({"store_id": other}), json!({"name": 5}), json!([]), json!(["Renamed"])] {
        assert_error(&patch(body).await, StatusCode::BAD_REQUEST, "validation_failed");
    }
    let (_, items) = app.get(&format!("/api/stores/{store}/items"), Some(&admin)).await;
    assert_eq!(items[0]["name"], "Ball");
    assert_eq!(items[0]["url"], shop.url("/item/7"));
    assert_eq!(items[0]["price_selector"], "span.price");

    // The item belongs to its store: through another store it does not exist.
    let rename = json!({"name": "x"});
    for other_path in [format!("/api/stores/{other}/items/{id}"), format!("/api/stores/{store}/items/424242")] {
        let refused = app.request(Method::PATCH, &other_path, Some(&admin), Some(&rename)).await;
        assert_error(&refused, StatusCode::NOT_FOUND, "not_found");
    }
    let limited = app.token(ANN).await;
    assert_error(
        &app.request(Method::PATCH, &path, Some(&limited), Some(&json!({"name": "x"}))).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
}

#[tokio::test]
async fn a_deleted_item_takes_its_history_and_only_one_delete_succeeds() {
    let Shops { shop, app, admin, mut dashboard, store, other } = Shops::start().await;
    let gone = add_item(&app, &admin, store, json!({"name": "Ball", "url": shop.url("/item/3")})).await;
    let kept = add_item(&app, &admin, store, json!({"name": "Net", "url": shop.url("/item/4")})).await;
    let (_, job) = app.post(&format!("/api/stores/{store}/scrape"), Some(&admin)).await;
    job_end(&mut dashboard, job["id"].as_i64().unwrap()).await;
    let history = format!("/api/stores/{store}/items/{}/history", gone["id"]);
    let (status, points) = app.get(&history, Some(&admin)).await;
    assert_eq!((status, points.as_array().unwrap().len()), (StatusCode::OK, 1));

    let path = format!("/api/stores/{store}/items/{}", gone["id"]);
    assert_error(
        &app.request(Method::DELETE, &format!("/api/stores/{other}/items/{}", gone["id"]), Some(&admin), None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let limited = app.token(ANN).await;
    assert_error(&app.request(Method::DELETE, &path, Some(&limited), None).await, StatusCode::FORBIDDEN, "forbidden");

    // Ten deletes at once: one succeeds, the rest find nothing.
    let deletes = (0..10).map(|_| app.request(Method::DELETE, &path, Some(&admin), None));
    let results = join_all(deletes).await;
    let deleted = results.iter().filter(|(status, _)| *status == StatusCode::NO_CONTENT).count();
    assert_eq!(deleted, 1, "{results:?}");
    for result in results.iter().filter(|(status, _)| *status != StatusCode::NO_CONTENT) {
        assert_error(result, StatusCode::NOT_FOUND, "not_found");
    }

    assert_error(&app.get(&history, Some(&admin)).await, StatusCode::NOT_FOUND, "not_found");
    let (_, items) = app.get(&format!("/api/stores/{store}/items"), Some(&admin)).await;
    let names: Vec<&str> = items.as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Net"]);
    let (_, stores) = app.get("/api/stores", Some(&admin)).await;
    assert_eq!(stores[0]["items_count"], 1);
    let (status, points) = app.get(&format!("/api/stores/{store}/items/{}/history", kept["id"]), Some(&admin)).await;
    assert_eq!((status, points.as_array().unwrap().len()), (StatusCode::OK, 1), "the other item keeps its history");
}

/// A shop whose one page answers only when the test lets it, telling the test when it is asked.
struct GatedShop {
    address: std::net::SocketAddr,
    asked: mpsc::UnboundedReceiver<()>,
    release: Arc<Notify>,
}

impl GatedShop {
    async fn start() -> GatedShop {
        let (tell, asked) = mpsc::unbounded_channel();
        let release = Arc::new(Notify::new());
        let gate = release.clone();
        let router = Router::new().route(
            "/gated/{n}",
            get(move || {
                let (tell, gate) = (tell.clone(), gate.clone());
                async move {
                    let _ = tell.send(());
                    gate.notified().await;
                    Html(r#"<html><body><span class="price">55,00</span></body></html>"#.to_owned())
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        GatedShop { address, asked, release }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }
}

#[tokio::test]
async fn a_reading_of_an_item_edited_or_deleted_during_the_scrape_is_not_recorded() {
    let mut shop = GatedShop::start().await;
    let host = shop.address.to_string();
    let app = spawn_app_with(|c| {
        c.scrape_allowed_hosts = vec![host];
        c.scrape_concurrency = 2;
    })
    .await;
    let admin = app.token(ADMIN).await;
    let mut dashboard = app.ws_subscribed(&admin, &["jobs"], None).await;
    let store = create_store(&app, &admin, "Gated shop").await;
    let edited = add_item(&app, &admin, store, json!({"name": "Edited", "url": shop.url("/gated/1")})).await;
    let deleted = add_item(&app, &admin, store, json!({"name": "Deleted", "url": shop.url("/gated/2")})).await;
    let (_, job) = app.post(&format!("/api/stores/{store}/scrape"), Some(&admin)).await;
    // Both pages are being read now.
    for _ in 0..2 {
        tokio::time::timeout(std::time::Duration::from_secs(10), shop.asked.recv())
            .await
            .expect("the scrape asks")
            .unwrap();
    }
    let (status, _) = app
        .request(
            Method::PATCH,
            &format!("/api/stores/{store}/items/{}", edited["id"]),
            Some(&admin),
            Some(&json!({"url": shop.url("/gated/3")})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) =
        app.request(Method::DELETE, &format!("/api/stores/{store}/items/{}", deleted["id"]), Some(&admin), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    shop.release.notify_waiters();

    let end = job_end(&mut dashboard, job["id"].as_i64().unwrap()).await;
    assert_eq!(end["event"], "job.completed", "{end}");
    assert_eq!((end["data"]["items_processed"].as_i64(), end["data"]["items_failed"].as_i64()), (Some(2), Some(2)));
    let (_, detail) = app.get(&format!("/api/jobs/{}", job["id"]), Some(&admin)).await;
    let reasons: Vec<&str> =
        detail["failures"].as_array().unwrap().iter().map(|f| f["reason"].as_str().unwrap_or_default()).collect();
    assert_eq!(reasons.len(), 2, "{detail}");
    assert!(reasons.iter().all(|r| r.contains("changed or deleted during the scrape")), "{reasons:?}");
    // The edited item keeps no reading of its old page, and no error either.
    let (_, items) = app.get(&format!("/api/stores/{store}/items"), Some(&admin)).await;
    assert_eq!(items.as_array().unwrap().len(), 1);
    assert_eq!((items[0]["price"].clone(), items[0]["last_error"].clone()), (Value::Null, Value::Null));
    let (_, points) = app.get(&format!("/api/stores/{store}/items/{}/history", edited["id"]), Some(&admin)).await;
    assert_eq!(points, json!([]));
}
