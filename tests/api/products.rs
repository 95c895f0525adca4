//! Product analytics: min / avg / max price across active stores, the cheapest
//! store, and every store's price with its history.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    helpers::*,
    scraping::{add_item, create_store, job_end, tempdir_with},
    shop::FakeShop,
};

/// A catalog with product P-1, priced by three stores: A at 80, B at 120, and an inactive one at 10.
pub async fn three_stores_pricing_one_product() -> (TestApp, FakeShop, String, Value) {
    let shop = FakeShop::start().await;
    let dir = tempdir_with(&[("catalog.csv", "sku,name,price,currency\nP-1,Ball,100,RUB\nP-2,Net,5,RUB\n")]);
    let host = shop.host();
    let app = spawn_app_with(move |c| {
        c.catalog_dir = dir;
        c.scrape_allowed_hosts = vec![host];
    })
    .await;
    let admin = app.token(ADMIN).await;
    let mut ws = app.ws_subscribed(&admin, &["jobs"], None).await;
    let (_, import) = app.post_json("/api/imports/catalog", Some(&admin), &json!({"file": "catalog.csv"})).await;
    assert_eq!(job_end(&mut ws, import["id"].as_i64().unwrap()).await["event"], "job.completed");
    for (name, page) in [("Store A", 8), ("Store B", 12), ("Closed store", 1)] {
        let store = create_store(&app, &admin, name).await;
        add_item(&app, &admin, store, json!({"name": "Ball", "url": shop.url(&format!("/item/{page}")), "sku": "P-1"}))
            .await;
        for _ in 0..2 {
            let (_, job) = app.post(&format!("/api/stores/{store}/scrape"), Some(&admin)).await;
            assert_eq!(job_end(&mut ws, job["id"].as_i64().unwrap()).await["event"], "job.completed");
        }
        if name == "Closed store" {
            let body = json!({"is_active": false});
            app.request(Method::PATCH, &format!("/api/stores/{store}"), Some(&admin), Some(&body)).await;
        }
    }
    let (_, products) = app.get("/api/products?search=P-1", Some(&admin)).await;
    let product = products[0].clone();
    (app, shop, admin, product)
}

#[tokio::test]
async fn products_show_min_avg_max_and_each_store_with_history() {
    let (app, _shop, admin, product) = three_stores_pricing_one_product().await;
    assert_eq!(product["sku"], "P-1");
    assert_eq!((product["min_price"].as_f64(), product["avg_price"].as_f64()), (Some(80.0), Some(100.0)));
    assert_eq!(product["max_price"].as_f64(), Some(120.0));
    assert_eq!(product["offers_count"], 2, "the inactive store is left out");
    assert_eq!(product["cheapest"]["store_name"], "Store A");
    let (_, net) = app.get("/api/products?search=P-2", Some(&admin)).await;
    assert_eq!((net[0]["min_price"].clone(), net[0]["offers_count"].clone()), (Value::Null, json!(0)));

    let (status, detail) = app.get(&format!("/api/products/{}", product["id"]), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["name"], "Ball");
    assert_eq!(detail["min_price"].as_f64(), Some(80.0));
    let offers = detail["offers"].as_array().unwrap();
    let stores: Vec<&str> = offers.iter().map(|o| o["store_name"].as_str().unwrap()).collect();
    assert_eq!(stores, ["Store A", "Store B"], "cheapest first, active stores only");
    assert_eq!((offers[0]["cheapest"].as_bool(), offers[1]["cheapest"].as_bool()), (Some(true), Some(false)));
    assert_eq!(offers[1]["price"].as_f64(), Some(120.0));
    for offer in offers {
        let history = offer["history"].as_array().unwrap();
        assert_eq!(history.len(), 2, "two scrapes: {offer}");
        assert!(history[0]["scraped_at"].as_str() <= history[1]["scraped_at"].as_str(), "oldest first");
    }

    assert_error(&app.get("/api/products/999999", Some(&admin)).await, StatusCode::NOT_FOUND, "not_found");
    assert_error(&app.get("/api/products/x", Some(&admin)).await, StatusCode::BAD_REQUEST, "validation_failed");
    let ann = app.token(ANN).await;
    let path = format!("/api/products/{}", product["id"]);
    assert_error(&app.get(&path, Some(&ann)).await, StatusCode::FORBIDDEN, "forbidden");
}
