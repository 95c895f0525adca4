//! The OpenAPI 3.1 description of the REST API, generated from the handlers'
//! annotations and served at `GET /api/openapi.json`.
//!
//! Each handler declares its own parameters, body, success and domain-specific
//! errors (`#[utoipa::path]`); [`CommonErrors`] adds the statuses every
//! operation of a kind can return (400 for bad input, 401 without a valid
//! token, 403 for a cookie write from a foreign origin, 413 for a body over the
//! limit, 503 while the database is down), so no handler can forget them.

use std::sync::LazyLock;

use axum::{
    Router,
    http::header,
    response::{IntoResponse, Response},
    routing::get,
};
use utoipa::{
    Modify, OpenApi, ToSchema,
    openapi::{
        self, HttpMethod, PathItem, Ref, RefOr, ResponseBuilder,
        path::Operation,
        security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};

use crate::{auth, catalog, jobs, ops, orders, state::AppState, stores, tasks, users, workflows};

/// The one error shape of the API (see docs/API.md, "Errors").
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    error: ErrorDetail,
}

/// What went wrong: a stable code for programs and a message for people.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorDetail {
    /// `validation_failed`, `invalid_json`, `unauthenticated`, `token_expired`,
    /// `forbidden`, `not_found`, `method_not_allowed`, `invalid_state`,
    /// `conflict`, `already_running`, `payload_too_large`, `rate_limited`,
    /// `unavailable` or `internal`.
    #[schema(example = "validation_failed")]
    code: String,
    #[schema(example = "title: must not be empty")]
    message: String,
}

/// The whole description; `paths(...)` must name every REST handler
/// (tests/api/openapi.rs fails on a route that is missing).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "taskwire",
        description = "The REST API of taskwire. The contract, with the WebSocket protocol and \
                       events, is docs/API.md. Errors always have the shape \
                       `{\"error\":{\"code\",\"message\"}}`; a method a path does not support \
                       gets 405 `method_not_allowed`, an unknown path 404 `not_found`."
    ),
    paths(
        auth::routes::login,
        auth::routes::refresh,
        auth::routes::logout,
        auth::routes::me,
        users::routes::list_users,
        users::routes::create_user,
        users::routes::update_user,
        workflows::routes::list_workflows,
        workflows::routes::create_workflow,
        workflows::routes::put_workflow,
        workflows::routes::update_workflow,
        tasks::routes::list_tasks,
        tasks::routes::create_task,
        tasks::routes::get_task,
        tasks::routes::task_history,
        tasks::routes::approve_task,
        tasks::routes::reject_task,
        tasks::routes::complete_subtask,
        jobs::routes::list_jobs,
        jobs::routes::create_job,
        jobs::routes::job_stats,
        jobs::routes::get_job,
        jobs::routes::delete_job,
        jobs::routes::report_progress,
        jobs::routes::finish_job,
        jobs::routes::cancel_job,
        jobs::routes::retry_job,
        stores::routes::list_stores,
        stores::routes::create_store,
        stores::routes::scrape_stores,
        stores::routes::bulk_update_stores,
        stores::routes::update_item,
        stores::routes::delete_item,
        stores::routes::update_store,
        stores::routes::list_items,
        stores::routes::add_item,
        stores::routes::item_history,
        stores::routes::scrape_store,
        stores::routes::store_jobs,
        stores::routes::list_products,
        stores::routes::product_detail,
        catalog::routes::import_catalog,
        catalog::routes::list_files,
        orders::routes::list_orders,
        orders::routes::create_order,
        orders::routes::get_order,
        orders::routes::check_order,
        orders::routes::cancel_order,
        ops::health,
        ops::ready,
        ops::metrics,
        openapi_json,
    ),
    components(schemas(ErrorBody)),
    security(("bearer" = []), ("cookie" = [])),
    modifiers(&SecuritySchemes, &CommonErrors, &EveryFieldSent),
    tags(
        (name = "auth", description = "tokens and cookies"),
        (name = "users", description = "user management (ADMIN)"),
        (name = "workflows", description = "task templates"),
        (name = "tasks", description = "tasks, decisions and work"),
        (name = "jobs", description = "background jobs and the external-worker protocol (ADMIN)"),
        (name = "stores", description = "stores, items, scrapes and products (ADMIN)"),
        (name = "catalog", description = "catalog import (ADMIN)"),
        (name = "orders", description = "external orders"),
        (name = "ops", description = "health, readiness, metrics and this description"),
    )
)]
pub struct ApiDoc;

/// The two ways to present the access token: the header (API clients) or the cookie (the pages).
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, api: &mut openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(auth::cookies::ACCESS_COOKIE))),
        );
    }
}

/// Adds the error statuses that follow from what an operation takes, unless
/// its handler already documents them more precisely.
struct CommonErrors;

impl Modify for CommonErrors {
    fn modify(&self, api: &mut openapi::OpenApi) {
        let global_security = api.security.clone().unwrap_or_default();
        for item in api.paths.paths.values_mut() {
            for (method, operation) in operations(item) {
                let secured = match &operation.security {
                    Some(requirements) => !requirements.iter().any(is_anonymous),
                    None => !global_security.is_empty(),
                };
                let has_body = operation.request_body.is_some();
                let has_params = operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
                if has_body || has_params {
                    add_error(
                        operation,
                        400,
                        "the input is invalid (`validation_failed`) or not JSON (`invalid_json`)",
                    );
                }
                if secured {
                    add_error(operation, 401, "no valid access token (`unauthenticated`, `token_expired`)");
                    if method != HttpMethod::Get {
                        add_error(operation, 403, "a cookie-authenticated write from an origin that is not allowed");
                    }
                }
                if has_body {
                    add_error(operation, 413, "the body is larger than the limit (`payload_too_large`)");
                }
                if secured || has_body {
                    add_error(operation, 503, "the database is unavailable right now (`unavailable`)");
                }
            }
        }
    }
}

/// The views the server answers with. It always sends every field of them,
/// `null` when empty, so each field is `required` (and `Option`s stay nullable):
/// a field that went missing would fail the schemathesis run.
const RESPONSE_SCHEMAS: [&str; 18] = [
    "TokenPair",
    "PublicUser",
    "UserView",
    "Workflow",
    "TaskView",
    "SubtaskView",
    "TaskPage",
    "JobView",
    "JobPage",
    "JobStats",
    "FailureView",
    "StoreView",
    "ItemView",
    "ProductView",
    "CheapestOffer",
    "PricePointView",
    "OrderView",
    "OrderPage",
];

/// Marks every field of the [`RESPONSE_SCHEMAS`] as required.
struct EveryFieldSent;

impl Modify for EveryFieldSent {
    fn modify(&self, api: &mut openapi::OpenApi) {
        let Some(components) = api.components.as_mut() else { return };
        for name in RESPONSE_SCHEMAS {
            if let Some(RefOr::T(openapi::schema::Schema::Object(object))) = components.schemas.get_mut(name) {
                object.required = object.properties.keys().cloned().collect();
            }
        }
    }
}

/// `security: [{}]`: the operation needs no credentials.
fn is_anonymous(requirement: &openapi::security::SecurityRequirement) -> bool {
    requirement == &openapi::security::SecurityRequirement::default()
}

fn operations(item: &mut PathItem) -> Vec<(HttpMethod, &mut Operation)> {
    [
        (HttpMethod::Get, &mut item.get),
        (HttpMethod::Post, &mut item.post),
        (HttpMethod::Put, &mut item.put),
        (HttpMethod::Patch, &mut item.patch),
        (HttpMethod::Delete, &mut item.delete),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.as_mut().map(|operation| (method, operation)))
    .collect()
}

fn add_error(operation: &mut Operation, status: u16, description: &str) {
    let responses = &mut operation.responses.responses;
    responses.entry(status.to_string()).or_insert_with(|| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    openapi::ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build(),
                )
                .build(),
        )
    });
}

/// The description as JSON, rendered once.
static DOCUMENT: LazyLock<String> =
    LazyLock::new(|| ApiDoc::openapi().to_json().expect("the OpenAPI description serialises"));

/// `GET /api/openapi.json`.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/openapi.json", get(openapi_json))
}

/// This description.
#[utoipa::path(
    get, path = "/api/openapi.json", tag = "ops", security(()),
    responses((status = 200, description = "the OpenAPI 3.1 description of this API", content_type = "application/json"))
)]
async fn openapi_json() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT.as_str()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_secured_operation_documents_401_and_every_error_uses_the_error_shape() {
        let doc: serde_json::Value = serde_json::from_str(&DOCUMENT).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let me = &doc["paths"]["/api/me"]["get"]["responses"];
        assert!(me["401"].is_object() && me["200"].is_object());
        let login = &doc["paths"]["/api/auth/login"]["post"];
        assert_eq!(login["security"], serde_json::json!([{}]));
        assert!(login["responses"]["401"].is_object() && login["responses"]["429"].is_object());
        assert!(login["responses"]["413"].is_object() && login["responses"]["400"].is_object());
        for name in RESPONSE_SCHEMAS {
            let schema = &doc["components"]["schemas"][name];
            let fields = schema["properties"].as_object().unwrap_or_else(|| panic!("{name} is a schema")).len();
            assert_eq!(schema["required"].as_array().unwrap().len(), fields, "{name}: every field required");
        }
        let decided_at = &doc["components"]["schemas"]["TaskView"]["properties"]["decided_at"]["type"];
        assert_eq!(decided_at, &serde_json::json!(["string", "null"]), "still nullable");
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                for (status, response) in operation["responses"].as_object().unwrap() {
                    if status.starts_with('4') && path != "/ready" {
                        let schema = &response["content"]["application/json"]["schema"]["$ref"];
                        assert_eq!(schema, "#/components/schemas/ErrorBody", "{method} {path} {status}");
                    }
                }
            }
        }
    }
}
