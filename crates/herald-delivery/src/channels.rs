//! SMS and push for the engine: the transport each channel configuration
//! names (Twilio or a generic HTTP JSON provider; FCM and/or APNs), built
//! once per configuration version, or the JSON-lines outbox when the
//! configuration names no provider.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use herald_channels::{PushOutbox, PushTransport, SmsOutbox, SmsTransport, settings};
use herald_domain::channel::{ChannelConfiguration, names_provider};
use herald_domain::push_settings::PushSettings;
use herald_domain::sms_settings::SmsSettings;

type Built<T> = (DateTime<Utc>, Arc<T>);

pub struct Channels {
    sms_outbox: Arc<dyn SmsTransport>,
    push_outbox: Arc<dyn PushTransport>,
    sms: Mutex<HashMap<String, Built<dyn SmsTransport>>>,
    push: Mutex<HashMap<String, Built<dyn PushTransport>>>,
}

impl Channels {
    /// Outboxes under `data_dir/outbox/` (`sms.jsonl`, `push.jsonl`).
    pub fn open(data_dir: &Path) -> std::io::Result<Channels> {
        Ok(Channels {
            sms_outbox: Arc::new(SmsOutbox::open(data_dir)?),
            push_outbox: Arc::new(PushOutbox::open(data_dir)?),
            sms: Mutex::new(HashMap::new()),
            push: Mutex::new(HashMap::new()),
        })
    }

    pub fn sms_for(
        &self,
        c: &ChannelConfiguration,
    ) -> Result<(Arc<dyn SmsTransport>, Option<SmsSettings>), String> {
        let Some(v) = c.sms.as_ref().filter(|v| names_provider(v)) else {
            return Ok((self.sms_outbox.clone(), None));
        };
        let s = SmsSettings::from_value(v).map_err(describe)?;
        let mut map = self.sms.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, t)) = map.get(&c.id)
            && *at == c.updated_at
        {
            return Ok((t.clone(), Some(s)));
        }
        let t: Arc<dyn SmsTransport> =
            Arc::from(settings::sms_transport(&s).map_err(|e| e.to_string())?);
        map.insert(c.id.clone(), (c.updated_at, t.clone()));
        Ok((t, Some(s)))
    }

    pub fn push_for(
        &self,
        c: &ChannelConfiguration,
    ) -> Result<(Arc<dyn PushTransport>, Option<PushSettings>), String> {
        let Some(v) = c.push.as_ref().filter(|v| names_provider(v)) else {
            return Ok((self.push_outbox.clone(), None));
        };
        let s = PushSettings::from_value(v).map_err(describe)?;
        let mut map = self.push.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, t)) = map.get(&c.id)
            && *at == c.updated_at
        {
            return Ok((t.clone(), Some(s)));
        }
        let t: Arc<dyn PushTransport> =
            Arc::new(settings::push_transport(&s).map_err(|e| e.to_string())?);
        map.insert(c.id.clone(), (c.updated_at, t.clone()));
        Ok((t, Some(s)))
    }
}

fn describe(errors: Vec<herald_domain::FieldError>) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.pointer, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}
