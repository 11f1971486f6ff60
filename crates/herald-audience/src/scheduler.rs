//! Fires scheduled audience executions when their time comes.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{Notify, watch};

use herald_domain::audience_execution::ScheduledExecution;
use herald_domain::ids::new_id;
use herald_store::{AcceptOutcome, NewFanout};

use crate::runner::Runner;
use crate::start::{StartError, StartRequest, response, start};

/// Longest sleep between looks at the schedule table (a new schedule also
/// wakes the loop through `wake`).
const MAX_SLEEP: Duration = Duration::from_secs(1);

pub async fn run_scheduler(
    runner: Arc<Runner>,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        let store = runner.store().clone();
        match store.due_schedules(Utc::now(), 100).await {
            Ok(due) => {
                for s in due {
                    fire(&runner, s).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read due schedules"),
        }
        let sleep = match store.next_schedule_at().await {
            Ok(Some(at)) => (at - Utc::now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .min(MAX_SLEEP),
            _ => MAX_SLEEP,
        };
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = wake.notified() => {}
            _ = shutdown.changed() => {}
        }
    }
}

async fn fire(runner: &Arc<Runner>, s: ScheduledExecution) {
    let store = runner.store().clone();
    let now = Utc::now();
    let execution_id = new_id();
    tracing::info!(schedule_id = %s.id, campaign_id = %s.campaign_id, "firing scheduled audience execution");
    let req = StartRequest {
        sandbox: s.sandbox.clone(),
        campaign_id: s.campaign_id.clone(),
        request_id: s.request_id.clone(),
        request_hash: s.request_hash.clone(),
        audience_id: Some(s.audience_id.clone()),
        context: s.context.clone(),
        created_by: s.created_by.clone(),
        now,
        execution_id: execution_id.clone(),
        schedule_id: Some(s.id.clone()),
    };
    match start(store.as_ref(), req).await {
        Ok((_, Some(fanout))) => runner.spawn(fanout),
        Ok((_, None)) => {}
        Err(StartError::Store(e)) => {
            tracing::warn!(schedule_id = %s.id, error = %e, "cannot fire a schedule; will try again");
        }
        Err(reason) => {
            // The campaign changed since it was scheduled: the schedule
            // fires into an execution that failed, with the reason, so its
            // status says what happened.
            let new = NewFanout {
                execution: herald_domain::execution::Execution {
                    id: execution_id.clone(),
                    sandbox: s.sandbox.clone(),
                    campaign_id: s.campaign_id.clone(),
                    campaign_version: 0,
                    request_id: s.request_id.clone(),
                    request_hash: s.request_hash.clone(),
                    kind: "audience".into(),
                    context: s.context.clone(),
                    created_at: now,
                    created_by: s.created_by.clone(),
                    response: response(&execution_id, &s.request_id, &s.created_by, now),
                },
                audience_id: s.audience_id.clone(),
                schedule_id: Some(s.id.clone()),
            };
            match store.start_fanout(new).await {
                Ok(AcceptOutcome::Created) => {
                    let _ = store
                        .fail_fanout(&s.sandbox, &execution_id, &reason.to_string(), now)
                        .await;
                }
                Ok(AcceptOutcome::Existing(_)) => {}
                Err(e) => tracing::warn!(error = %e, "cannot record a failed schedule"),
            }
        }
    }
}
