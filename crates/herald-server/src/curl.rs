//! The campaign page's ready-made cURL request: every `context.` and
//! `profile.` variable the content reads, filled with placeholders.

use std::collections::BTreeSet;

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
    let compiled = CompiledContent::compile(def, fragments)?;
    let lists = compiled.list_variables();
    let mut context = Value::Object(Map::new());
    let mut profile = Value::Object(Map::new());
    for v in &compiled.variables() {
        if let Some(rest) = v.strip_prefix("context.") {
            insert_path(&mut context, "context", rest, &lists);
        } else if let Some(rest) = v.strip_prefix("profile.") {
            insert_path(&mut profile, "profile", rest, &lists);
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

/// Sets `a.b.c` to a placeholder, creating objects on the way — or a
/// one-item array where `{{#each}}` iterates the path (`lists` holds full
/// paths under `root`); a path that both holds a value and has children
/// keeps the children.
fn insert_path(root: &mut Value, root_name: &str, path: &str, lists: &BTreeSet<String>) {
    let parts: Vec<&str> = path.split('.').filter(|p| !p.is_empty()).collect();
    let mut full = root_name.to_string();
    let mut cur = root;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        full.push('.');
        full.push_str(part);
        let is_list = lists.contains(&full);
        let Value::Object(map) = cur else { return };
        let entry = map
            .entry(part.to_string())
            .or_insert_with(|| match (is_list, last) {
                (true, true) => json!([format!("<{path} item>")]),
                (true, false) => json!([{}]),
                (false, true) => json!(format!("<{path}>")),
                (false, false) => json!({}),
            });
        if is_list && !last {
            // Items with fields: the one item is an object.
            if !entry.get(0).is_some_and(Value::is_object) {
                *entry = json!([{}]);
            }
            match entry.get_mut(0) {
                Some(item) => cur = item,
                None => return,
            }
            continue;
        }
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
        let none = BTreeSet::new();
        let mut v = json!({});
        for p in ["order.id", "order.items", "order.items.name", "shop"] {
            insert_path(&mut v, "context", p, &none);
        }
        assert_eq!(
            v,
            json!({"order": {"id": "<order.id>", "items": {"name": "<order.items.name>"}}, "shop": "<shop>"})
        );
    }

    #[test]
    fn iterated_paths_become_one_item_arrays() {
        let lists: BTreeSet<String> = ["context.order.items", "context.tags"]
            .into_iter()
            .map(String::from)
            .collect();
        let mut v = json!({});
        for p in ["order.items", "order.items.name", "order.items.qty", "tags"] {
            insert_path(&mut v, "context", p, &lists);
        }
        assert_eq!(
            v,
            json!({"order": {"items": [{"name": "<order.items.name>", "qty": "<order.items.qty>"}]},
                   "tags": ["<tags item>"]})
        );
    }
}
