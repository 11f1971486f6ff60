//! The reference's OpenAPI schemas (tests/fixtures/ajo-openapi/messaging.yaml,
//! Apache-2.0, see the LICENSE beside it) as JSON Schema validators.

use std::sync::OnceLock;

use serde_json::{Value, json};

pub fn fixtures_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// messaging.yaml as JSON.
pub fn document() -> Value {
    let text = std::fs::read_to_string(fixtures_dir().join("ajo-openapi/messaging.yaml"))
        .expect("messaging.yaml");
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).expect("YAML");
    serde_json::to_value(yaml).expect("YAML as JSON")
}

/// The components, with OpenAPI's `discriminator` made explicit for a JSON
/// Schema validator: the reference's recipient variants differ only by the
/// discriminator (`type`), so without it `oneOf` matches both variants and
/// fails every recipient. Each mapped variant gets `type: {const: <key>}`.
pub fn components() -> Value {
    let mut components = document()["components"].clone();
    let mut consts = Vec::new();
    collect_discriminators(&components, &mut consts);
    for (name, prop, value) in consts {
        let schema = &mut components["schemas"][&name];
        assert!(
            schema.is_object(),
            "discriminator maps to unknown schema {name}"
        );
        schema["properties"][&prop]["const"] = json!(value);
    }
    components
}

fn collect_discriminators(v: &Value, out: &mut Vec<(String, String, String)>) {
    match v {
        Value::Object(m) => {
            if let Some(d) = m.get("discriminator") {
                let prop = d["propertyName"].as_str().unwrap().to_string();
                for (key, target) in d["mapping"].as_object().into_iter().flatten() {
                    let name = target
                        .as_str()
                        .unwrap()
                        .trim_start_matches("#/components/schemas/")
                        .to_string();
                    out.push((name, prop.clone(), key.clone()));
                }
            }
            m.values().for_each(|x| collect_discriminators(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| collect_discriminators(x, out)),
        _ => {}
    }
}

/// A validator for `#/components/schemas/<name>`, formats checked.
pub fn validator(name: &str) -> jsonschema::Validator {
    validator_over(components(), name)
}

/// The same over the components exactly as written (no discriminator).
pub fn literal_validator(name: &str) -> jsonschema::Validator {
    validator_over(document()["components"].clone(), name)
}

fn validator_over(components: Value, name: &str) -> jsonschema::Validator {
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": components,
        "$ref": format!("#/components/schemas/{name}"),
    });
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("schema {name}: {e}"))
}

pub struct Validators {
    pub request: jsonschema::Validator,
    pub response: jsonschema::Validator,
    pub error: jsonschema::Validator,
}

pub fn validators() -> &'static Validators {
    static V: OnceLock<Validators> = OnceLock::new();
    V.get_or_init(|| Validators {
        request: validator("imExecutionRequestUnitary"),
        response: validator("imExecutionResponse"),
        error: validator("errorResponse"),
    })
}

/// The validation errors of `instance` (empty when valid).
pub fn errors(v: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect()
}

#[track_caller]
pub fn assert_valid(v: &jsonschema::Validator, instance: &Value, what: &str) {
    let errs = errors(v, instance);
    assert!(
        errs.is_empty(),
        "{what} violates the reference schema: {errs:?}\n{instance}"
    );
}
