//! Transports from the typed settings of a channel configuration
//! (`herald_domain::sms_settings`, `herald_domain::push_settings`).

use std::collections::HashMap;

use herald_domain::push_settings::PushSettings;
use herald_domain::sms_settings::{ErrorClassOverride, SmsProvider, SmsSettings};

use crate::error::{ChannelError, ErrorClass};
use crate::push::{ApnsConfig, ApnsPush, FcmConfig, FcmPush, PushRouter};
use crate::sms::{HttpJsonSms, SmsTransport, TwilioConfig, TwilioSms};

fn error_codes(settings: &SmsSettings) -> HashMap<String, ErrorClass> {
    settings
        .error_codes
        .iter()
        .map(|(code, class)| {
            let class = match class {
                ErrorClassOverride::Permanent => ErrorClass::Permanent,
                ErrorClassOverride::Transient => ErrorClass::Transient,
            };
            (code.clone(), class)
        })
        .collect()
}

/// The SMS transport an SMS channel configuration names. Settings are
/// expected to have passed `SmsSettings::validate`; what still cannot be
/// used (a bad header) is a permanent error.
pub fn sms_transport(settings: &SmsSettings) -> Result<Box<dyn SmsTransport>, ChannelError> {
    Ok(match &settings.provider {
        SmsProvider::Twilio(t) => Box::new(TwilioSms::new(TwilioConfig {
            account_sid: t.account_sid.clone(),
            auth_token: t.auth_token.clone(),
            base_url: t.base_url.clone(),
            messaging_service_sid: t.messaging_service_sid.clone(),
            error_codes: error_codes(settings),
        })?),
        SmsProvider::Http(h) => Box::new(HttpJsonSms::new(h.clone(), error_codes(settings))?),
    })
}

/// The push transports of a push channel configuration, one per platform
/// it names; a message for a platform it lacks fails permanently.
pub fn push_transport(settings: &PushSettings) -> Result<PushRouter, ChannelError> {
    let mut router = PushRouter::default();
    if let Some(f) = &settings.fcm {
        router.fcm = Some(Box::new(FcmPush::new(FcmConfig {
            client_email: f.service_account.client_email.clone(),
            private_key: f.service_account.private_key.clone(),
            token_url: f.token_url().to_string(),
            audience: f.service_account.token_uri.clone(),
            send_url: f.send_url(),
        })?));
    }
    if let Some(a) = &settings.apns {
        router.apns = Some(Box::new(ApnsPush::new(ApnsConfig {
            team_id: a.team_id.clone(),
            key_id: a.key_id.clone(),
            private_key: a.private_key.clone(),
            topic: a.topic.clone(),
            base_url: a.base_url().to_string(),
        })?));
    }
    Ok(router)
}
