//! The browser pages, embedded in the binary: no build step, nothing to deploy beside it.
//!
//! Every page is one shell (`web/shell.html`: the head, and the top bar of
//! `web/topbar.html`) around the page's own body (`web/pages/{name}.html`),
//! put together once, at first use.

use std::sync::LazyLock;

use axum::{
    Router,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};

use crate::{
    error::{AppError, AppPath},
    state::AppState,
};

/// One embedded file.
#[derive(Clone, Copy)]
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:literal) => {
        Asset { name: $name, content_type: $type, body: include_bytes!(concat!("../web/", $name)) }
    };
}

const ASSETS: &[Asset] = &[
    asset!("assets/style.css", "text/css; charset=utf-8"),
    asset!("assets/api.js", "text/javascript; charset=utf-8"),
    asset!("assets/live.js", "text/javascript; charset=utf-8"),
    asset!("assets/page.js", "text/javascript; charset=utf-8"),
    asset!("assets/dom.js", "text/javascript; charset=utf-8"),
    asset!("assets/focus.js", "text/javascript; charset=utf-8"),
    asset!("assets/format.js", "text/javascript; charset=utf-8"),
    asset!("assets/timing.js", "text/javascript; charset=utf-8"),
    asset!("assets/notify.js", "text/javascript; charset=utf-8"),
    asset!("assets/forms.js", "text/javascript; charset=utf-8"),
    asset!("assets/freshness.js", "text/javascript; charset=utf-8"),
    asset!("assets/task-card.js", "text/javascript; charset=utf-8"),
    asset!("assets/job-progress.js", "text/javascript; charset=utf-8"),
    asset!("assets/alerts.js", "text/javascript; charset=utf-8"),
    asset!("assets/task-filter.js", "text/javascript; charset=utf-8"),
    asset!("assets/login.js", "text/javascript; charset=utf-8"),
    asset!("assets/admin.js", "text/javascript; charset=utf-8"),
    asset!("assets/my.js", "text/javascript; charset=utf-8"),
    asset!("assets/jobs.js", "text/javascript; charset=utf-8"),
    asset!("assets/stores.js", "text/javascript; charset=utf-8"),
    asset!("assets/orders.js", "text/javascript; charset=utf-8"),
    asset!("assets/favicon.svg", "image/svg+xml"),
];

/// One page: the shell around its own body.
struct Page {
    /// Where it is served.
    path: &'static str,
    /// `admin`: its body is `web/pages/admin.html`, its script `/assets/admin.js`, its `<body>` class `page-admin`.
    name: &'static str,
    /// The tab title (before " · taskwire"), and the heading in the top bar.
    title: &'static str,
    /// Where the top bar's brand link points until the script sets the user's own page.
    /// `None`: the page has no top bar (the login page).
    home: Option<&'static str>,
    /// Its `<main>` element.
    body: &'static str,
}

macro_rules! page {
    ($path:literal, $name:literal, $title:literal, $home:expr) => {
        Page {
            path: $path,
            name: $name,
            title: $title,
            home: $home,
            body: include_str!(concat!("../web/pages/", $name, ".html")),
        }
    };
}

const PAGES: &[Page] = &[
    page!("/", "login", "Sign in", None),
    page!("/admin", "admin", "Approvals", Some("/admin")),
    page!("/my", "my", "My tasks", Some("/my")),
    page!("/jobs", "jobs", "Jobs", Some("/admin")),
    page!("/stores", "stores", "Stores", Some("/admin")),
    page!("/orders", "orders", "Orders", Some("/")),
];

const SHELL: &str = include_str!("../web/shell.html");
/// Markup that more than one page body includes, by `{{name}}`.
const PARTIALS: &[(&str, &str)] = &[("task_filters", include_str!("../web/partials/task-filters.html"))];
const TOPBAR: &str = include_str!("../web/topbar.html");

/// The HTML of every page of `PAGES`, in the same order, put together at first use.
static RENDERED: LazyLock<Vec<String>> = LazyLock::new(|| PAGES.iter().map(Page::render).collect());

impl Page {
    fn render(&self) -> String {
        // A blank line parts the top bar from <main>.
        let body = fill(self.body, PARTIALS);
        let topbar = self.home.map(|home| fill(TOPBAR, &[("home", home), ("title", self.title)]) + "\n");
        let values = [
            ("title", self.title),
            ("name", self.name),
            ("topbar", topbar.as_deref().unwrap_or_default()),
            ("main", body.trim_end()),
        ];
        fill(SHELL, &values)
    }
}

/// `template` with each `{{key}}` replaced by its value. Values go in as they
/// are: a `{{` inside a value is not a placeholder.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + values.iter().map(|(_, value)| value.len()).sum::<usize>());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let end = start + rest[start..].find("}}").expect("every {{ in a template is closed by }}");
        let key = &rest[start + 2..end];
        let Some((_, value)) = values.iter().find(|(k, _)| *k == key) else {
            panic!("the template names {{{{{key}}}}}, which has no value");
        };
        out.push_str(&rest[..start]);
        out.push_str(value);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// A page by name, or an asset by its path under `web/`.
fn find(name: &str) -> Option<Asset> {
    if let Some(index) = PAGES.iter().position(|page| page.name == name) {
        let body = RENDERED[index].as_bytes();
        return Some(Asset { name: PAGES[index].name, content_type: "text/html; charset=utf-8", body });
    }
    ASSETS.iter().find(|a| a.name == name).copied()
}

/// Pages allow only their own scripts and styles, and talk only to this server
/// (`connect-src 'self'` covers its own WebSocket too: no socket to any other host).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub fn router() -> Router<AppState> {
    let mut router = Router::new();
    for p in PAGES {
        router = router.route(p.path, get(move || async move { page(p.name) }));
    }
    router.route("/favicon.ico", get(|| async { page("assets/favicon.svg") })).route("/assets/{file}", get(asset))
}

async fn asset(AppPath(file): AppPath<String>) -> Response {
    page(&format!("assets/{file}"))
}

fn page(name: &str) -> Response {
    let Some(asset) = find(name) else {
        return AppError::NotFound(format!("no such file: {name}")).into_response();
    };
    let mut response = (StatusCode::OK, asset.body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if asset.content_type.starts_with("text/html") {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_is_the_shell_around_its_body() {
        for (p, html) in PAGES.iter().zip(RENDERED.iter()) {
            assert!(!html.contains("{{"), "{}: a placeholder is left", p.name);
            assert!(html.starts_with("<!doctype html>") && html.ends_with("</html>\n"), "{}", p.name);
            assert!(html.contains(&format!("<title>{} · taskwire</title>", p.title)), "{}", p.name);
            assert!(html.contains(&format!(r#"<script type="module" src="/assets/{}.js"></script>"#, p.name)));
            assert!(html.contains(&format!(r#"<body class="page-{}">"#, p.name)));
            assert_eq!(html.matches("<main").count(), 1, "{}", p.name);
            assert_eq!(html.contains(r#"<header class="topbar">"#), p.home.is_some(), "{}", p.name);
            if let Some(home) = p.home {
                assert!(html.contains(&format!(r#"<a class="brand" href="{home}""#)), "{}", p.name);
                assert!(html.contains(&format!(r#"<h1 class="page-title">{}</h1>"#, p.title)), "{}", p.name);
            }
        }
    }

    #[test]
    fn values_are_not_read_as_placeholders() {
        assert_eq!(fill("<{{a}}|{{b}}>", &[("a", "{{b}}"), ("b", "x")]), "<{{b}}|x>");
    }

    /// A script that imports a module the server does not embed fails in the browser only.
    #[test]
    fn every_script_and_module_a_page_loads_is_embedded() {
        let script = |name: &str| {
            let path = format!("assets/{name}");
            ASSETS.iter().any(|a| a.name == path && a.content_type.starts_with("text/javascript"))
        };
        for p in PAGES {
            assert!(script(&format!("{}.js", p.name)), "{}.js is not in ASSETS", p.name);
        }
        for module in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            let text = std::str::from_utf8(module.body).unwrap();
            for import in text.split("from './").skip(1) {
                let name = &import[..import.find('\'').unwrap()];
                assert!(script(name), "{} imports {name}, which is not in ASSETS", module.name);
            }
        }
    }
}
