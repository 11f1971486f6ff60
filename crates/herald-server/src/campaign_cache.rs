//! Live campaign versions by id, for the execution hot path. Every campaign
//! write in this process invalidates its entry.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use herald_domain::campaign::{Campaign, CampaignVersion};
use herald_domain::content::CompiledContent;
use herald_domain::language::LocaleChooser;
use herald_store::{Store, StoreError};

#[derive(Debug)]
pub struct LiveCampaign {
    pub campaign: Campaign,
    pub version: Option<CampaignVersion>,
    /// The live version's content, compiled on first need (campaigns with
    /// `missingValues: "fail"` render at execution time to exclude).
    compiled: OnceLock<Option<CompiledContent>>,
    /// The live version's language settings with their rules compiled.
    chooser: OnceLock<Option<LocaleChooser>>,
}

impl LiveCampaign {
    /// The live version's content compiled once; `None` when there is no
    /// version or it does not compile (review prevents that).
    pub fn compiled(&self) -> Option<&CompiledContent> {
        self.compiled
            .get_or_init(|| {
                let v = self.version.as_ref()?;
                CompiledContent::compile(&v.definition, &v.fragments).ok()
            })
            .as_ref()
    }

    /// The locale chooser of a multilingual live version, built once.
    pub fn locale_chooser(&self) -> Option<&LocaleChooser> {
        self.chooser
            .get_or_init(|| {
                let v = self.version.as_ref()?;
                v.definition.language_settings_id.as_ref()?;
                v.language_settings.as_ref().map(LocaleChooser::new)
            })
            .as_ref()
    }
}

/// `generation` moves on every invalidation, so a load that raced with a
/// write does not put the stale campaign back into the cache.
#[derive(Default)]
pub struct CampaignCache {
    entries: RwLock<HashMap<(String, String), Arc<LiveCampaign>>>,
    generation: AtomicU64,
}

impl CampaignCache {
    pub async fn get(
        &self,
        store: &dyn Store,
        sandbox: &str,
        id: &str,
    ) -> Result<Option<Arc<LiveCampaign>>, StoreError> {
        let key = (sandbox.to_string(), id.to_string());
        if let Some(hit) = self.entries.read().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(Some(hit));
        }
        let generation = self.generation.load(Ordering::Acquire);
        let Some(campaign) = store.get_campaign(sandbox, id).await? else {
            return Ok(None);
        };
        let version = match campaign.live_version {
            Some(v) => store.get_campaign_version(sandbox, id, v).await?,
            None => None,
        };
        let live = Arc::new(LiveCampaign {
            campaign,
            version,
            compiled: OnceLock::new(),
            chooser: OnceLock::new(),
        });
        if let Ok(mut m) = self.entries.write()
            && self.generation.load(Ordering::Acquire) == generation
        {
            m.insert(key, live.clone());
        }
        Ok(Some(live))
    }

    pub fn invalidate(&self, sandbox: &str, id: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut m) = self.entries.write() {
            m.remove(&(sandbox.to_string(), id.to_string()));
        }
    }
}
