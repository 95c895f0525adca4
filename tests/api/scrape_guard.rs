//! Scraping refuses the server's own network (SSRF): local servers, redirects into it,
//! redirect chains, and what an item's error may quote from a page.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use axum::{
    Router,
    extract::Path,
    http::{StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
    routing::get,
};
use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use serde_json::{Value, json};

use crate::{
    helpers::*,
    scraping::{add_item, create_store, job_end},
};

/// A local HTTP server that counts the requests it gets.
struct Site {
    address: std::net::SocketAddr,
    hits: Arc<AtomicUsize>,
}

impl Site {
    /// Serves `/item` (a good page), `/hop/{n}` (n redirects, then a page), redirects
    /// to `target` (another server's base URL) in several spellings, and a noisy page.
    async fn start(target: Option<String>) -> Site {
        let hits = Arc::new(AtomicUsize::new(0));
        let target = target.unwrap_or_default();
        let counter = hits.clone();
        let router = Router::new()
            .route("/item", get(|| async { price_page("10,00 ₽") }))
            .route(
                "/hop/{n}",
                get(|Path(n): Path<u32>| async move {
                    if n == 0 {
                        price_page("10,00 ₽")
                    } else {
                        Redirect::to(&format!("/hop/{}", n - 1)).into_response()
                    }
                }),
            )
            .route(
                "/to-literal",
                get({
                    let target = target.clone();
                    move || async move { Redirect::temporary(&format!("{target}/item")).into_response() }
                }),
            )
            .route(
                "/to-localhost",
                get({
                    let target = target.replace("127.0.0.1", "localhost");
                    move || async move { Redirect::permanent(&format!("{target}/item")).into_response() }
                }),
            )
            .route("/to-file", get(|| async { Redirect::to("file:///etc/passwd").into_response() }))
            .route("/noisy", get(|| async { price_page(&noisy_price()) }))
            .layer(axum::middleware::from_fn(move |request: axum::extract::Request, next: axum::middleware::Next| {
                counter.fetch_add(1, Ordering::SeqCst);
                async move { next.run(request).await }
            }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        Site { address, hits }
    }

    fn base(&self) -> String {
        format!("http://{}", self.address)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

fn price_page(price: &str) -> Response {
    let html = format!(r#"<html><body><span class="price">{price}</span></body></html>"#);
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], Html(html)).into_response()
}

/// A "price" of several kilobytes: markup (escaped, so it is text), control characters, terminal escapes.
fn noisy_price() -> String {
    let chunk = "call us now \u{7}\u{1b}[2J &lt;img src=x onerror=alert(1)&gt; &#x202E;reversed ";
    chunk.repeat(200)
}

/// Scrapes the store, waits for the job's end, and returns it with the store's items.
async fn scrape(app: &TestApp, admin: &str, store: i64) -> (Value, Vec<Value>) {
    let mut dashboard = app.ws_subscribed(admin, &["jobs"], None).await;
    let (status, job) = app.post(&format!("/api/stores/{store}/scrape"), Some(admin)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    let end = job_end(&mut dashboard, job["id"].as_i64().unwrap()).await;
    let (_, items) = app.get(&format!("/api/stores/{store}/items"), Some(admin)).await;
    (end, items.as_array().unwrap().clone())
}

fn error_of<'a>(items: &'a [Value], name: &str) -> &'a str {
    let item = items.iter().find(|i| i["name"] == name).unwrap_or_else(|| panic!("no item {name}"));
    item["last_error"].as_str().unwrap_or_else(|| panic!("{name} has no error: {item}"))
}

#[tokio::test]
async fn the_default_configuration_refuses_a_local_server() {
    let local = Site::start(None).await;
    let app = spawn_app().await;
    let admin = app.token(ADMIN).await;
    let store = create_store(&app, &admin, "Local").await;
    let port = local.address.port();
    for (url, kind) in [
        (local.url("/item"), "127.0.0.1 is a loopback address"),
        (format!("http://localhost:{port}/item"), "localhost is the server's own machine"),
        (format!("http://[::1]:{port}/item"), "::1 is a loopback address"),
        (format!("http://2130706433:{port}/item"), "127.0.0.1 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/".to_owned(), "169.254.169.254 is a cloud metadata address"),
        ("http://metadata.google.internal/".to_owned(), "a cloud metadata service"),
        ("http://10.1.2.3/shop".to_owned(), "10.1.2.3 is a private address"),
        ("http://[fd00:ec2::254]/".to_owned(), "a cloud metadata address"),
    ] {
        let response =
            app.post_json(&format!("/api/stores/{store}/items"), Some(&admin), &json!({"name": "x", "url": url})).await;
        assert_error(&response, StatusCode::BAD_REQUEST, "validation_failed");
        let message = response.1["error"]["message"].as_str().unwrap();
        assert!(message.starts_with("url: refused: "), "{url}: {message}");
        assert!(message.contains(kind) && message.contains("SCRAPE_ALLOWED_HOSTS"), "{url}: {message}");
    }
    assert_eq!(app.get(&format!("/api/stores/{store}/items"), Some(&admin)).await.1, json!([]));

    // A name that resolves to the machine itself (as if its DNS changed after the item was
    // added) is refused when connecting: the check applies to the address actually used.
    taskwire::entity::store_item::ActiveModel {
        store_id: Set(store),
        name: Set("Rebound".into()),
        url: Set(format!("http://localhost:{port}/item")),
        price_selector: Set(".price".into()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    let (end, items) = scrape(&app, &admin, store).await;
    assert_eq!(end["event"], "job.completed", "{end}");
    assert_eq!(end["data"]["items_failed"], 1);
    let error = error_of(&items, "Rebound");
    assert!(
        error.starts_with("refused: ")
            && error.ends_with("is a loopback address (set SCRAPE_ALLOWED_HOSTS to allow it)"),
        "{error}"
    );
    assert_eq!(local.hits(), 0, "the local server was never contacted");
}

#[tokio::test]
async fn every_redirect_hop_is_checked_and_at_most_five_are_followed() {
    let internal = Site::start(None).await;
    let shop = Site::start(Some(internal.base())).await;
    let allowed = vec![shop.address.to_string()];
    let app = spawn_app_with(move |c| c.scrape_allowed_hosts = allowed).await;
    let admin = app.token(ADMIN).await;
    let store = create_store(&app, &admin, "Redirecting shop").await;
    for (name, path) in [
        ("allowed", "/item"),
        ("five hops", "/hop/5"),
        ("six hops", "/hop/6"),
        ("to a loopback literal", "/to-literal"),
        ("to localhost", "/to-localhost"),
        ("to a file", "/to-file"),
    ] {
        add_item(&app, &admin, store, json!({"name": name, "url": shop.url(path)})).await;
    }
    let (end, items) = scrape(&app, &admin, store).await;
    assert_eq!(end["event"], "job.completed", "{end}");
    assert_eq!((end["data"]["items_processed"].as_i64(), end["data"]["items_failed"].as_i64()), (Some(6), Some(4)));
    for name in ["allowed", "five hops"] {
        let item = items.iter().find(|i| i["name"] == name).unwrap();
        assert_eq!((item["price"].as_f64(), &item["last_error"]), (Some(10.0), &Value::Null), "{item}");
    }
    assert_eq!(error_of(&items, "six hops"), "refused: more than 5 redirects");
    assert_eq!(
        error_of(&items, "to a loopback literal"),
        "refused: 127.0.0.1 is a loopback address (set SCRAPE_ALLOWED_HOSTS to allow it)"
    );
    let to_localhost = error_of(&items, "to localhost");
    assert!(to_localhost.starts_with("refused: ") && to_localhost.contains("is a loopback address"), "{to_localhost}");
    assert!(error_of(&items, "to a file").contains("http and https only"));
    assert_eq!(internal.hits(), 0, "no redirect reached the internal server");
}

#[tokio::test]
async fn an_items_error_quotes_only_a_short_sanitized_snippet_of_the_page() {
    let shop = Site::start(None).await;
    let allowed = vec![shop.address.ip().to_string()];
    let app = spawn_app_with(move |c| c.scrape_allowed_hosts = allowed).await;
    let admin = app.token(ADMIN).await;
    let store = create_store(&app, &admin, "Noisy shop").await;
    add_item(&app, &admin, store, json!({"name": "noisy", "url": shop.url("/noisy")})).await;
    let (end, items) = scrape(&app, &admin, store).await;
    let error = error_of(&items, "noisy");
    let (_, detail) = app.get(&format!("/api/jobs/{}", end["data"]["id"]), Some(&admin)).await;
    let reason = detail["failures"][0]["reason"].as_str().unwrap();
    for text in [error, reason] {
        assert!(text.starts_with("unparsable price \"call us now"), "{text}");
        assert!(text.chars().count() <= 300, "{} characters: {text}", text.chars().count());
        assert!(!text.contains('<') && !text.contains('>'), "no markup: {text}");
        assert!(!text.chars().any(|c| c.is_control() || c == '\u{202E}'), "no control characters: {text:?}");
        assert!(!text.contains("\\u{"), "control characters are dropped, not escaped: {text}");
    }
}
