//! Catalog imports: CSV and CommerceML fixtures, bad files, exclusivity and the lock.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    helpers::*,
    scraping::{job_end, tempdir_with},
};

const CSV: &str = include_str!("../fixtures/catalog/catalog.csv");
const IMPORT_XML: &str = include_str!("../fixtures/catalog/import.xml");
const OFFERS_XML: &str = include_str!("../fixtures/catalog/offers.xml");

async fn import(app: &TestApp, token: &str, body: Value) -> Value {
    let (status, job) = app.post_json("/api/imports/catalog", Some(token), &body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    assert_eq!(job["kind"], "catalog_import");
    job
}

async fn products(app: &TestApp, token: &str) -> Vec<Value> {
    app.get("/api/products", Some(token)).await.1.as_array().unwrap().clone()
}

#[tokio::test]
async fn a_csv_catalog_is_imported_and_bad_rows_are_counted() {
    let dir = tempdir_with(&[("catalog.csv", CSV)]);
    let app = spawn_app_with({
        let dir = dir.clone();
        move |c| c.catalog_dir = dir
    })
    .await;
    let admin = app.token(ADMIN).await;
    let mut dashboard = app.ws_subscribed(&admin, &["jobs"], None).await;
    let (_, files) = app.get("/api/imports/catalog/files", Some(&admin)).await;
    assert_eq!(files, json!(["catalog.csv"]));
    let job = import(&app, &admin, json!({"file": "catalog.csv"})).await;
    let end = job_end(&mut dashboard, job["id"].as_i64().unwrap()).await;
    assert_eq!(end["event"], "job.completed", "{end}");
    assert_eq!(end["data"]["items_total"], 13);
    assert_eq!(end["data"]["items_processed"], 13);
    assert_eq!(end["data"]["items_failed"], 2);
    let all = products(&app, &admin).await;
    assert_eq!(all.len(), 12, "every row with a name is imported");
    let ball = all.iter().find(|p| p["sku"] == "SP-0001").unwrap();
    assert_eq!((ball["price"].as_f64(), ball["stock"].as_i64()), (Some(7490.0), Some(0)));
    let bad_price = all.iter().find(|p| p["sku"] == "SP-BAD3").unwrap();
    assert!(bad_price["price"].is_null());
    let (_, detail) = app.get(&format!("/api/jobs/{}", job["id"]), Some(&admin)).await;
    let reasons: Vec<&str> =
        detail["failures"].as_array().unwrap().iter().map(|f| f["reason"].as_str().unwrap()).collect();
    assert!(reasons.contains(&"no name") && reasons.iter().any(|r| r.contains("abc")), "{reasons:?}");

    // Importing again updates rather than duplicates.
    let again = import(&app, &admin, json!({"file": "catalog.csv"})).await;
    job_end(&mut dashboard, again["id"].as_i64().unwrap()).await;
    assert_eq!(products(&app, &admin).await.len(), 12);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_commerceml_exchange_is_imported_with_prices_and_stock() {
    let dir = tempdir_with(&[("import.xml", IMPORT_XML), ("offers.xml", OFFERS_XML), ("catalog.csv", CSV)]);
    let app = spawn_app_with({
        let dir = dir.clone();
        move |c| c.catalog_dir = dir
    })
    .await;
    let admin = app.token(ADMIN).await;
    let mut dashboard = app.ws_subscribed(&admin, &["jobs"], None).await;
    let job = import(&app, &admin, json!({})).await;
    assert_eq!(job["name"], "Import import.xml", "import.xml is the default");
    let end = job_end(&mut dashboard, job["id"].as_i64().unwrap()).await;
    assert_eq!(end["event"], "job.completed", "{end}");
    assert_eq!(end["data"]["items_processed"], 12);
    assert_eq!(end["data"]["items_failed"], 2);
    let all = products(&app, &admin).await;
    assert_eq!(all.len(), 11);
    assert_eq!(all.iter().filter(|p| p["price"].is_number() && p["stock"].is_number()).count(), 10);
    let ball = all.iter().find(|p| p["sku"] == "SP-0001").unwrap();
    assert_eq!(ball["name"], "Мяч футбольный Pro");
    assert_eq!(ball["category"], "Футбол");
    assert_eq!(ball["price"], 4390.0);
    assert_eq!(ball["stock"], 3);
    let (_, found) = app.get("/api/products?search=%D0%BC%D1%8F%D1%87", Some(&admin)).await;
    assert_eq!(found.as_array().unwrap().len(), 1, "a Cyrillic search ignores case: {found}");
    assert_eq!(found[0]["sku"], "SP-0001");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_truncated_xml_file_imports_the_goods_before_the_break() {
    let cut = IMPORT_XML.find("<Ид>prod-0004</Ид>").unwrap();
    let dir = tempdir_with(&[("import.xml", &IMPORT_XML[..cut]), ("offers.xml", OFFERS_XML)]);
    let app = spawn_app_with({
        let dir = dir.clone();
        move |c| c.catalog_dir = dir
    })
    .await;
    let admin = app.token(ADMIN).await;
    let mut dashboard = app.ws_subscribed(&admin, &["jobs"], None).await;
    let job = import(&app, &admin, json!({"file": "import.xml"})).await;
    let end = job_end(&mut dashboard, job["id"].as_i64().unwrap()).await;
    assert_eq!(end["event"], "job.completed", "{end}");
    assert_eq!(end["data"]["items_failed"], 2, "the cut-off good and the break");
    let skus: Vec<String> =
        products(&app, &admin).await.iter().map(|p| p["sku"].as_str().unwrap().to_owned()).collect();
    assert_eq!(skus.len(), 3);
    for sku in ["SP-0001", "SP-0002", "SP-0003"] {
        assert!(skus.iter().any(|s| s == sku), "{sku} in {skus:?}");
    }
    let (_, detail) = app.get(&format!("/api/jobs/{}", job["id"]), Some(&admin)).await;
    let failures = detail["failures"].as_array().unwrap();
    assert!(
        failures.iter().any(|f| f["item"] == "import.xml" && f["reason"].as_str().unwrap().contains("not well-formed"))
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_failing_import_releases_the_lock() {
    let dir = tempdir_with(&[("bad.csv", "id,title\n1,Ball\n"), ("catalog.csv", CSV)]);
    let app = spawn_app_with({
        let dir = dir.clone();
        move |c| c.catalog_dir = dir
    })
    .await;
    let admin = app.token(ADMIN).await;
    let mut dashboard = app.ws_subscribed(&admin, &["jobs"], None).await;
    let job = import(&app, &admin, json!({"file": "bad.csv"})).await;
    let end = job_end(&mut dashboard, job["id"].as_i64().unwrap()).await;
    assert_eq!(end["event"], "job.failed");
    assert!(end["data"]["error_message"].as_str().unwrap().contains("sku and name"), "{end}");
    assert!(products(&app, &admin).await.is_empty());
    // The lock was released: the next import starts at once.
    let next = import(&app, &admin, json!({"file": "catalog.csv"})).await;
    assert_eq!(job_end(&mut dashboard, next["id"].as_i64().unwrap()).await["event"], "job.completed");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_second_import_is_refused_while_one_runs() {
    let mut big = String::from("sku,name,price,stock\n");
    for n in 0..20_000 {
        big.push_str(&format!("BIG-{n},Product {n},{n}.50,{}\n", n % 7));
    }
    let dir = tempdir_with(&[("big.csv", &big), ("catalog.csv", CSV)]);
    let app = spawn_app_with({
        let dir = dir.clone();
        move |c| c.catalog_dir = dir
    })
    .await;
    let admin = app.token(ADMIN).await;
    let mut dashboard = app.ws_subscribed(&admin, &["jobs"], None).await;
    let first = import(&app, &admin, json!({"file": "big.csv"})).await;
    let id = first["id"].as_i64().unwrap();
    let refused = app.post_json("/api/imports/catalog", Some(&admin), &json!({"file": "catalog.csv"})).await;
    assert_error(&refused, StatusCode::CONFLICT, "already_running");
    let message = refused.1["error"]["message"].as_str().unwrap();
    assert!(message.contains(&format!("job {id}")) && message.contains("started"), "{message}");

    let (status, _) = app.post(&format!("/api/jobs/{id}/cancel"), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(job_end(&mut dashboard, id).await["event"], "job.cancelled");
    let next = import(&app, &admin, json!({"file": "catalog.csv"})).await;
    assert_eq!(job_end(&mut dashboard, next["id"].as_i64().unwrap()).await["event"], "job.completed");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_panicking_job_fails_with_its_message_and_releases_its_lock() {
    use taskwire::jobs::service::{NewJob, Runner, create_job};
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let mut dashboard = app.ws_subscribed(&admin, &["jobs"], None).await;
    let state = &app.state;
    let job = create_job(
        state,
        NewJob {
            kind: "catalog_import".into(),
            name: "Doomed".into(),
            scope: None,
            items_total: 0,
            runner: Runner::Server,
            params: None,
            created_by: None,
            start_running: false,
            exclusive: false,
        },
    )
    .await
    .unwrap();
    let guard = state.locks.try_acquire("catalog_import").await.unwrap().expect("the lock is free");
    let id = job.id;
    state.jobs.spawn(state, job.id, Some(guard), move |_context| async move {
        if id > 0 {
            panic!("the parser exploded");
        }
        Ok(String::new())
    });
    let end = job_end(&mut dashboard, job.id).await;
    assert_eq!(end["event"], "job.failed");
    assert_eq!(end["data"]["error_message"], "the job crashed: the parser exploded");
    let deadline = tokio::time::Instant::now() + WAIT;
    while state.locks.try_acquire("catalog_import").await.unwrap().is_none() {
        assert!(tokio::time::Instant::now() < deadline, "the lock was never released");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn bad_import_requests_are_refused() {
    let dir = tempdir_with(&[("catalog.csv", CSV)]);
    let app = spawn_app_with({
        let dir = dir.clone();
        move |c| c.catalog_dir = dir
    })
    .await;
    let admin = app.token(ADMIN).await;
    for file in ["../catalog.csv", "/etc/passwd", "nope.csv"] {
        let response = app.post_json("/api/imports/catalog", Some(&admin), &json!({"file": file})).await;
        assert_error(&response, StatusCode::BAD_REQUEST, "validation_failed");
        assert!(response.1["error"]["message"].as_str().unwrap().contains("file"));
    }
    let garbage =
        app.http.post(app.url("/api/imports/catalog")).bearer_auth(&admin).body("{nope").send().await.unwrap();
    assert_eq!(garbage.status(), StatusCode::BAD_REQUEST);
    let (_, jobs) = app.get("/api/jobs", Some(&admin)).await;
    assert_eq!(jobs["items"], json!([]), "no job was created by bad requests");
    let _ = std::fs::remove_dir_all(dir);
}
