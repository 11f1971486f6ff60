//! The campaign page's ready-made cURL request: every `context.` and
//! `profile.` variable the content reads, filled with placeholders.

use serde_json::{Map, Value, json};

use herald_domain::campaign::Campaign;
use herald_domain::content::{CompileError, CompiledContent};
use herald_domain::fragment::Fragments;

/// Builds the request for `campaign` against `base` (e.g. `http://host:8080`).
pub fn build(
    campaign: &Campaign,
    base: &str,
    sandbox: &str,
    fragments: &Fragments,
) -> Result<String, CompileError> {
    let def = &campaign.definition;
    if def.content.email.is_none() && def.content.locales.is_empty() {
        return Err(CompileError::Missing("email".into()));
    }
    let vars = CompiledContent::compile(def, fragments)?.variables();
    let mut context = Value::Object(Map::new());
    let mut profile = Value::Object(Map::new());
    for v in &vars {
        if let Some(rest) = v.strip_prefix("context.") {
            insert_path(&mut context, rest);
        } else if let Some(rest) = v.strip_prefix("profile.") {
            insert_path(&mut profile, rest);
        }
    }
    let namespace = if def.audience.identity_namespace.is_empty() {
        "email"
    } else {
        &def.audience.identity_namespace
    };
    let user_id = if namespace == "email" {
        "recipient@example.com"
    } else {
        "<userId>"
    };
    let mut recipient = json!({"type": "aep", "namespace": namespace, "userId": user_id});
    if profile.as_object().is_some_and(|o| !o.is_empty()) {
        recipient["profile"] = profile;
    }
    let mut body = json!({
        "requestId": "<unique request id>",
        "campaignId": campaign.id,
        "recipients": [recipient],
    });
    if context.as_object().is_some_and(|o| !o.is_empty()) {
        body["context"] = context;
    }
    let pretty = serde_json::to_string_pretty(&body)
        .unwrap_or_default()
        .replace('\'', "'\\''");
    Ok(format!(
        "curl -X POST '{base}/ajo/im/executions/unitary' \\\n  -H 'Authorization: Bearer <api key>' \\\n  -H 'x-sandbox-name: {sandbox}' \\\n  -H 'Content-Type: application/json' \\\n  -d '{pretty}'\n"
    ))
}

/// Sets `a.b.c` to a placeholder, creating objects on the way; a path that
/// both holds a value and has children keeps the children.
fn insert_path(root: &mut Value, path: &str) {
    let parts: Vec<&str> = path.split('.').filter(|p| !p.is_empty()).collect();
    let mut cur = root;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let Value::Object(map) = cur else { return };
        let entry = map.entry(part.to_string()).or_insert_with(|| {
            if last {
                json!(format!("<{path}>"))
            } else {
                json!({})
            }
        });
        if !last && !entry.is_object() {
            *entry = json!({});
        }
        cur = entry;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_paths_become_objects() {
        let mut v = json!({});
        insert_path(&mut v, "order.id");
        insert_path(&mut v, "order.items");
        insert_path(&mut v, "order.items.name");
        insert_path(&mut v, "shop");
        assert_eq!(
            v,
            json!({"order": {"id": "<order.id>", "items": {"name": "<order.items.name>"}}, "shop": "<shop>"})
        );
    }
}
