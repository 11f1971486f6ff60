//! Herald's HTTP API: the management API, the reference-compatible
//! execution API, health, OpenAPI and its explorer.
//!
//! Handlers validate requests into domain types, call the [`Store`], and
//! answer with JSON or a [`problem::Problem`]. No SQL and no delivery here.

pub mod auth;
mod campaign_cache;
mod curl;
mod http_metrics;
pub mod json_body;
mod link_cache;
mod openapi;
pub mod problem;
mod routes;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, Request};
use axum::middleware;
use tokio::sync::Notify;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use herald_store::Store;

pub use auth::ensure_admin_key;

/// Largest request body accepted (a unitary call with 20 recipients and a
/// full 200 KB context fits; above it the answer is a 413 problem).
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    keys: Arc<auth::KeyCache>,
    campaigns: Arc<campaign_cache::CampaignCache>,
    /// Wakes the delivery engine when messages are queued.
    wake: Option<Arc<Notify>>,
    /// Runs audience executions in the background.
    fanouts: Arc<herald_audience::Runner>,
    /// Wakes the scheduler when a schedule is added.
    scheduler: Arc<Notify>,
    /// Checks the tokens of tracking and unsubscribe links; without it
    /// those links answer 404.
    token_key: Option<Arc<herald_domain::token::TokenKey>>,
    /// Links of recently clicked messages.
    links: Arc<link_cache::LinkCache>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, wake: Option<Arc<Notify>>) -> AppState {
        let fanouts = herald_audience::Runner::new(
            store.clone(),
            wake.clone(),
            herald_audience::RunnerOptions::default(),
        );
        AppState {
            store,
            keys: Arc::new(auth::KeyCache::default()),
            campaigns: Arc::new(campaign_cache::CampaignCache::default()),
            wake,
            fanouts,
            scheduler: Arc::new(Notify::new()),
            token_key: None,
            links: Arc::new(link_cache::LinkCache::default()),
        }
    }

    /// The install secret's key, the one the delivery engine signs links
    /// with.
    pub fn with_token_key(mut self, key: herald_domain::token::TokenKey) -> AppState {
        self.token_key = Some(Arc::new(key));
        self
    }

    /// Resumes the audience executions a previous process left in progress
    /// and starts the scheduler of audience executions; both stop with
    /// `shutdown`.
    pub async fn start_background(
        &self,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Result<usize, herald_store::StoreError> {
        let resumed = self.fanouts.resume_all().await?;
        tokio::spawn(herald_audience::run_scheduler(
            self.fanouts.clone(),
            self.scheduler.clone(),
            shutdown,
        ));
        Ok(resumed)
    }

    fn run_fanout(&self, fanout: herald_domain::audience_execution::Fanout) {
        self.fanouts.spawn(fanout);
    }

    fn wake_scheduler(&self) {
        self.scheduler.notify_one();
    }

    pub(crate) fn wake_delivery(&self) {
        if let Some(w) = &self.wake {
            w.notify_one();
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct RouterOptions {
    /// Mounts `POST /_bench/noop`, a no-op JSON handler used as the
    /// benchmark's in-run baseline.
    pub bench_noop: bool,
}

pub fn router(state: AppState, options: RouterOptions) -> Router {
    let x_request_id = HeaderName::from_static("x-request-id");
    let authed = routes::authenticated().route_layer(middleware::from_fn_with_state(
        state.clone(),
        auth::authenticate,
    ));
    let mut app = Router::new()
        .merge(authed)
        .merge(routes::public())
        .merge(openapi::routes());
    if options.bench_noop {
        app = app.route("/_bench/noop", axum::routing::post(routes::health::noop));
    }
    app.fallback(routes::health::not_found)
        .method_not_allowed_fallback(routes::health::method_not_allowed)
        .with_state(state)
        // Innermost, so it runs after routing and sees the matched route template.
        .layer(middleware::from_fn(http_metrics::record))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(json_body::reject_oversized))
        .layer(middleware::from_fn(json_body::plain_rejections_as_problems))
        // A client that stops sending its body mid-way is cut off rather
        // than holding a connection (and a graceful shutdown) forever.
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(Duration::from_secs(30)))
        .layer(CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(problem::Problem::internal("handler panicked"))
        }))
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid))
}

/// Serves until `shutdown` resolves, then stops accepting and lets
/// in-flight requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The peer's address feeds the (truncated) IP of opens and clicks.
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    // Give the tracing of the last responses a moment to flush.
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(())
}
