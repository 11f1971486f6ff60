//! Live campaign versions by id, for the execution hot path. Every campaign
//! write in this process invalidates its entry.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use herald_domain::campaign::{Campaign, CampaignVersion};
use herald_store::{Store, StoreError};

#[derive(Debug)]
pub struct LiveCampaign {
    pub campaign: Campaign,
    pub version: Option<CampaignVersion>,
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
        let live = Arc::new(LiveCampaign { campaign, version });
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
