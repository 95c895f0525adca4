//! A small real HTTP server playing the shops a scrape visits.

use std::{net::SocketAddr, time::Duration};

use axum::{Router, extract::Path, http::StatusCode, response::Html, routing::get};

/// A shop on a random port; item pages say `{n × 10},00 ₽`.
pub struct FakeShop {
    pub address: SocketAddr,
}

impl FakeShop {
    pub async fn start() -> FakeShop {
        let router = Router::new()
            .route("/item/{n}", get(|Path(n): Path<u32>| async move { page(&format!("{},00 ₽", n * 10)) }))
            .route("/missing", get(|| async { (StatusCode::NOT_FOUND, Html("gone".to_owned())) }))
            .route("/noprice", get(|| async { (StatusCode::OK, Html("<p>Ask us</p>".to_owned())) }))
            .route("/garbage", get(|| async { page("call us") }))
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    page("1,00")
                }),
            )
            .route(
                "/sleepy/{n}",
                get(|Path(n): Path<u32>| async move {
                    tokio::time::sleep(Duration::from_millis(400)).await;
                    page(&format!("{n}.00"))
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        FakeShop { address }
    }

    /// `127.0.0.1:port`, for `SCRAPE_ALLOWED_HOSTS`: a local shop is refused unless listed.
    pub fn host(&self) -> String {
        self.address.to_string()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }
}

fn page(price: &str) -> (StatusCode, Html<String>) {
    (
        StatusCode::OK,
        Html(format!(
            r#"<html><body><span class="price">{price}</span><span class="stock">In stock</span></body></html>"#
        )),
    )
}
