//! Compiled campaign versions and their channel configurations, cached so
//! that rendering never re-parses a template.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use herald_domain::campaign::Tracking;
use herald_domain::channel::ChannelConfiguration;
use herald_domain::content::{CompiledContent, CompiledEmail, render_data};
use herald_domain::message::{Deliverable, RenderedEmail};
use herald_store::Store;

/// Everything needed to render and address messages of one version: the
/// content of every locale, compiled once.
pub struct Prepared {
    pub content: CompiledContent,
    pub configuration: ChannelConfiguration,
    /// The campaign action's open and click tracking.
    pub tracking: Tracking,
    /// Content that reads no variable renders the same for everyone: it is
    /// rendered once per locale (rapid delivery of a push blast).
    constant: bool,
    rendered_once: Mutex<HashMap<Option<String>, RenderedEmail>>,
}

impl Prepared {
    /// The compiled email of a message's locale (`None`: the plain content).
    pub fn email_for(&self, locale: Option<&str>) -> Option<&CompiledEmail> {
        self.content.email_for(locale)
    }

    /// What to send for `m`: a proof's content as it was rendered when
    /// asked for, otherwise its locale's compiled content rendered now.
    pub fn render(&self, m: &Deliverable) -> Result<RenderedEmail, String> {
        self.render_with(m, None)
    }

    /// Renders with `unsubscribeUrl` in the data (the body's own
    /// unsubscribe link) when the message has one.
    pub fn render_with(
        &self,
        m: &Deliverable,
        unsubscribe_url: Option<&str>,
    ) -> Result<RenderedEmail, String> {
        if let Some(proof) = &m.proof {
            return Ok(proof.clone());
        }
        let compiled = self
            .email_for(m.locale.as_deref())
            .ok_or_else(|| "the campaign version has no content for its channel".to_string())?;
        if self.constant
            && let Ok(cache) = self.rendered_once.lock()
            && let Some(r) = cache.get(&m.locale)
        {
            return Ok(r.clone());
        }
        let mut data = render_data(&m.profile, &m.execution_context, &m.recipient_context);
        if let (Some(url), Some(obj)) = (unsubscribe_url, data.as_object_mut()) {
            obj.insert("unsubscribeUrl".into(), url.into());
        }
        let r = compiled
            .render(&data)
            .map_err(|e| format!("render error: {e}"))?;
        if self.constant
            && let Ok(mut cache) = self.rendered_once.lock()
        {
            cache.insert(m.locale.clone(), r.clone());
        }
        Ok(r)
    }

    fn new(
        content: CompiledContent,
        configuration: ChannelConfiguration,
        tracking: Tracking,
    ) -> Prepared {
        // Only plain text: a helper like currentTimeInMillis reads no
        // variable and still differs per render.
        let constant = content.email.is_some() && content.is_static();
        Prepared {
            content,
            configuration,
            tracking,
            constant,
            rendered_once: Mutex::new(HashMap::new()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error("campaign {0} not found")]
    CampaignMissing(String),
    #[error("campaign version {0} v{1} not found")]
    VersionMissing(String, i64),
    #[error("channel configuration {0} not found")]
    ConfigurationMissing(String),
    #[error("content does not compile: {0}")]
    Compile(String),
    #[error(transparent)]
    Store(#[from] herald_store::StoreError),
}

type Key = (String, String, i64);

/// Versions are immutable, so entries never go stale; configurations can
/// change, so entries expire after a short time.
pub struct ContentCache {
    entries: RwLock<HashMap<Key, (Instant, Arc<Prepared>)>>,
    ttl: Duration,
}

impl ContentCache {
    pub fn new(ttl: Duration) -> Self {
        ContentCache {
            entries: RwLock::new(HashMap::new()),
            ttl,
        }
    }

    /// What `m` needs. A proof is already rendered (possibly from a draft
    /// that has no version): only the campaign's channel configuration.
    pub async fn get_for(
        &self,
        store: &dyn Store,
        m: &Deliverable,
    ) -> Result<Arc<Prepared>, PrepareError> {
        if m.proof.is_none() {
            return self
                .get(store, &m.sandbox, &m.campaign_id, m.campaign_version)
                .await;
        }
        let c = store
            .get_campaign(&m.sandbox, &m.campaign_id)
            .await?
            .ok_or_else(|| PrepareError::CampaignMissing(m.campaign_id.clone()))?;
        let cfg_id = &c.definition.action.channel_configuration_id;
        let configuration = store
            .get_channel_configuration(&m.sandbox, cfg_id)
            .await?
            .ok_or_else(|| PrepareError::ConfigurationMissing(cfg_id.clone()))?;
        Ok(Arc::new(Prepared::new(
            CompiledContent::default(),
            configuration,
            c.definition.action.tracking,
        )))
    }

    pub async fn get(
        &self,
        store: &dyn Store,
        sandbox: &str,
        campaign_id: &str,
        version: i64,
    ) -> Result<Arc<Prepared>, PrepareError> {
        let key = (sandbox.to_string(), campaign_id.to_string(), version);
        if let Ok(map) = self.entries.read()
            && let Some((at, p)) = map.get(&key)
            && at.elapsed() < self.ttl
        {
            return Ok(p.clone());
        }
        let v = store
            .get_campaign_version(sandbox, campaign_id, version)
            .await?
            .ok_or_else(|| PrepareError::VersionMissing(campaign_id.to_string(), version))?;
        let cfg_id = &v.definition.action.channel_configuration_id;
        let configuration = store
            .get_channel_configuration(sandbox, cfg_id)
            .await?
            .ok_or_else(|| PrepareError::ConfigurationMissing(cfg_id.clone()))?;
        let content = CompiledContent::compile(&v.definition, &v.fragments)
            .map_err(|e| PrepareError::Compile(e.to_string()))?;
        let prepared = Arc::new(Prepared::new(
            content,
            configuration,
            v.definition.action.tracking,
        ));
        if let Ok(mut map) = self.entries.write() {
            map.insert(key, (Instant::now(), prepared.clone()));
        }
        Ok(prepared)
    }
}
