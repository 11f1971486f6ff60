//! Per channel configuration, what the engine built from its `delivery`
//! settings once: the token bucket, the connection cap, the compiled reply
//! overrides and the retry policy. Rebuilt when the configuration changes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;

use herald_domain::channel::ChannelConfiguration;
use herald_domain::delivery_settings::{CompiledOverrides, DeliverySettings};

use crate::limits::Bucket;
use crate::retry::RetryPolicy;

pub struct Gate {
    pub settings: DeliverySettings,
    pub retry: RetryPolicy,
    pub overrides: CompiledOverrides,
    pub bucket: Option<Mutex<Bucket>>,
    pub connections: Option<Arc<Semaphore>>,
}

impl Gate {
    fn new(config: &ChannelConfiguration, defaults: &RetryPolicy) -> Gate {
        let settings = config.delivery.clone().unwrap_or_default();
        let retry = RetryPolicy {
            max_attempts: settings
                .max_attempts
                .map_or(defaults.max_attempts, i64::from),
            base: settings
                .retry_base_seconds
                .map_or(defaults.base, Duration::from_secs),
            max_delay: defaults.max_delay,
        };
        Gate {
            overrides: CompiledOverrides::new(&settings.reply_overrides),
            bucket: settings.rate.as_ref().map(|r| Mutex::new(Bucket::new(r))),
            connections: settings
                .max_connections
                .map(|n| Arc::new(Semaphore::new(n as usize))),
            retry,
            settings,
        }
    }

    /// The server-wide defaults, for a message whose configuration
    /// cannot be read.
    pub fn fallback(defaults: &RetryPolicy) -> Gate {
        Gate {
            settings: DeliverySettings::default(),
            retry: defaults.clone(),
            overrides: CompiledOverrides::default(),
            bucket: None,
            connections: None,
        }
    }

    /// A token now (`Ok`), or when to come back.
    pub fn take_token(&self, now: DateTime<Utc>) -> Result<(), DateTime<Utc>> {
        let Some(bucket) = &self.bucket else {
            return Ok(());
        };
        let mut b = bucket.lock().unwrap_or_else(|p| p.into_inner());
        b.take(now).map_err(|earliest| b.defer(earliest))
    }
}

/// Gates by configuration id, valid while the configuration's
/// `updated_at` is the one they were built from.
#[derive(Default)]
pub struct Gates {
    by_config: Mutex<HashMap<String, Built>>,
}

/// A gate and the configuration `updated_at` it was built from.
type Built = (DateTime<Utc>, Arc<Gate>);

impl Gates {
    pub fn get(&self, config: &ChannelConfiguration, defaults: &RetryPolicy) -> Arc<Gate> {
        let mut map = self.by_config.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, g)) = map.get(&config.id)
            && *at == config.updated_at
        {
            return g.clone();
        }
        let g = Arc::new(Gate::new(config, defaults));
        map.insert(config.id.clone(), (config.updated_at, g.clone()));
        g
    }
}
