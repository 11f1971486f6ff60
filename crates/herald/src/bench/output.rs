//! Tables and JSON for the results.

use serde_json::{Value, json};

use super::load::PhaseResult;

/// Milliseconds with two decimals, from a microsecond histogram value.
pub fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

pub fn machine() -> String {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cpus} CPUs, {model}")
}

pub fn table_header() -> String {
    format!(
        "{:<28} {:>9} {:>7} {:>10} {:>8} {:>8} {:>8} {:>8}",
        "phase", "202s", "errors", "per sec", "p50 ms", "p90 ms", "p99 ms", "max ms"
    )
}

pub fn table_row(name: &str, r: &PhaseResult) -> String {
    let h = &r.hist;
    format!(
        "{:<28} {:>9} {:>7} {:>10.0} {:>8} {:>8} {:>8} {:>8}",
        name,
        r.ok,
        r.errors(),
        r.rate(),
        ms(h.value_at_quantile(0.50)),
        ms(h.value_at_quantile(0.90)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max()),
    )
}

pub fn phase_json(r: &PhaseResult) -> Value {
    let h = &r.hist;
    let q = |x: f64| h.value_at_quantile(x) as f64 / 1000.0;
    json!({
        "accepted": r.ok,
        "errors": r.errors(),
        "non202": r.non_202.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "transportErrors": r.transport_errors,
        "firstError": r.first_error,
        "seconds": r.elapsed.as_secs_f64(),
        "perSecond": r.rate(),
        "latencyMs": {"p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "max": h.max() as f64 / 1000.0, "mean": h.mean() / 1000.0}
    })
}

/// Prints what went wrong in a phase with errors (the run still reports).
pub fn error_note(name: &str, r: &PhaseResult) -> Option<String> {
    if r.errors() == 0 {
        return None;
    }
    Some(format!(
        "  ! {name}: {} errors (non-202 by status: {:?}; transport: {}{})",
        r.errors(),
        r.non_202,
        r.transport_errors,
        r.first_error
            .as_deref()
            .map(|e| format!(", first: {e}"))
            .unwrap_or_default()
    ))
}
