//! `herald serve`: store, delivery engine, HTTP server, graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::routing::get;
use tracing::{info, warn};

use herald_delivery::{Channels, DeliveryEngine, EmailBuilder, EngineConfig, RetryPolicy};
use herald_mail::{MailTransport, MaildirTransport, SmtpTransport};
use herald_server::{AppState, RouterOptions};
use herald_store::Store;
use herald_store::sqlite::SqliteStore;

use crate::config::Settings;

pub async fn run(settings: Settings) -> anyhow::Result<()> {
    init_tracing(settings.json_logs);
    let prometheus = crate::operator_metrics::install()?;

    // Everything that can fail on bad settings happens before a key is
    // created, so a failed first start never swallows the one-time key.
    let listener = tokio::net::TcpListener::bind(&settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let inbound = match &settings.inbound_smtp {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen for inbound SMTP on {addr}"))?,
        ),
        None => None,
    };
    let transport: Arc<dyn MailTransport> = match &settings.smtp_url {
        Some(url) => {
            Arc::new(SmtpTransport::from_url(url, settings.smtp_pool).context("invalid SMTP URL")?)
        }
        None => {
            let dir = settings.data_dir.join("outbox").join("email");
            let t = MaildirTransport::new(&dir).context("cannot create the Maildir outbox")?;
            info!(maildir = %dir.display(), "no SMTP URL configured: email goes to the local Maildir outbox");
            Arc::new(t)
        }
    };
    info!(transport = %transport.describe(), "email transport ready");
    let store = Arc::new(
        SqliteStore::open(&settings.data_dir)
            .await
            .with_context(|| format!("cannot open the store in {}", settings.data_dir.display()))?,
    );
    info!(data_dir = %settings.data_dir.display(), "store opened (SQLite, WAL; every write fsync'd before it is answered)");

    // Signs (engine) and checks (tracking routes) the links in messages.
    let token_key = crate::secrets::load_or_create_token_key(&settings.data_dir)?;
    // Names this node's delivery and webhook leases.
    let worker_id = match &settings.worker_id {
        Some(w) => w.clone(),
        None => node_id(&settings.data_dir)?,
    };
    let engine = if settings.no_delivery {
        info!("API-only node (--no-delivery): messages are stored for other nodes to deliver");
        None
    } else {
        Some(
            DeliveryEngine::new(
                store.clone() as Arc<dyn Store>,
                transport,
                EngineConfig {
                    worker_id: worker_id.clone(),
                    concurrency: settings.delivery_concurrency,
                    retry: RetryPolicy {
                        max_attempts: settings.max_attempts,
                        base: Duration::from_secs_f64(settings.retry_base_seconds),
                        ..RetryPolicy::default()
                    },
                    ..EngineConfig::default()
                },
            )
            .with_email_builder(
                EmailBuilder::new(Some(token_key.clone()), public_url(&settings.listen))
                    // A mailto unsubscribe only where mail to it reaches
                    // this listener.
                    .with_mailto_unsubscribe(settings.inbound_smtp.is_some()),
            )
            .with_channels(Arc::new(
                Channels::open(&settings.data_dir)
                    .context("cannot open the SMS and push outboxes")?,
            ))
            .start(),
        )
    };

    if let Some(key) =
        herald_server::ensure_admin_key(store.as_ref(), settings.api_key.as_deref()).await?
    {
        // Printed once, on first start; only its hash is stored.
        println!(
            "\n  Herald created an admin API key (shown only this once):\n\n      {key}\n\n  Use it as: Authorization: Bearer {key}\n"
        );
    }

    let state = AppState::new(
        store.clone() as Arc<dyn Store>,
        engine.as_ref().map(|e| e.waker()),
    )
    .with_token_key(token_key.clone());
    // Audience executions left in progress by a previous process resume
    // from their checkpoints; the scheduler fires due schedules.
    let (stop_background, background_rx) = tokio::sync::watch::channel(false);
    let resumed = state.start_background(background_rx.clone()).await?;
    let gauges = crate::operator_metrics::spawn_refresh(
        store.clone() as Arc<dyn Store>,
        prometheus.clone(),
        background_rx.clone(),
    );
    let inbound_shutdown = background_rx.clone();
    // Feedback webhooks run where messages are delivered: an API-only node
    // leaves them to the delivery nodes.
    let webhooks = if settings.no_delivery {
        None
    } else {
        let config = herald_webhooks::DispatcherConfig {
            retry_base: Duration::from_secs_f64(settings.webhook_retry_base_seconds),
            node_id: worker_id.clone(),
            ..herald_webhooks::DispatcherConfig::default()
        };
        Some(
            herald_webhooks::Dispatcher::new(store.clone() as Arc<dyn Store>, config)
                .context("cannot start the webhook dispatcher")?
                .start(background_rx),
        )
    };
    if resumed > 0 {
        info!(resumed, "resumed audience executions");
    }
    // Bounces and complaints mailed back: every node may take them (they
    // only write to the store).
    if let Some(listener) = inbound {
        info!(address = %listener.local_addr()?, "inbound SMTP listening for bounces and complaints");
        tokio::spawn(crate::inbound_smtp::serve(
            listener,
            store.clone() as Arc<dyn Store>,
            Some(Arc::new(token_key.clone())),
            crate::inbound_smtp::InboundLimits::default(),
            inbound_shutdown,
        ));
    }
    let app = herald_server::router(
        state,
        RouterOptions {
            bench_noop: settings.bench_noop,
        },
    )
    .route(
        "/metrics",
        get(move || std::future::ready(prometheus.render())),
    );
    info!(address = %listener.local_addr()?, "Herald is listening");

    // Stop accepting on a signal; give in-flight requests a bounded grace
    // period so a stalled client cannot hold the shutdown forever.
    let (signalled_tx, signalled_rx) = tokio::sync::oneshot::channel::<()>();
    let server = herald_server::serve(listener, app, async move {
        shutdown_signal().await;
        let _ = signalled_tx.send(());
    });
    tokio::pin!(server);
    tokio::select! {
        r = &mut server => r?,
        _ = async {
            let _ = signalled_rx.await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => warn!(grace_s = SHUTDOWN_GRACE.as_secs(), "requests still open after the grace period; closing them"),
    }
    let _ = stop_background.send(true);
    let _ = gauges.await;
    if let Some(w) = webhooks {
        // Bounded by the per-request timeout.
        let _ = w.await;
    }
    info!("HTTP server stopped; finishing in-flight sends");
    if let Some(engine) = engine {
        engine.shutdown().await;
    }
    store.close().await;
    info!("bye");
    Ok(())
}

/// How long open requests may take to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// This node's identity, kept in the data directory so that after a crash
/// the restarted node recognizes the leases it held.
fn node_id(data_dir: &std::path::Path) -> anyhow::Result<String> {
    let path = data_dir.join("node-id");
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => Ok(id.trim().to_string()),
        _ => {
            let id = format!("node-{}", uuid::Uuid::new_v4().simple());
            std::fs::write(&path, &id)
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(id)
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    info!("shutdown requested");
}

fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Where links in messages point (unsubscribe, later tracking) when the
/// channel configuration names no tracking domain: `HERALD_PUBLIC_URL`, else
/// the listen address.
fn public_url(listen: &str) -> String {
    std::env::var("HERALD_PUBLIC_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| format!("http://{listen}"))
}
