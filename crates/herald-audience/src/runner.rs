//! The fan-out loop of audience executions.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::Value;
use tokio::sync::Notify;
use tracing::Instrument;

use herald_domain::audience::AudienceRule;
use herald_domain::audience_execution::{Fanout, FanoutStatus};
use herald_domain::content::CompiledContent;
use herald_domain::language::LocaleChooser;
use herald_store::{FanoutBatch, FrequencyCap, Store, StoreError};

use crate::plan::Plan;

#[derive(Debug, Clone)]
pub struct RunnerOptions {
    /// Candidates read per batch (and messages per transaction at most).
    pub batch_size: usize,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        RunnerOptions { batch_size: 2_000 }
    }
}

/// Runs audience executions in the background, one task each.
pub struct Runner {
    store: Arc<dyn Store>,
    wake_delivery: Option<Arc<Notify>>,
    options: RunnerOptions,
    /// Executions this process is running (so a resume and a new start
    /// never run one twice).
    running: Mutex<HashSet<(String, String)>>,
}

#[derive(Debug, thiserror::Error)]
enum RunError {
    /// Stops the execution as failed, with this reason.
    #[error("{0}")]
    Fatal(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Runner {
    pub fn new(
        store: Arc<dyn Store>,
        wake_delivery: Option<Arc<Notify>>,
        options: RunnerOptions,
    ) -> Arc<Runner> {
        Arc::new(Runner {
            store,
            wake_delivery,
            options,
            running: Mutex::new(HashSet::new()),
        })
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Starts running `fanout` in the background, unless it already runs.
    pub fn spawn(self: &Arc<Self>, fanout: Fanout) {
        let key = (fanout.sandbox.clone(), fanout.execution_id.clone());
        match self.running.lock() {
            Ok(mut set) => {
                if !set.insert(key.clone()) {
                    return;
                }
            }
            Err(_) => return,
        }
        let me = self.clone();
        let span = tracing::info_span!("fanout", execution_id = %fanout.execution_id, campaign_id = %fanout.campaign_id);
        tokio::spawn(
            async move {
                me.run(fanout).await;
                if let Ok(mut set) = me.running.lock() {
                    set.remove(&key);
                }
            }
            .instrument(span),
        );
    }

    /// Resumes every execution left in progress (after a restart).
    pub async fn resume_all(self: &Arc<Self>) -> Result<usize, StoreError> {
        let running = self.store.running_fanouts().await?;
        let n = running.len();
        for f in running {
            tracing::info!(execution_id = %f.execution_id, cursor = f.cursor, "resuming audience execution");
            self.spawn(f);
        }
        Ok(n)
    }

    async fn run(&self, fanout: Fanout) {
        let started = Instant::now();
        let mut attempt = 0u32;
        loop {
            match self.run_once(&fanout).await {
                Ok(()) => {
                    tracing::info!(execution_id = %fanout.execution_id, elapsed_ms = started.elapsed().as_millis() as u64, "audience execution done");
                    return;
                }
                Err(RunError::Fatal(reason)) => {
                    tracing::warn!(execution_id = %fanout.execution_id, %reason, "audience execution failed");
                    if let Err(e) = self
                        .store
                        .fail_fanout(&fanout.sandbox, &fanout.execution_id, &reason, Utc::now())
                        .await
                    {
                        tracing::error!(error = %e, "cannot record the failure of an audience execution");
                    }
                    return;
                }
                Err(RunError::Store(e)) => {
                    // Transient (the store is busy or restarting): resume
                    // from the checkpoint after a pause.
                    attempt += 1;
                    let pause = Duration::from_millis(200 * u64::from(attempt.min(25)));
                    tracing::warn!(execution_id = %fanout.execution_id, error = %e, ?pause, "audience execution batch failed; resuming from the checkpoint");
                    if matches!(e, StoreError::Closed) {
                        return;
                    }
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }

    async fn run_once(&self, fanout: &Fanout) -> Result<(), RunError> {
        let store = self.store.as_ref();
        // The checkpoint as stored now (a retry resumes after it).
        let Some(current) = store
            .get_fanout(&fanout.sandbox, &fanout.execution_id)
            .await?
        else {
            return Err(RunError::Fatal("the execution is gone".into()));
        };
        if current.status != FanoutStatus::InProgress {
            return Ok(());
        }
        let version = store
            .get_campaign_version(
                &fanout.sandbox,
                &fanout.campaign_id,
                fanout.campaign_version,
            )
            .await?
            .ok_or_else(|| RunError::Fatal("the campaign version is gone".into()))?;
        let def = &version.definition;
        let audience = store
            .get_audience(&fanout.sandbox, &fanout.audience_id)
            .await?
            .ok_or_else(|| {
                RunError::Fatal(format!("audience '{}' was deleted", fanout.audience_id))
            })?;
        let rule = match &audience.rule {
            Some(r) => Some(AudienceRule::compile(r).map_err(|e| {
                RunError::Fatal(format!(
                    "the audience rule does not compile: {}",
                    e.first().map(|e| e.message.as_str()).unwrap_or("")
                ))
            })?),
            None => None,
        };
        let content = CompiledContent::compile(def, &version.fragments).ok();
        let chooser = def
            .language_settings_id
            .as_ref()
            .and(version.language_settings.as_ref())
            .map(LocaleChooser::new);
        let config = store
            .get_channel_configuration(&fanout.sandbox, &def.action.channel_configuration_id)
            .await?;
        let push_app: Option<String> = config
            .as_ref()
            .and_then(|c| c.push.as_ref())
            .and_then(|p| p.get("appId"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let caps: Vec<FrequencyCap> = crate::runner::caps(store, &fanout.sandbox, def).await?;
        let plan = Plan {
            category: def.category,
            channel: def.action.channel,
            namespace: &def.audience.identity_namespace,
            rule: rule.as_ref(),
            push_app: push_app.as_deref(),
            chooser: chooser.as_ref(),
            content: content.as_ref(),
            missing_values: def.missing_values,
            context: &fanout.context,
        };

        let batch = self.options.batch_size;
        let ns = def.audience.identity_namespace.as_str();
        let mut cursor = current.cursor;
        let mut scan = store
            .scan_audience(&fanout.sandbox, &audience, ns, cursor, batch)
            .await?;
        loop {
            let next_pos = scan.next;
            let last = scan.candidates.last().map(|c| c.position);
            let mut messages = plan.messages(std::mem::take(&mut scan.candidates));
            crate::suppress::apply(
                store,
                &fanout.sandbox,
                def.category,
                def.action.channel,
                &mut messages,
            )
            .await?;
            let new_cursor = next_pos.or(last).unwrap_or(cursor).max(cursor);
            let done = next_pos.is_none();
            let append = store.append_fanout(FanoutBatch {
                sandbox: fanout.sandbox.clone(),
                execution_id: fanout.execution_id.clone(),
                campaign_id: fanout.campaign_id.clone(),
                campaign_version: fanout.campaign_version,
                channel: def.action.channel,
                messages,
                caps: caps.clone(),
                cursor: new_cursor,
                done,
                now: Utc::now(),
                throttle: def.schedule.throttle.map(|t| (t, current.created_at)),
            });
            if done {
                let r = append.await?;
                self.after_batch(r.queued);
                return Ok(());
            }
            // Read the next page while this one is written.
            let (r, next) = tokio::join!(
                append,
                store.scan_audience(&fanout.sandbox, &audience, ns, new_cursor, batch)
            );
            let r = r?;
            self.after_batch(r.queued);
            cursor = new_cursor;
            scan = next?;
        }
    }

    fn after_batch(&self, queued: u64) {
        metrics::counter!("herald_fanout_messages_total").increment(queued);
        if queued > 0
            && let Some(w) = &self.wake_delivery
        {
            w.notify_one();
        }
    }
}

/// The frequency caps of a campaign's business rules.
async fn caps(
    store: &dyn Store,
    sandbox: &str,
    def: &herald_domain::campaign::CampaignDefinition,
) -> Result<Vec<FrequencyCap>, RunError> {
    let mut caps = Vec::new();
    for id in &def.business_rule_ids {
        let rule = store
            .get_business_rule(sandbox, id)
            .await?
            .ok_or_else(|| RunError::Fatal(format!("business rule '{id}' was deleted")))?;
        if rule.channel != def.action.channel {
            continue;
        }
        caps.push(FrequencyCap {
            rule_id: rule.id.clone(),
            max_messages: rule.max_messages,
            window: rule.window().to_std().unwrap_or(Duration::MAX),
        });
    }
    Ok(caps)
}
