//! Audience executions (the reference's imExecutionRequestAudience): a
//! marketing campaign fired at an audience now or at `schedule.executeAt`,
//! and the status shapes the reference answers with.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::error::FieldError;
use crate::execution::{MAX_CONTEXT_BYTES, MAX_REQUEST_ID_LEN};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AudienceRef {
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecuteAt {
    pub execute_at: DateTime<Utc>,
}

/// `POST /ajo/im/executions/audience`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AudienceExecutionRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    pub campaign_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<AudienceRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub context: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ExecuteAt>,
}

impl AudienceExecutionRequest {
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(r) = &self.request_id {
            if r.trim().is_empty() {
                errors.push(FieldError::new(
                    "/requestId",
                    "required",
                    "requestId must not be empty when given",
                ));
            } else if r.len() > MAX_REQUEST_ID_LEN {
                errors.push(FieldError::new(
                    "/requestId",
                    "too_long",
                    format!("requestId is longer than {MAX_REQUEST_ID_LEN} bytes"),
                ));
            }
        }
        if self.campaign_id.trim().is_empty() {
            errors.push(FieldError::new(
                "/campaignId",
                "required",
                "campaignId must not be empty",
            ));
        }
        if let Some(a) = &self.audience
            && a.id.trim().is_empty()
        {
            errors.push(FieldError::new(
                "/audience/id",
                "required",
                "audience.id must not be empty",
            ));
        }
        if let Some(c) = &self.context {
            if !c.is_object() {
                errors.push(FieldError::new(
                    "/context",
                    "not_an_object",
                    "context must be a JSON object",
                ));
            } else if c.to_string().len() > MAX_CONTEXT_BYTES {
                errors.push(FieldError::new(
                    "/context",
                    "context_too_large",
                    format!("context is larger than {MAX_CONTEXT_BYTES} bytes"),
                ));
            }
        }
        errors
    }

    /// [`Self::validate`] plus the rule that depends on the time of the
    /// call: a schedule may not lie in the past (a minute of skew allowed).
    pub fn validate_at(&self, now: DateTime<Utc>) -> Vec<FieldError> {
        let mut errors = self.validate();
        if let Some(s) = &self.schedule
            && s.execute_at < now - chrono::Duration::seconds(60)
        {
            errors.push(FieldError::new(
                "/schedule/executeAt",
                "in_the_past",
                format!(
                    "executeAt {} is in the past; leave schedule out to execute now",
                    s.execute_at.to_rfc3339()
                ),
            ));
        }
        errors
    }
}

/// The reference's execution status values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum FanoutStatus {
    InProgress,
    Succeeded,
    Failed,
}

impl FanoutStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FanoutStatus::InProgress => "InProgress",
            FanoutStatus::Succeeded => "Succeeded",
            FanoutStatus::Failed => "Failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "InProgress" => Some(FanoutStatus::InProgress),
            "Succeeded" => Some(FanoutStatus::Succeeded),
            "Failed" => Some(FanoutStatus::Failed),
            _ => None,
        }
    }
}

/// Progress of an audience execution, kept on the execution row.
#[derive(Debug, Clone, PartialEq)]
pub struct Fanout {
    pub execution_id: String,
    pub sandbox: String,
    pub campaign_id: String,
    pub campaign_version: i64,
    pub audience_id: String,
    pub status: FanoutStatus,
    /// Profiles of the audience seen so far (queued or excluded).
    pub targeted: u64,
    /// Where the scan resumes: the last member position done.
    pub cursor: i64,
    pub context: Value,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// The reference's executionStatusResponse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionStatusResponse {
    pub execution_id: String,
    pub campaign_id: String,
    pub audience_id: String,
    pub status: FanoutStatus,
    pub targeted_profile_count: u64,
    pub created_at: DateTime<Utc>,
    /// Herald's extensions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl From<&Fanout> for ExecutionStatusResponse {
    fn from(f: &Fanout) -> Self {
        ExecutionStatusResponse {
            execution_id: f.execution_id.clone(),
            campaign_id: f.campaign_id.clone(),
            audience_id: f.audience_id.clone(),
            status: f.status,
            targeted_profile_count: f.targeted,
            created_at: f.created_at,
            request_id: None,
            finished_at: f.finished_at,
            error: f.error.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum ScheduleStatus {
    Scheduled,
    Triggered,
}

/// A stored scheduled execution.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledExecution {
    pub id: String,
    pub sandbox: String,
    pub campaign_id: String,
    pub request_id: String,
    pub request_hash: String,
    pub audience_id: String,
    pub execute_at: DateTime<Utc>,
    pub context: Value,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// Set when it fired.
    pub execution_id: Option<String>,
}

/// The reference's ScheduledExecutionResponse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledExecutionResponse {
    pub schedule_id: String,
    pub audience: AudienceRef,
    pub campaign_id: String,
    pub execute_at: DateTime<Utc>,
    pub schedule_status: ScheduleStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_details: Option<ExecutionStatusResponse>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn validation_points_at_fields() {
        let r: AudienceExecutionRequest = serde_json::from_value(json!({
            "campaignId": " ", "requestId": "", "audience": {"id": ""}, "context": []
        }))
        .unwrap();
        let ptrs: Vec<_> = r.validate().into_iter().map(|e| e.pointer).collect();
        assert_eq!(
            ptrs,
            ["/requestId", "/campaignId", "/audience/id", "/context"]
        );
    }

    #[test]
    fn status_shape_is_the_reference() {
        let v = serde_json::to_value(FanoutStatus::InProgress).unwrap();
        assert_eq!(v, json!("InProgress"));
        let v = serde_json::to_value(ScheduleStatus::Triggered).unwrap();
        assert_eq!(v, json!("Triggered"));
    }
}
