//! Campaign and execution reports (the shape of API.md's "Report shape").

use std::collections::BTreeMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;

use herald_domain::FieldError;
use herald_domain::message::MessageStatus;
use herald_store::{MessageCounts, ReportScope};

use super::campaigns::{load, query_problem};
use crate::AppState;
use crate::auth::{Caller, SCOPE_MANAGE};
use crate::problem::{ApiResult, Problem};

#[derive(Debug, Deserialize, IntoParams)]
pub struct ReportQuery {
    /// `all` (default) or `24h`: messages created in the last 24 hours.
    window: Option<String>,
}

impl ReportQuery {
    /// The window's name and its start.
    fn window(&self) -> Result<(&'static str, Option<DateTime<Utc>>), Problem> {
        match self.window.as_deref().unwrap_or("all") {
            "all" => Ok(("all", None)),
            "24h" => Ok(("24h", Some(Utc::now() - chrono::Duration::hours(24)))),
            other => Err(Problem::bad_request(vec![FieldError::new(
                "/window",
                "invalid_value",
                format!("window must be 'all' or '24h', not '{other}'"),
            )])),
        }
    }
}

#[utoipa::path(get, path = "/v1/campaigns/{id}/report", tag = "campaigns", params(ReportQuery),
    responses((status = 200, description = "Report counters (see API.md)"), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn campaign(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    q: Result<Query<ReportQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    caller.require(SCOPE_MANAGE)?;
    let Query(q) = q.map_err(query_problem)?;
    let (window, since) = q.window()?;
    let c = load(&state, &caller, &id).await?;
    let counts = state
        .store
        .count_messages(&caller.sandbox, ReportScope::Campaign(&c.id), since)
        .await?;
    Ok(Json(report_json(&c.id, window, &counts)))
}

#[utoipa::path(get, path = "/v1/executions/{id}/report", tag = "execution", params(ReportQuery),
    responses((status = 200, description = "Report counters of one execution (see API.md)"), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn execution(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    q: Result<Query<ReportQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    caller.require(SCOPE_MANAGE)?;
    let Query(q) = q.map_err(query_problem)?;
    let (window, since) = q.window()?;
    let e = state
        .store
        .get_execution(&caller.sandbox, &id)
        .await?
        .ok_or_else(|| Problem::not_found("execution", &id))?;
    let counts = state
        .store
        .count_messages(&caller.sandbox, ReportScope::Execution(&e.id), since)
        .await?;
    let mut report = report_json(&e.campaign_id, window, &counts);
    report["executionId"] = json!(e.id);
    report["requestId"] = json!(e.request_id);
    Ok(Json(report))
}

/// The report shape of API.md. Counters of features not built yet
/// (engagement, bounces arriving later) are 0, never missing.
fn report_json(campaign_id: &str, window: &str, c: &MessageCounts) -> Value {
    let n = |s: MessageStatus| c.by_status.get(&s).copied().unwrap_or(0);
    let by_status: serde_json::Map<String, Value> = MessageStatus::ALL
        .iter()
        .map(|s| (s.as_str().to_string(), json!(n(*s))))
        .collect();
    let targeted: u64 = c.by_status.values().sum();
    let by_domain: Vec<Value> = c
        .by_domain
        .iter()
        .map(|(domain, by)| {
            let m = |s: MessageStatus| by.get(&s).copied().unwrap_or(0);
            json!({
                "domain": domain,
                "sent": m(MessageStatus::Sent) + m(MessageStatus::Delivered) + m(MessageStatus::Bounced),
                "delivered": m(MessageStatus::Delivered),
                "bounced": m(MessageStatus::Bounced),
                "failed": m(MessageStatus::Failed),
            })
        })
        .collect();
    json!({
        "campaignId": campaign_id,
        "window": window,
        "targeted": targeted,
        "sent": n(MessageStatus::Sent) + n(MessageStatus::Delivered) + n(MessageStatus::Bounced),
        "delivered": n(MessageStatus::Delivered),
        "retries": c.retries,
        "excluded": {"total": n(MessageStatus::Excluded), "byReason": c.excluded_by_reason},
        "bounced": {"hard": 0, "soft": 0},
        "errors": {"total": n(MessageStatus::Failed), "byReason": BTreeMap::<String, u64>::new()},
        "opens": 0, "uniqueOpens": 0, "clicks": 0, "uniqueClicks": 0,
        "ctr": 0.0, "ctor": 0.0, "unsubscribes": 0, "complaints": 0,
        "byStatus": by_status,
        "byDomain": by_domain,
        "byLink": [],
        "byLocale": c.by_locale,
    })
}
