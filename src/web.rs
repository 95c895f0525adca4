//! The browser pages, embedded in the binary: no build step, nothing to deploy beside it.
//!
//! Every page is one shell (`web/shell.html`: the head, and the top bar of
//! `web/topbar.html`) around the page's own body (`web/pages/{name}.html`),
//! put together once, at first use. Each request gets it in the language of
//! the `lang` cookie (the switcher's choice) or of `Accept-Language`: the
//! `<html lang dir>` is set before the page's script translates the rest
//! from the message catalogs (`web/assets/i18n/{lang}.json`, all embedded).

use std::sync::LazyLock;

use axum::{
    Router,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};

use crate::{
    error::{AppError, AppPath},
    state::AppState,
};

/// The message catalogs, found by `build.rs` in `web/assets/i18n/`.
mod catalogs {
    include!(concat!(env!("OUT_DIR"), "/catalogs.rs"));
}

/// A language there is a catalog for.
struct Language {
    /// Its code, the catalog's file name: `ru`, `pt-BR`.
    code: &'static str,
    /// Written right to left: the catalog says `"_dir": "rtl"`.
    rtl: bool,
    /// The catalog, served as `assets/i18n/{code}.json`.
    path: String,
}

static LANGUAGES: LazyLock<Vec<Language>> = LazyLock::new(|| {
    catalogs::CATALOGS
        .iter()
        .map(|(code, json)| {
            let catalog: serde_json::Value =
                serde_json::from_slice(json).unwrap_or_else(|e| panic!("web/assets/i18n/{code}.json is not JSON: {e}"));
            Language { code, rtl: catalog["_dir"] == "rtl", path: format!("assets/i18n/{code}.json") }
        })
        .collect()
});

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
    asset!("assets/i18n.js", "text/javascript; charset=utf-8"),
    asset!("assets/lang-switch.js", "text/javascript; charset=utf-8"),
    asset!("assets/announce.js", "text/javascript; charset=utf-8"),
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
    asset!("assets/chart.js", "text/javascript; charset=utf-8"),
    asset!("assets/product-panel.js", "text/javascript; charset=utf-8"),
    asset!("assets/login.js", "text/javascript; charset=utf-8"),
    asset!("assets/admin.js", "text/javascript; charset=utf-8"),
    asset!("assets/my.js", "text/javascript; charset=utf-8"),
    asset!("assets/jobs.js", "text/javascript; charset=utf-8"),
    asset!("assets/stores.js", "text/javascript; charset=utf-8"),
    asset!("assets/orders.js", "text/javascript; charset=utf-8"),
    asset!("assets/clipboard.js", "text/javascript; charset=utf-8"),
    asset!("assets/password-choice.js", "text/javascript; charset=utf-8"),
    asset!("assets/users.js", "text/javascript; charset=utf-8"),
    asset!("assets/workflows.js", "text/javascript; charset=utf-8"),
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
    page!("/users", "users", "Users", Some("/admin")),
    page!("/workflows", "workflows", "Templates", Some("/admin")),
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
        let topbar =
            self.home.map(|home| fill(TOPBAR, &[("home", home), ("title", self.title), ("name", self.name)]) + "\n");
        let languages = LANGUAGES.iter().map(|l| l.code).collect::<Vec<_>>().join(" ");
        let values = [
            ("languages", languages.as_str()),
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

/// A page by name, or an asset (a message catalog too) by its path under `web/`.
fn find(name: &str) -> Option<Asset> {
    if let Some(index) = PAGES.iter().position(|page| page.name == name) {
        let body = RENDERED[index].as_bytes();
        return Some(Asset { name: PAGES[index].name, content_type: "text/html; charset=utf-8", body });
    }
    if let Some(index) = LANGUAGES.iter().position(|l| l.path == name) {
        let body = catalogs::CATALOGS[index].1;
        return Some(Asset { name: "catalog", content_type: "application/json; charset=utf-8", body });
    }
    ASSETS.iter().find(|a| a.name == name).copied()
}

/// The language a page is rendered in: the `lang` cookie (the switcher's
/// choice), else the first of `Accept-Language` there is a catalog for (the
/// tag or its base language), else English.
fn language_for(headers: &HeaderMap) -> &'static Language {
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix("lang="));
    let mut wanted: Vec<(f32, &str)> = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(',')
        .filter_map(|part| {
            let mut pieces = part.split(';');
            let tag = pieces.next()?.trim();
            let q = pieces.find_map(|p| p.trim().strip_prefix("q=")).map_or(Some(1.0), |q| q.parse().ok())?;
            (q > 0.0 && !tag.is_empty()).then_some((q, tag))
        })
        .collect();
    wanted.sort_by(|a, b| b.0.total_cmp(&a.0)); // stable: equal weights keep their order
    let find = |tag: &str| {
        let base = tag.split('-').next().unwrap_or(tag);
        LANGUAGES
            .iter()
            .find(|l| l.code.eq_ignore_ascii_case(tag))
            .or_else(|| LANGUAGES.iter().find(|l| l.code.eq_ignore_ascii_case(base)))
    };
    cookie
        .into_iter()
        .chain(wanted.into_iter().map(|(_, tag)| tag))
        .find_map(find)
        .or_else(|| LANGUAGES.iter().find(|l| l.code == "en"))
        .expect("web/assets/i18n/en.json exists")
}

/// What `web/shell.html` opens with; each request gets its own language in its place.
const HTML_OPENING: &str = r#"<html lang="en" dir="ltr""#;

/// The ETag of every embedded file that is not a page, by its path, hashed once.
static ETAGS: std::sync::LazyLock<std::collections::HashMap<String, String>> = std::sync::LazyLock::new(|| {
    let names = ASSETS.iter().map(|a| a.name.to_owned()).chain(LANGUAGES.iter().map(|l| l.path.clone()));
    names.filter_map(|name| find(&name).map(|asset| (name, etag(asset.body)))).collect()
});

/// A strong validator for an embedded file: the start of its SHA-256.
fn etag(body: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(body);
    format!("\"{}\"", digest[..12].iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// Pages allow only their own scripts and styles, and talk only to this server
/// (`connect-src 'self'` covers its own WebSocket too: no socket to any other host).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub fn router() -> Router<AppState> {
    let mut router = Router::new();
    for p in PAGES {
        router = router.route(p.path, get(move |headers: HeaderMap| async move { page(p.name, &headers) }));
    }
    router
        .route("/favicon.ico", get(|headers: HeaderMap| async move { page("assets/favicon.svg", &headers) }))
        .route("/assets/{file}", get(asset))
        .route("/assets/i18n/{file}", get(catalog))
}

async fn asset(headers: HeaderMap, AppPath(file): AppPath<String>) -> Response {
    page(&format!("assets/{file}"), &headers)
}

async fn catalog(headers: HeaderMap, AppPath(file): AppPath<String>) -> Response {
    page(&format!("assets/i18n/{file}"), &headers)
}

/// Pages in the request's language; other files with an ETag, so a browser
/// that revalidates (`no-cache`: a new release shows at once) gets a 304.
fn page(name: &str, request: &HeaderMap) -> Response {
    let Some(asset) = find(name) else {
        return AppError::NotFound(format!("no such file: {name}")).into_response();
    };
    let html = asset.content_type.starts_with("text/html");
    let mut response = if html {
        let language = language_for(request);
        let text = std::str::from_utf8(asset.body).expect("pages are UTF-8");
        let dir = if language.rtl { "rtl" } else { "ltr" };
        let opening = format!(r#"<html lang="{}" dir="{dir}""#, language.code);
        (StatusCode::OK, text.replacen(HTML_OPENING, &opening, 1)).into_response()
    } else {
        let tag = ETAGS.get(name).map(String::as_str).unwrap_or_default();
        let unchanged = request
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|candidate| candidate.trim() == tag));
        let mut response = if unchanged {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            (StatusCode::OK, asset.body).into_response()
        };
        response.headers_mut().insert(header::ETAG, HeaderValue::from_str(tag).expect("hex is a valid header"));
        response
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if html {
        headers.insert(header::VARY, HeaderValue::from_static("Cookie, Accept-Language"));
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
                let heading = format!(r#"<h1 class="page-title" data-i18n="page.{}">{}</h1>"#, p.name, p.title);
                assert!(html.contains(&heading), "{}", p.name);
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
            for import in text.split("from './").skip(1).chain(text.split("import './").skip(1)) {
                let name = &import[..import.find('\'').unwrap()];
                assert!(script(name), "{} imports {name}, which is not in ASSETS", module.name);
            }
        }
    }

    fn catalog(code: &str) -> serde_json::Map<String, serde_json::Value> {
        let index = LANGUAGES.iter().position(|l| l.code == code).unwrap();
        serde_json::from_slice(catalogs::CATALOGS[index].1).unwrap()
    }

    /// `{name}` placeholders of a message, or of every form of a plural one.
    fn placeholders(message: &serde_json::Value) -> std::collections::BTreeSet<String> {
        let texts: Vec<&str> = match message {
            serde_json::Value::Object(forms) => forms.values().filter_map(|v| v.as_str()).collect(),
            other => other.as_str().into_iter().collect(),
        };
        texts
            .iter()
            .flat_map(|t| t.split('{').skip(1).filter_map(|p| p.split_once('}')).map(|(n, _)| n.to_owned()))
            .collect()
    }

    /// A language is complete: the keys of English, no other, and no placeholder English lacks.
    #[test]
    fn every_catalog_has_every_message() {
        let english = catalog("en");
        for language in LANGUAGES.iter() {
            let messages = catalog(language.code);
            for key in english.keys() {
                assert!(messages.contains_key(key), "{}.json lacks {key}", language.code);
            }
            for (key, message) in &messages {
                let Some(original) = english.get(key) else {
                    panic!("{}.json: {key} is not in en.json", language.code)
                };
                let mut allowed = placeholders(original);
                allowed.insert("count".into());
                let extra: Vec<_> = placeholders(message).into_iter().filter(|p| !allowed.contains(p)).collect();
                assert!(extra.is_empty(), "{}.json: {key} uses {extra:?}", language.code);
                if let serde_json::Value::Object(forms) = message {
                    assert!(forms.contains_key("other"), "{}.json: {key} has no \"other\" form", language.code);
                }
            }
        }
        assert!(LANGUAGES.iter().any(|l| l.rtl), "a right-to-left catalog says \"_dir\": \"rtl\"");
    }

    /// Every key the pages and scripts name (`data-i18n…="key"`, `t('key'`) has an English message.
    #[test]
    fn every_key_the_pages_use_is_in_english() {
        let english = catalog("en");
        let mut sources: Vec<&str> =
            PAGES.iter().map(|p| p.body).chain([TOPBAR, SHELL]).chain(PARTIALS.iter().map(|(_, html)| *html)).collect();
        sources.extend(ASSETS.iter().filter(|a| a.name.ends_with(".js")).map(|a| std::str::from_utf8(a.body).unwrap()));
        let mut checked = 0;
        for text in sources {
            let in_html = text.split("data-i18n").skip(1).filter_map(|rest| rest.split_once("=\"")).map(|(_, v)| v);
            // t('key' as a call of its own, not the end of closest('…')
            let in_js = text
                .match_indices("t('")
                .filter(|(at, _)| !text[..*at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '.'))
                .map(|(at, _)| &text[at + 3..]);
            for rest in in_html.chain(in_js) {
                let key: String =
                    rest.chars().take_while(|c| c.is_ascii_alphanumeric() || "._{}".contains(*c)).collect();
                if key.contains('{') || !key.contains('.') {
                    continue; // page.{{name}}: checked below for every page
                }
                assert!(english.contains_key(&key), "{key} is used but not in en.json");
                checked += 1;
            }
        }
        assert!(checked > 100, "the scan found the keys ({checked})");
        for p in PAGES {
            assert!(english.contains_key(&format!("page.{}", p.name)), "page.{} is not in en.json", p.name);
        }
    }

    fn language_of(cookie: Option<&str>, accept: Option<&str>) -> &'static str {
        let mut headers = HeaderMap::new();
        if let Some(cookie) = cookie {
            headers.insert(header::COOKIE, HeaderValue::from_str(cookie).unwrap());
        }
        if let Some(accept) = accept {
            headers.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_str(accept).unwrap());
        }
        language_for(&headers).code
    }

    #[test]
    fn the_page_language_follows_the_cookie_then_accept_language() {
        assert_eq!(language_of(None, None), "en");
        assert_eq!(language_of(None, Some("ru-RU,ru;q=0.9,en;q=0.8")), "ru");
        assert_eq!(language_of(None, Some("fr-FR, uk;q=0.5, ar;q=0.7")), "ar", "by weight, unknown ones skipped");
        assert_eq!(language_of(None, Some("ar;q=0, de")), "en", "q=0 means not wanted");
        assert_eq!(language_of(Some("a=b; lang=uk"), Some("ru")), "uk", "the switcher's choice wins");
        assert_eq!(language_of(Some("lang=xx"), Some("ar-EG")), "ar");
    }

    #[tokio::test]
    async fn a_page_opens_with_its_language_and_direction() {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_static("ar"));
        let response = page("admin", &headers);
        assert_eq!(response.headers()[header::VARY], "Cookie, Accept-Language");
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let html = String::from_utf8(body.to_vec()).unwrap();
        assert!(html.contains(r#"<html lang="ar" dir="rtl" data-languages="ar en ru uk">"#), "{html}");
    }

    #[test]
    fn an_unchanged_asset_is_not_sent_again() {
        let first = page("assets/i18n/ru.json", &HeaderMap::new());
        assert_eq!(first.status(), StatusCode::OK);
        assert_eq!(first.headers()[header::CONTENT_TYPE], "application/json; charset=utf-8");
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, first.headers()[header::ETAG].clone());
        assert_eq!(page("assets/i18n/ru.json", &headers).status(), StatusCode::NOT_MODIFIED);
        assert_eq!(page("assets/i18n/xx.json", &HeaderMap::new()).status(), StatusCode::NOT_FOUND);
    }
}
