//! What the store's integration tests share: ids and an execution to
//! accept.

#![allow(dead_code)] // each test binary uses a different subset

use chrono::Utc;
use serde_json::json;

use herald_domain::channel::Channel;
use herald_domain::execution::{Execution, PlannedMessage};
use herald_domain::message::MessageStatus;
use herald_store::NewExecution;

pub fn id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// An execution of campaign `c1` in sandbox `prod`: `recipients` queued
/// messages to `u{i}@example.com`.
pub fn execution(request_id: &str, recipients: usize) -> NewExecution {
    let now = Utc::now();
    let exec_id = id();
    NewExecution {
        execution: Execution {
            id: exec_id.clone(),
            sandbox: "prod".into(),
            campaign_id: "c1".into(),
            campaign_version: 1,
            request_id: request_id.into(),
            request_hash: "h".into(),
            kind: "unitary".into(),
            context: json!({"shop": "North"}),
            created_at: now,
            created_by: "admin".into(),
            response: json!({"executionId": exec_id}),
        },
        channel: Channel::Email,
        priority: 0,
        messages: (0..recipients)
            .map(|i| PlannedMessage {
                message_id: id(),
                user_id: format!("u{i}@example.com"),
                namespace: "email".into(),
                profile_id: None,
                address: Some(format!("u{i}@example.com")),
                status: MessageStatus::Queued,
                exclusion_reason: None,
                profile: json!({"n": i}),
                recipient_context: json!({"i": i}),
                locale: None,
                proof: None,
                detail: None,
            })
            .collect(),
        profiles_to_create: vec![],
        profile_origin: None,
    }
}
