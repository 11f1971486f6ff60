//! Golden files: every Postmark template (html and txt) rendered with its
//! `data.json` must equal the committed `expected.html` / `expected.txt`.
//!
//! To regenerate after an intended change: `HERALD_BLESS=1 cargo test -p herald-template
//! --test postmark_golden`, then review the diff by eye.

use herald_template::{OutputMode, Template, escape_html};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/postmark")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Every string leaf of `v`.
fn leaves(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| leaves(x, out)),
        Value::Object(m) => m.values().for_each(|x| leaves(x, out)),
        _ => {}
    }
}

#[test]
fn postmark_goldens() {
    let bless = std::env::var_os("HERALD_BLESS").is_some_and(|v| v == "1");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .expect("fixtures dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut checked = 0;
    let mut mismatches = Vec::new();
    for dir in &dirs {
        let name = dir.file_name().map(|n| n.to_string_lossy().to_string());
        let name = name.unwrap_or_default();
        let data: Value = serde_json::from_str(&read(&dir.join("data.json")))
            .unwrap_or_else(|e| panic!("{name}/data.json: {e}"));
        let mut values = Vec::new();
        leaves(&data, &mut values);
        let mut seen = vec![false; values.len()];
        for (ext, mode) in [("html", OutputMode::Html), ("txt", OutputMode::Text)] {
            let src = read(&dir.join(format!("content.{ext}")));
            let t = Template::compile(&src)
                .unwrap_or_else(|e| panic!("{name}/content.{ext} does not compile: {e:?}"));
            let out = t
                .render(&data, mode)
                .unwrap_or_else(|e| panic!("{name}/content.{ext}: {e}"));
            // Nothing left unrendered (the example's escaped `\{{ something }}` is
            // meant to print literally).
            let stray = out.replace("{{ something }}", "");
            assert!(
                !stray.contains("{{") && !stray.contains("}}") && !stray.contains("{%"),
                "{name}/content.{ext} left a tag unrendered"
            );
            for (i, v) in values.iter().enumerate() {
                let shown = if mode == OutputMode::Html {
                    escape_html(v)
                } else {
                    v.clone()
                };
                seen[i] |= out.contains(&shown);
            }
            let expected_path = dir.join(format!("expected.{ext}"));
            if bless {
                std::fs::write(&expected_path, &out).expect("writing golden");
            } else if read(&expected_path) != out {
                mismatches.push(format!("{name}/expected.{ext}"));
            }
            checked += 1;
        }
        for (v, s) in values.iter().zip(&seen) {
            assert!(
                s,
                "{name}: the value {v:?} from data.json appears in no output"
            );
        }
    }
    assert_eq!(checked, 2 * dirs.len());
    assert_eq!(dirs.len(), 11, "every Postmark template has a golden pair");
    assert!(
        mismatches.is_empty(),
        "output differs from the golden files (HERALD_BLESS=1 regenerates): {mismatches:?}"
    );
}
