//! Property tests: escaping is complete, headers never carry CR/LF, and arbitrary
//! input never panics.

use herald_template::{OutputMode, Template, escape_html};
use proptest::prelude::*;
use serde_json::json;

fn entity_ok(s: &str) -> bool {
    // Every `&` must start one of the entities the escaper produces.
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        let tail = &rest[i..];
        if !["&amp;", "&lt;", "&gt;", "&quot;", "&#x27;"]
            .iter()
            .any(|e| tail.starts_with(e))
        {
            return false;
        }
        rest = &rest[i + 1..];
    }
    true
}

proptest! {
    #[test]
    fn html_output_is_escaped(s in any::<String>()) {
        let t = Template::compile("<p>{{context.v}}</p>").expect("compiles");
        let out = t.render(&json!({"context": {"v": s}}), OutputMode::Html).expect("renders");
        let esc = escape_html(&s);
        prop_assert_eq!(&out, &format!("<p>{esc}</p>"));
        prop_assert!(!esc.contains(['<', '>', '"', '\'']));
        prop_assert!(entity_ok(&esc));
    }

    #[test]
    fn pql_output_is_escaped(s in ".*") {
        let t = Template::compile("{%= context.v %}").expect("compiles");
        let out = t.render(&json!({"context": {"v": s}}), OutputMode::Html).expect("renders");
        prop_assert_eq!(out, escape_html(&s));
    }

    #[test]
    fn header_has_no_line_breaks(s in any::<String>(), lit in "[a-z\r\n ]{0,20}") {
        let src = format!("{lit}{{{{{{context.v}}}}}}{{{{context.v}}}}");
        let t = Template::compile(&src).expect("compiles");
        let out = t.render(&json!({"context": {"v": s}}), OutputMode::Header).expect("renders");
        prop_assert!(!out.contains(['\r', '\n']));
    }

    #[test]
    fn random_templates_never_panic(src in "([a-z .\n]|\\{\\{|\\}\\}|\\{%|%\\}|[#/^~!&>=()\\[\\],'\"`@|?:+*%<-]|each|if|else|let|this|[0-9]){0,60}") {
        if let Ok(t) = Template::compile(&src) {
            let data = json!({"a": [1, {"b": "x"}], "b": "<y>", "c": {"d": null}, "if": true});
            let _ = t.render(&data, OutputMode::Html);
            let _ = t.variables();
        }
    }

    #[test]
    fn arbitrary_strings_never_panic(src in any::<String>()) {
        if let Ok(t) = Template::compile(&src) {
            let _ = t.render(&json!({}), OutputMode::Text);
        }
    }
}
