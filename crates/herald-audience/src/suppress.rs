//! Suppression lists applied to a batch: one store lookup for the batch's
//! addresses.

use herald_domain::campaign::CampaignCategory;
use herald_domain::channel::Channel;
use herald_domain::message::MessageStatus;
use herald_domain::policy::suppression_exclusion;
use herald_store::{FanoutMessage, Store, StoreError};

pub async fn apply(
    store: &dyn Store,
    sandbox: &str,
    category: CampaignCategory,
    channel: Channel,
    messages: &mut [FanoutMessage],
) -> Result<(), StoreError> {
    let addresses: Vec<String> = messages
        .iter()
        .filter(|m| m.status == MessageStatus::Queued)
        .filter_map(|m| m.address.clone())
        .collect();
    if addresses.is_empty() {
        return Ok(());
    }
    let hits = store.suppressed(sandbox, channel, &addresses).await?;
    if hits.is_empty() {
        return Ok(());
    }
    for m in messages
        .iter_mut()
        .filter(|m| m.status == MessageStatus::Queued)
    {
        if let Some((reason, detail)) = m
            .address
            .as_ref()
            .and_then(|a| hits.get(a))
            .and_then(|hit| suppression_exclusion(category, hit))
        {
            m.status = MessageStatus::Excluded;
            m.exclusion_reason = Some(reason.to_string());
            m.detail = Some(detail);
        }
    }
    Ok(())
}
