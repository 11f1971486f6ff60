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

// ---- escaping and header safety through every output path ---------------------------------

/// Templates that put `context.v` into the output in different ways; in HTML mode
/// every one must escape what comes from the value.
const HTML_SINKS: &[&str] = &[
    "{{context.v}}",
    "{%= context.v %}",
    "{%= context.none ?: context.v %}",
    "{%= upperCase(context.v) %}",
    "{%= concat(context.v, \"|\", context.v) %}",
    "{%= context.v + context.v %}",
    "{% let x = context.v %}{{x}}",
    "{{#each context.list as |item|}}{{item}}{{/each}}",
    "{{#each context.list}}{{this}}{{/each}}",
    "{{#with context}}{{v}}{{/with}}",
    "{{#if context.v}}{{context.v}}{{/if}}",
    "{%= join(context.list, context.v) %}",
    "{%= replace(context.v, \"a\", context.v) %}",
    "{%= split(context.v, \",\") %}",
    "{%= context.map %}",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the value, no `<`, `>`, `"` or `'` from it reaches an HTML body unescaped,
    /// and every `&` in the output starts an entity. The templates contain none of these
    /// characters themselves, so any in the output came from the value.
    #[test]
    fn html_sinks_never_leak_markup(s in any::<String>(), sink in proptest::sample::select(HTML_SINKS)) {
        let t = Template::compile(sink).expect("compiles");
        let data = json!({"context": {"v": s, "list": [s, s], "map": {"k": s}}});
        let out = t.render(&data, OutputMode::Html).expect("renders");
        prop_assert!(!out.contains(['<', '>', '"', '\'']), "{sink}: {out:?}");
        prop_assert!(entity_ok(&out), "{sink}: {out:?}");
    }

    /// Header fields: CR and LF never survive, whichever tag, function or block put them
    /// there, and whatever the literal text around them.
    #[test]
    fn header_sinks_never_contain_line_breaks(
        s in any::<String>(),
        sink in proptest::sample::select(HTML_SINKS),
        before in "[a-z\r\n ]{0,8}",
        after in "[a-z\r\n ]{0,8}",
    ) {
        let src = format!("{before}{sink}{{{{{{context.v}}}}}}{after}");
        let t = Template::compile(&src).expect("compiles");
        let data = json!({"context": {"v": s, "list": [s, "\r\n"], "map": {"k": s}}});
        let out = t.render(&data, OutputMode::Header).expect("renders");
        prop_assert!(!out.contains(['\r', '\n']), "{src}: {out:?}");
    }
}

// ---- fuzzing: random templates and random data never panic and always terminate -----------

/// Pieces that random templates are assembled from: tag delimiters, block keywords,
/// expressions, function names (valid, wrong arity, unknown), literals, and garbage.
const FRAGMENTS: &[&str] = &[
    "{{",
    "}}",
    "{{{",
    "}}}",
    "{%",
    "%}",
    "{%=",
    "{%#if ",
    "{%else%}",
    "{%else if ",
    "{%/if%}",
    "{%#unless ",
    "{%/unless%}",
    "{% let x = ",
    "{% let s = s + s %}",
    "{% if ",
    "{% endif %}",
    "{{#each ",
    "{{/each}}",
    "{{#with ",
    "{{/with}}",
    "{{#if ",
    "{{/if}}",
    "{{#unless ",
    "{{/unless}}",
    "{{else}}",
    "{{else if ",
    "{{^",
    "{{#",
    "{{/",
    "{{!",
    "{{!--",
    "--}}",
    "{{>",
    "{{&",
    "~}}",
    "{{~",
    "{{fragment id='a/b'}}",
    "{{> p}}",
    "{{fragment id='ajo:f/1'}}",
    "{{fragment id='ajo:f/1' render=false x=1}}",
    " as |x|",
    " as |x i|",
    "|",
    "@index",
    "@first",
    "@last",
    "@key",
    "@root",
    "../",
    "./",
    "this",
    ".",
    "x",
    "x.y",
    "a",
    "a.b",
    "list",
    "list.n",
    "obj",
    "`a-b`",
    "`1`",
    "context.v",
    "s",
    "(",
    ")",
    "[",
    "]",
    ",",
    " + ",
    " - ",
    " * ",
    " / ",
    " % ",
    " = ",
    " != ",
    " < ",
    " >= ",
    " and ",
    " or ",
    "not ",
    "!",
    " ?: ",
    " in ",
    " notIn ",
    "0",
    "1",
    "-1",
    "56L",
    "2.5",
    "1e308",
    "9999999999999999999",
    "\"str\"",
    "'s'",
    "\"\\\"\"",
    "\"",
    "'",
    "`",
    "true",
    "false",
    "null",
    "upperCase(",
    "concat(",
    "substr(",
    "topN(",
    "bottomN(",
    "formatDate(",
    "toDateTime(",
    "formatCurrency(",
    "formatNumber(",
    "replaceAll(",
    "regexGroup(",
    "matches(",
    "like(",
    "split(",
    "join(",
    "mask(",
    "sum(",
    "average(",
    "distinct(",
    "head(",
    "get(",
    "keys(",
    "addDays(",
    "dateDiff(",
    "toPrecision(",
    "toHexString(",
    "charCodeAt(",
    "urlDecode(",
    "decode64(",
    "appendQueryParams(",
    "frob(",
    ".count()",
    ".head()",
    ".upperCase()",
    "\"(\"",
    "\"[\"",
    "\"%\"",
    "\"yyyy\"",
    "\"en_GB\"",
    "\"Asia/Tokyo\"",
    " ",
    "\n",
    "\r\n",
    "\t",
    "<b>",
    "&",
    "é",
    "日本",
    "\u{1F600}",
    "\u{0}",
    "\\",
    "{",
    "}",
    "%",
    "#",
    "^",
    "~",
    "=",
    "==",
];

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
            .map_or(serde_json::Value::Null, serde_json::Value::Number)),
        ".{0,12}".prop_map(serde_json::Value::String),
        Just(json!("2024-11-01T17:19:51Z")),
        Just(json!({"$datetime": "2024-11-01T17:19:51Z"})),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("x".to_string()),
                    Just("y".to_string()),
                    Just("a".to_string()),
                    Just("b".to_string()),
                    Just("n".to_string()),
                    Just("list".to_string()),
                    "[a-z]{1,3}"
                ],
                inner,
                0..5,
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn random_template() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            8 => proptest::sample::select(FRAGMENTS).prop_map(str::to_string),
            1 => ".{0,4}",
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

/// Small well-formed templates (blocks nested inside blocks), so the fuzzer also
/// reaches the renderer's deeper paths and not only the parser's error paths.
fn structured_template() -> impl Strategy<Value = String> {
    let expr = prop_oneof![
        Just("x".to_string()),
        Just("a.b".to_string()),
        Just("list".to_string()),
        Just("this".to_string()),
        Just("@index".to_string()),
        Just("s".to_string()),
        Just("count(list) + 1".to_string()),
        Just("x ?: \"d\"".to_string()),
        Just("topN(list, n, 2)".to_string()),
        Just("upperCase(x)".to_string()),
        Just("s + s".to_string()),
        Just("list.n".to_string()),
    ];
    let leaf = prop_oneof![
        expr.clone().prop_map(|e| format!("{{{{{e}}}}}")),
        expr.clone().prop_map(|e| format!("{{%= {e} %}}")),
        expr.clone().prop_map(|e| format!("{{% let s = {e} %}}")),
        // Text without braces or backslashes, so it cannot open or escape a tag.
        "[^{}\\\\]{0,3}",
    ];
    leaf.prop_recursive(5, 40, 4, move |inner| {
        let body = proptest::collection::vec(inner, 0..4).prop_map(|v| v.concat());
        (expr.clone(), body.clone(), body, 0..5u8).prop_map(|(e, b1, b2, kind)| match kind {
            0 => format!("{{{{#each {e} as |x|}}}}{b1}{{{{else}}}}{b2}{{{{/each}}}}"),
            1 => format!("{{{{#each {e}}}}}{b1}{{{{/each}}}}"),
            2 => format!("{{%#if {e}%}}{b1}{{%else%}}{b2}{{%/if%}}"),
            3 => format!("{{{{#with {e}}}}}{b1}{{{{/with}}}}"),
            _ => format!("{{{{#{e}}}}}{b1}{{{{/{e}}}}}"),
        })
    })
}

fn check_never_panics(src: &str, data: &serde_json::Value) -> Result<(), TestCaseError> {
    let start = std::time::Instant::now();
    match Template::compile(src) {
        Ok(t) => {
            for mode in [OutputMode::Html, OutputMode::Text, OutputMode::Header] {
                let _ = t.render(data, mode);
            }
            let _ = t.variables();
        }
        Err(errors) => {
            prop_assert!(!errors.is_empty());
            for e in errors {
                prop_assert!(e.line >= 1 && e.column >= 1);
                prop_assert!(!e.message.is_empty());
            }
        }
    }
    // Debug build on a shared CPU: generous, but a hang would blow far past it.
    prop_assert!(
        start.elapsed() < std::time::Duration::from_secs(5),
        "slow: {src:?}"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn fuzz_random_templates_and_data(src in random_template(), data in json_value()) {
        let data = json!({"x": data.clone(), "a": {"b": data.clone()}, "list": [data.clone(), {"n": 1}, {"n": 2}], "s": "ab", "v": data});
        check_never_panics(&src, &data)?;
    }

    /// Random templates with random partials and fragments (which may include
    /// themselves and each other): depth and fragment limits keep every render finite.
    #[test]
    fn fuzz_partials_and_fragments(
        src in random_template(),
        partial in random_template(),
        fragment in random_template(),
        data in json_value(),
    ) {
        let partials: std::collections::HashMap<String, String> =
            [("p".to_string(), partial)].into_iter().collect();
        let fragments: std::collections::HashMap<String, String> =
            [("ajo:f/1".to_string(), fragment)].into_iter().collect();
        let data = json!({"x": data.clone(), "list": [data, {"n": 1}], "s": "ab"});
        let start = std::time::Instant::now();
        if let Ok(t) = Template::compile_with_fragments(&src, &partials, &fragments) {
            for mode in [OutputMode::Html, OutputMode::Header] {
                let _ = t.render(&data, mode);
            }
            let _ = t.variables();
        }
        prop_assert!(start.elapsed() < std::time::Duration::from_secs(5), "slow: {src:?}");
    }

    #[test]
    fn fuzz_structured_templates_and_data(src in structured_template(), data in json_value()) {
        let data = json!({"x": data.clone(), "a": {"b": data.clone()}, "list": [data, {"n": 1}, {"n": 2}], "s": "ab"});
        // Well-formed by construction: it must compile, so rendering is really exercised.
        prop_assert!(Template::compile(&src).is_ok(), "{src:?}: {:?}", Template::compile(&src).err());
        check_never_panics(&src, &data)?;
    }
}
