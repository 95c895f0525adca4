//! `serve --demo`: demo users, the demo store with its deliberately broken pages, the demo catalog.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::{helpers::*, scraping::job_end};

#[tokio::test]
async fn the_demo_store_and_catalog_work_out_of_the_box() {
    let (database, url) = TestDatabase::create().await;
    let catalog = std::env::temp_dir().join(format!("taskwire-demo-{:016x}", rand::random::<u64>()));
    let dir = catalog.clone();
    let app = spawn_on(&url, move |c| {
        c.demo = true;
        c.catalog_dir = dir;
        c.scrape_timeout = Duration::from_millis(500);
    })
    .await;
    let admin = app.token(("admin", "admin-demo")).await;
    assert_eq!(app.get("/api/me", Some(&app.token(("worker", "worker-demo")).await)).await.1["role"], "ADMIN_LIMITED");
    let mut dashboard = app.ws_subscribed(&admin, &["jobs"], None).await;

    // The users and templates pages have what they show: both demo logins, the demo template.
    for page in ["/users", "/workflows"] {
        assert_eq!(app.http.get(app.url(page)).send().await.unwrap().status(), StatusCode::OK, "{page}");
    }
    let (_, users) = app.get("/api/users", Some(&admin)).await;
    let signed_in: Vec<_> = users.as_array().unwrap().iter().map(|u| u["last_login_at"].is_string()).collect();
    assert_eq!(signed_in, [true, true], "both demo users just signed in: {users}");
    let (_, workflows) = app.get("/api/workflows", Some(&admin)).await;
    assert_eq!(
        (workflows[0]["key"].as_str(), workflows[0]["active"].as_bool()),
        (Some("vehicle_registration"), Some(true))
    );

    let (_, stores) = app.get("/api/stores", Some(&admin)).await;
    assert_eq!(stores[0]["name"], "Demo Sports Shop");
    assert_eq!(stores[0]["items_count"], 12);
    assert_eq!(stores[1]["name"], "Demo Outlet");
    // A day of job history for the dashboard's figures and chart.
    let (_, stats) = app.get("/api/jobs/stats", Some(&admin)).await;
    let finished: u64 = stats["finished_per_hour"].as_array().unwrap().iter().map(|n| n.as_u64().unwrap()).sum();
    assert!(finished >= 10, "{stats}");
    assert!(stats["by_kind"].as_array().unwrap().len() >= 2, "{stats}");
    let (status, job) = app.post(&format!("/api/stores/{}/scrape", stores[0]["id"]), Some(&admin)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let end = job_end(&mut dashboard, job["id"].as_i64().unwrap()).await;
    assert_eq!(end["event"], "job.completed", "{end}");
    assert_eq!((end["data"]["items_processed"].as_i64(), end["data"]["items_failed"].as_i64()), (Some(12), Some(4)));
    let (_, detail) = app.get(&format!("/api/jobs/{}", job["id"]), Some(&admin)).await;
    let reasons: Vec<&str> =
        detail["failures"].as_array().unwrap().iter().map(|f| f["reason"].as_str().unwrap()).collect();
    for expected in ["HTTP 404", "found nothing", "unparsable price", "timed out"] {
        assert!(reasons.iter().any(|r| r.contains(expected)), "{expected} in {reasons:?}");
    }

    let (_, files) = app.get("/api/imports/catalog/files", Some(&admin)).await;
    assert_eq!(files, json!(["catalog.csv", "import.xml"]));
    let (_, import) = app.post_json("/api/imports/catalog", Some(&admin), &json!({})).await;
    assert_eq!(job_end(&mut dashboard, import["id"].as_i64().unwrap()).await["event"], "job.completed");
    let (_, products) = app.get("/api/products?search=SP-0001", Some(&admin)).await;
    assert_eq!(products[0]["cheapest"]["store_name"], "Demo Sports Shop", "demo prices meet the demo catalog");
    // Two weeks of price history in each store for the product charts.
    let (_, detail) = app.get(&format!("/api/products/{}", products[0]["id"]), Some(&admin)).await;
    let offers = detail["offers"].as_array().unwrap();
    assert!(offers.len() >= 3, "the shop's two items and the outlet's: {detail}");
    for offer in offers {
        assert!(offer["history"].as_array().unwrap().len() >= 14, "{offer}");
    }
    drop(app);
    drop(database);
    let _ = std::fs::remove_dir_all(catalog);
}
