//! The links of recently clicked messages, so a second click on a message
//! (another link, a reader clicking twice, a scanner then a person) is
//! answered without a read. A message's links never change once it is
//! sent; entries still expire after a minute, so a profile deletion that
//! scrubs them is honoured soon.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use herald_store::{Store, StoreError, TrackedMessage};

/// Entries at most; the cache is emptied when full (cheap, and a full
/// cache only means the next clicks read again).
const CAPACITY: usize = 100_000;
const TTL: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct LinkCache {
    entries: Mutex<HashMap<String, (Instant, Arc<TrackedMessage>)>>,
}

impl LinkCache {
    pub async fn get(
        &self,
        store: &dyn Store,
        message_id: &str,
    ) -> Result<Option<Arc<TrackedMessage>>, StoreError> {
        if let Ok(map) = self.entries.lock()
            && let Some((at, m)) = map.get(message_id)
            && at.elapsed() < TTL
        {
            return Ok(Some(m.clone()));
        }
        let Some(m) = store.tracked_message(message_id).await? else {
            return Ok(None);
        };
        let m = Arc::new(m);
        // Only sent messages have their final links.
        if !m.links.is_empty()
            && let Ok(mut map) = self.entries.lock()
        {
            if map.len() >= CAPACITY {
                map.clear();
            }
            map.insert(message_id.to_owned(), (Instant::now(), m.clone()));
        }
        Ok(Some(m))
    }
}
