//! The HTTP routes.

mod ask;
mod delivery;
mod events;
mod health;
mod images;
mod reports;
mod request_checks;
mod webhooks;

use crate::error::ErrorResponse;
use api::ApiError;
use app::state::AppState;
use app::{App, shell};
use axum::Extension;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderName, Request, Uri};
use axum::response::{IntoResponse, Response};
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use events::StreamSlots;
pub use request_checks::{BodyLimit, TokenLimit};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What the routes share beyond the application state: the instance's event listener, and the
/// pool itself for the readiness check (which reads migrations, not tenant rows).
#[derive(Debug, Clone)]
pub struct Shared {
    /// This instance's listener for live events.
    pub events: crate::events::EventHub,
    /// Seconds between keep-alives on an idle event stream.
    pub sse_keep_alive: std::time::Duration,
    /// Event streams open, per user and on this instance.
    pub streams: StreamSlots,
    /// The application role's pool.
    pub pool: sea_orm::DatabaseConnection,
    /// Requests per API token on this instance.
    pub token_limit: TokenLimit,
    /// The most a server function's request body may hold.
    pub body_limit: BodyLimit,
}

/// The application's router. Every request gets an `x-request-id` (kept if the client sent one),
/// logged on its span and echoed on the response, so a user's report can be matched to the log.
pub fn router(state: AppState, shared: Shared) -> Router {
    let options = &state.leptos_options;
    let pkg_dir =
        std::path::Path::new(options.site_root.as_ref()).join(options.site_pkg_dir.as_ref());
    let assets = state.assets.clone();
    Router::new()
        .route("/healthz", axum::routing::get(health::healthz))
        .route("/readyz", axum::routing::get(health::readyz))
        .route("/metrics", axum::routing::get(health::metrics))
        .route(
            "/api/v1/notes/{note_id}/images",
            axum::routing::post(images::upload),
        )
        .route(
            "/api/v1/images/{image_id}",
            axum::routing::get(images::download),
        )
        .route(
            "/api/v1/notes/{note_id}/ask",
            axum::routing::post(ask::ask_note),
        )
        .route(
            "/api/v1/events/jobs/{job_id}",
            axum::routing::get(events::job_events),
        )
        .route(
            "/api/v1/workflow-runs/{run_id}/report.md",
            axum::routing::get(reports::workflow_report),
        )
        .route(
            "/api/v1/webhooks/github",
            axum::routing::post(webhooks::github)
                // GitHub caps deliveries at 25 MB; pushes are far smaller.
                .layer(axum::extract::DefaultBodyLimit::max(
                    request_checks::MAX_WEBHOOK_BYTES,
                )),
        )
        .route(
            "/api/v1/webhooks/github/{project_id}",
            axum::routing::post(webhooks::github_for_project).layer(
                axum::extract::DefaultBodyLimit::max(request_checks::MAX_WEBHOOK_BYTES),
            ),
        )
        // Pages (rendered on the server; their islands hydrated by the bundle) and the server
        // functions under /api/v1.
        .leptos_routes_with_context(
            &state,
            generate_route_list(App),
            || {},
            move || shell(assets.clone()),
        )
        .nest_service("/pkg", delivery::bundle_files(&pkg_dir))
        .fallback(not_found)
        .layer(axum::middleware::map_response(server_fn_error_status))
        .layer(axum::middleware::from_fn(delivery::revalidate_pages))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            request_checks::guard,
        ))
        .with_state(state)
        .layer(Extension(shared.events))
        .layer(Extension(shared.token_limit))
        .layer(Extension(shared.body_limit))
        .layer(Extension(events::KeepAliveEvery(shared.sse_keep_alive)))
        .layer(Extension(shared.streams))
        .layer(Extension(health::Pool(shared.pool)))
        .layer(
            tower::ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                        let request_id = request
                            .headers()
                            .get(&REQUEST_ID)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("-");
                        tracing::info_span!(
                            "request",
                            method = %request.method(),
                            path = %request_checks::loggable_path(request.uri().path()),
                            request_id = %request_id,
                        )
                    }),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(delivery::compression()),
        )
}

/// Unknown API paths get the JSON error; anything else gets the app's "page not found", with 404.
async fn not_found(uri: Uri, State(state): State<AppState>, request: Request<Body>) -> Response {
    if uri.path().starts_with("/api/") {
        return ErrorResponse(ApiError::NotFound).into_response();
    }
    let context = state.clone();
    // Whole before it is sent, as every page (`SsrMode::Async` on the routes).
    let render =
        leptos_axum::render_app_async_with_context(move || provide_context(context.clone()), {
            let assets = state.assets.clone();
            move || shell(assets.clone())
        });
    let mut response = render(request).await.into_response();
    *response.status_mut() = axum::http::StatusCode::NOT_FOUND;
    response
}

/// Server functions answer every error (their own `ApiError`s, and framework failures such as a
/// body that does not decode into the arguments) with status 500. The `ApiError` body knows better:
/// this is the one place each error gets its status (401, 404, 422, ...), so a malformed request is
/// a 4xx, not a server fault.
async fn server_fn_error_status(response: Response) -> Response {
    if response.status() != axum::http::StatusCode::INTERNAL_SERVER_ERROR
        || !response.headers().contains_key("serverfnerror")
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return ErrorResponse(ApiError::Internal).into_response();
    };
    let error = serde_json::from_slice::<ApiError>(&bytes).ok();
    if let Some(status) = error
        .as_ref()
        .and_then(|e| axum::http::StatusCode::from_u16(e.status_code()).ok())
    {
        parts.status = status;
    }
    let response = Response::from_parts(parts, Body::from(bytes));
    match &error {
        Some(error) => crate::error::with_retry_after(response, error),
        None => response,
    }
}
