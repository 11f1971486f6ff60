//! Checking a campaign and storing a new audience execution.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use herald_domain::audience_execution::Fanout;
use herald_domain::campaign::{CampaignCategory, CampaignStatus, WindowPosition};
use herald_domain::execution::Execution;
use herald_store::{AcceptOutcome, NewFanout, Store, StoreError};

/// What starting an execution needs.
#[derive(Debug, Clone)]
pub struct StartRequest {
    pub sandbox: String,
    pub campaign_id: String,
    pub request_id: String,
    pub request_hash: String,
    /// `audience.id` of the call; the campaign's audience otherwise.
    pub audience_id: Option<String>,
    pub context: Value,
    pub created_by: String,
    pub now: DateTime<Utc>,
    pub execution_id: String,
    /// The schedule this execution fires, if any.
    pub schedule_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("no campaign with id '{0}' exists in this sandbox")]
    CampaignNotFound(String),
    #[error("campaign is {0}; only a live campaign can be executed")]
    NotLive(&'static str),
    #[error("campaign is outside its schedule: its window is {0}")]
    OutsideWindow(String),
    #[error(
        "this is a transactional campaign: fire it with POST /ajo/im/executions/unitary, naming its recipients"
    )]
    NotMarketing,
    #[error("the campaign has no audience and the call names none")]
    NoAudience,
    #[error("no audience with id '{0}' exists in this sandbox")]
    AudienceNotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The version an audience execution of this campaign would use, or why
/// there is none.
pub async fn check(
    store: &dyn Store,
    sandbox: &str,
    campaign_id: &str,
    audience_override: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(i64, String), StartError> {
    let campaign = store
        .get_campaign(sandbox, campaign_id)
        .await?
        .ok_or_else(|| StartError::CampaignNotFound(campaign_id.to_string()))?;
    let version = match (campaign.status, campaign.live_version) {
        (CampaignStatus::Live | CampaignStatus::Scheduled, Some(v)) => v,
        (status, _) => return Err(StartError::NotLive(status.as_str())),
    };
    let v = store
        .get_campaign_version(sandbox, campaign_id, version)
        .await?
        .ok_or(StartError::NotLive(campaign.status.as_str()))?;
    let def = &v.definition;
    if def.schedule.position(now) != WindowPosition::Inside {
        return Err(StartError::OutsideWindow(def.schedule.describe()));
    }
    if def.category != CampaignCategory::Marketing {
        return Err(StartError::NotMarketing);
    }
    let audience_id = audience_override
        .map(str::to_string)
        .or_else(|| def.audience.audience_id.clone())
        .ok_or(StartError::NoAudience)?;
    if store.get_audience(sandbox, &audience_id).await?.is_none() {
        return Err(StartError::AudienceNotFound(audience_id));
    }
    Ok((v.version, audience_id))
}

/// The reference's imExecutionResponse for an audience execution.
pub fn response(execution_id: &str, request_id: &str, by: &str, at: DateTime<Utc>) -> Value {
    json!({
        "executionId": execution_id,
        "requestId": request_id,
        "createdAt": at,
        "createdBy": by,
        "modifiedAt": at,
        "modifiedBy": by,
    })
}

/// Checks the campaign and stores the execution and its fan-out state.
/// `Existing` when (campaign, requestId) ran before.
pub async fn start(
    store: &dyn Store,
    req: StartRequest,
) -> Result<(AcceptOutcome, Option<Fanout>), StartError> {
    let (version, audience_id) = check(
        store,
        &req.sandbox,
        &req.campaign_id,
        req.audience_id.as_deref(),
        req.now,
    )
    .await?;
    let new = NewFanout {
        execution: Execution {
            id: req.execution_id.clone(),
            sandbox: req.sandbox.clone(),
            campaign_id: req.campaign_id.clone(),
            campaign_version: version,
            request_id: req.request_id.clone(),
            request_hash: req.request_hash.clone(),
            kind: "audience".into(),
            context: req.context.clone(),
            created_at: req.now,
            created_by: req.created_by.clone(),
            response: response(&req.execution_id, &req.request_id, &req.created_by, req.now),
        },
        audience_id,
        schedule_id: req.schedule_id.clone(),
    };
    let outcome = store.start_fanout(new).await?;
    let fanout = match &outcome {
        AcceptOutcome::Created => store.get_fanout(&req.sandbox, &req.execution_id).await?,
        AcceptOutcome::Existing(_) => None,
    };
    Ok((outcome, fanout))
}
