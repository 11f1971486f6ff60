//! `/metrics`: the Prometheus recorder with its histogram buckets, and the task that
//! refreshes the queue gauges and drains the histograms' buffers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use metrics::Unit;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing::warn;

use herald_delivery::telemetry::lane;
use herald_store::Store;

/// How often the queue gauges are refreshed at most.
const REFRESH: Duration = Duration::from_secs(5);
/// The refresh waits at least this many times its own query time, so a slow store (a
/// huge queue on a busy disk) is never kept busy by its gauges.
const BACKOFF_FACTOR: u32 = 50;

/// Seconds: an HTTP request, from sub-millisecond reads to slow imports.
const HTTP_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Seconds: one transport call (a local Maildir write to a slow provider).
const SEND_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];
/// Seconds: acceptance to sent, which spans retries and throttled sends (up to days).
const LATENCY_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
    21600.0, 86400.0,
];

/// Installs the global recorder; its handle renders `/metrics`.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("herald_http_request_duration_seconds".into()),
            HTTP_BUCKETS,
        )?
        .set_buckets_for_metric(
            Matcher::Full("herald_send_duration_seconds".into()),
            SEND_BUCKETS,
        )?
        .set_buckets_for_metric(
            Matcher::Full("herald_message_latency_seconds".into()),
            LATENCY_BUCKETS,
        )?
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    describe();
    zero_counters();
    Ok(handle)
}

/// Counters of rare events exist from the start at 0, so an alert on
/// `rate()` or `increase()` sees a series before the first failure.
fn zero_counters() {
    for outcome in ["delivered", "failed"] {
        metrics::counter!("herald_webhook_attempts_total", "outcome" => outcome).increment(0);
    }
    for kind in ["status", "transport"] {
        metrics::counter!("herald_webhook_failures_total", "kind" => kind).increment(0);
    }
    metrics::counter!("herald_fanout_messages_total").increment(0);
    metrics::counter!("herald_inbound_ignored_total").increment(0);
    for source in ["dsn", "arf", "webhook"] {
        for outcome in ["recorded", "duplicate", "unmatched"] {
            metrics::counter!("herald_feedback_total", "source" => source, "outcome" => outcome)
                .increment(0);
        }
    }
}

/// `# HELP` lines for the families operators read first.
fn describe() {
    metrics::describe_histogram!(
        "herald_http_request_duration_seconds",
        Unit::Seconds,
        "HTTP request time by route template, method and status class"
    );
    metrics::describe_histogram!(
        "herald_send_duration_seconds",
        Unit::Seconds,
        "Time of one transport call (SMTP, provider API, outbox write) by channel"
    );
    metrics::describe_histogram!(
        "herald_message_latency_seconds",
        Unit::Seconds,
        "From acceptance to sent, by channel and lane"
    );
    metrics::describe_counter!(
        "herald_messages_total",
        "Messages reaching a final status in the delivery engine, by channel and status"
    );
    metrics::describe_counter!(
        "herald_provider_replies_total",
        "Transport replies by channel and class: success, transient, permanent, unknown"
    );
    metrics::describe_counter!(
        "herald_webhook_failures_total",
        "Failed feedback-webhook calls: status (non-2xx answer) or transport"
    );
    metrics::describe_counter!(
        "herald_feedback_total",
        "Bounces and complaints received later, by source (dsn, arf, webhook) and outcome (recorded, duplicate, unmatched)"
    );
    metrics::describe_gauge!(
        "herald_queue_depth",
        "Messages in the delivery queue by lane and state: queued, due (queued and due now), sending"
    );
}

/// Refreshes the queue gauges and drains the histograms until `shutdown`.
pub fn spawn_refresh(
    store: Arc<dyn Store>,
    handle: PrometheusHandle,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let started = Instant::now();
            match store.queue_depth(chrono::Utc::now()).await {
                Ok(lanes) => {
                    for l in lanes {
                        let lane = lane(l.priority);
                        for (state, n) in
                            [("queued", l.queued), ("due", l.due), ("sending", l.sending)]
                        {
                            metrics::gauge!("herald_queue_depth", "lane" => lane, "state" => state)
                                .set(n as f64);
                        }
                    }
                }
                Err(e) => warn!(error = %e, "cannot read the queue depth for /metrics"),
            }
            let took = started.elapsed();
            // Histogram samples are buffered until drained: without a scrape they would grow.
            handle.run_upkeep();
            let wait = REFRESH.max(took * BACKOFF_FACTOR);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                r = shutdown.changed() => if r.is_err() || *shutdown.borrow() { return },
            }
        }
    })
}
