//! Profiles and their identities.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// One identity of a profile: a value in a namespace (`email`, `crmId`, …).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    pub namespace: String,
    pub id: String,
}

/// Where a profile created by an execution came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfileOrigin {
    pub campaign_id: String,
    pub request_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub id: String,
    #[serde(skip)]
    pub sandbox: String,
    pub identities: Vec<Identity>,
    #[schema(value_type = Object)]
    pub attributes: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<ProfileOrigin>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The standard namespaces every sandbox has.
pub const STANDARD_NAMESPACES: [&str; 4] = ["email", "phone", "ecid", "crmId"];

/// Brings an identity value to its stored form, so that lookups match what
/// users mean: e-mail domains are case-insensitive, phone numbers are E.164,
/// surrounding blanks are never meaningful. Values of a standard namespace
/// that do not normalize (validation rejects them elsewhere) and values of
/// other namespaces are only trimmed.
pub fn normalize_identity(namespace: &str, id: &str) -> String {
    match crate::identity::standard_kind(namespace) {
        Some(kind) => {
            crate::identity::normalize(kind, id).unwrap_or_else(|_| id.trim().to_string())
        }
        None => id.trim().to_string(),
    }
}

/// The e-mail address a profile's attributes hold, in the reference's XDM
/// shape (`personalEmail.address`, then `workEmail.address`), or a plain
/// `email` attribute.
pub fn email_from_attributes(attributes: &Value) -> Option<String> {
    let candidates = [
        attributes.pointer("/personalEmail/address"),
        attributes.pointer("/workEmail/address"),
        attributes.get("email"),
    ];
    candidates
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find(|s| !s.trim().is_empty())
        .map(|s| s.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn email_domain_is_lower_cased() {
        assert_eq!(
            normalize_identity("email", " Jane.Doe@Example.COM "),
            "Jane.Doe@example.com"
        );
        assert_eq!(normalize_identity("crmId", " CRM-1 "), "CRM-1");
        assert_eq!(
            normalize_identity("phone", "+33 6 12 34 56 78"),
            "+33612345678"
        );
        assert_eq!(normalize_identity("phone", " not a phone "), "not a phone");
        assert_eq!(normalize_identity("loyaltyId", " L-1 "), "L-1");
    }

    #[test]
    fn email_attribute_lookup() {
        assert_eq!(
            email_from_attributes(&json!({"workEmail": {"address": "w@example.com"}})).as_deref(),
            Some("w@example.com")
        );
        assert_eq!(
            email_from_attributes(&json!({"personalEmail": {"address": ""}})),
            None
        );
    }
}
