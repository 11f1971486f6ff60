//! Expression fragments (spec §4, Decisions 1 and 11).

use herald_template::{OutputMode, RenderError, Template};
use serde_json::{Value, json};
use std::collections::HashMap;

fn fragments(list: &[(&str, &str)]) -> HashMap<String, String> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn render(src: &str, frags: &[(&str, &str)], data: &Value) -> Result<String, RenderError> {
    let t = Template::compile_with_fragments(src, &HashMap::new(), &fragments(frags))
        .unwrap_or_else(|e| panic!("{src:?}: {e:?}"));
    t.render(data, OutputMode::Html)
}

const ID: &str = "ajo:3d3f1a7c-0000/variant-1";

#[test]
fn inline_fragment_renders_in_place() {
    let src = format!("<p>{{{{fragment id='{ID}' mode='inline'}}}}</p>");
    let out = render(
        &src,
        &[(ID, "Hi {{profile.name}}")],
        &json!({"profile": {"name": "A & B"}}),
    );
    assert_eq!(out.as_deref(), Ok("<p>Hi A &amp; B</p>"));
}

#[test]
fn fragments_share_global_variables_both_ways() {
    let src =
        format!("{{% let greeting = \"Hello\" %}}{{{{fragment id=\"{ID}\"}}}} / {{{{total}}}}");
    let out = render(
        &src,
        &[(ID, "{{greeting}}{% let total = 42 %}")],
        &json!({}),
    );
    assert_eq!(out.as_deref(), Ok("Hello / 42"));
}

#[test]
fn render_false_computes_variables_only() {
    let src = format!("[{{{{fragment id='{ID}' render=false}}}}]{{{{x}}}}");
    let out = render(&src, &[(ID, "visible?{% let x = \"set\" %}")], &json!({}));
    assert_eq!(out.as_deref(), Ok("[]set"));
}

#[test]
fn field_overrides_become_variables() {
    let src = format!("{{{{fragment id='{ID}' mode='inline' cta=\"Buy now\"}}}}");
    let out = render(&src, &[(ID, "<a>{{cta ?: \"Default\"}}</a>")], &json!({}));
    assert_eq!(out.as_deref(), Ok("<a>Buy now</a>"));
    let src = format!("{{{{fragment id='{ID}'}}}}");
    let out = render(
        &src,
        &[(ID, "<a>{%= cta ?: \"Default\" %}</a>")],
        &json!({}),
    );
    assert_eq!(out.as_deref(), Ok("<a>Default</a>"));
}

#[test]
fn loop_variables_are_not_passed_to_a_fragment() {
    let src = format!("{{{{#each l as |item|}}}}{{{{fragment id='{ID}'}}}};{{{{/each}}}}");
    let out = render(&src, &[(ID, "[{{item}}]")], &json!({"l": [1, 2]}));
    assert_eq!(out.as_deref(), Ok("[];[];"));
}

#[test]
fn unknown_fragment_is_a_render_error() {
    let out = render("{{fragment id='ajo:nope/x'}}", &[], &json!({}));
    assert_eq!(
        out,
        Err(RenderError::UnknownFragment {
            id: "ajo:nope/x".into()
        })
    );
    // Without any fragments (plain compile) too.
    let t = Template::compile("{{fragment id='ajo:nope/x'}}").expect("compiles");
    assert!(matches!(
        t.render(&json!({}), OutputMode::Text),
        Err(RenderError::UnknownFragment { .. })
    ));
}

#[test]
fn at_most_thirty_fragments_per_message() {
    let ok = format!("{{{{fragment id='{ID}'}}}}").repeat(30);
    assert_eq!(
        render(&ok, &[(ID, "x")], &json!({})).map(|s| s.len()),
        Ok(30)
    );
    let too_many = format!("{{{{fragment id='{ID}'}}}}").repeat(31);
    assert_eq!(
        render(&too_many, &[(ID, "x")], &json!({})),
        Err(RenderError::TooManyFragments { limit: 30 })
    );
    // A loop cannot get around it.
    let src = format!("{{{{#each l}}}}{{{{fragment id='{ID}'}}}}{{{{/each}}}}");
    let l: Vec<u32> = (0..100).collect();
    assert!(matches!(
        render(&src, &[(ID, "x")], &json!({"l": l})),
        Err(RenderError::TooManyFragments { .. })
    ));
}

#[test]
fn one_level_of_nesting() {
    let frags = [
        ("ajo:a/1", "a({{fragment id='ajo:b/1'}})"),
        ("ajo:b/1", "b"),
        ("ajo:c/1", "c({{fragment id='ajo:a/1'}})"),
        ("ajo:self/1", "{{fragment id='ajo:self/1'}}"),
    ];
    assert_eq!(
        render("{{fragment id='ajo:a/1'}}", &frags, &json!({})).as_deref(),
        Ok("a(b)")
    );
    assert_eq!(
        render("{{fragment id='ajo:c/1'}}", &frags, &json!({})),
        Err(RenderError::FragmentTooDeep { limit: 1 })
    );
    assert_eq!(
        render("{{fragment id='ajo:self/1'}}", &frags, &json!({})),
        Err(RenderError::FragmentTooDeep { limit: 1 })
    );
}

#[test]
fn fragment_compile_errors_name_the_fragment() {
    let errors = Template::compile_with_fragments(
        "{{fragment id='ajo:a/1'}}",
        &HashMap::new(),
        &fragments(&[("ajo:a/1", "ok\n{{#if x}}")]),
    )
    .expect_err("the fragment is broken");
    assert_eq!(errors.len(), 1);
    assert_eq!((errors[0].line, errors[0].column), (2, 1));
    assert!(
        errors[0].message.starts_with("in fragment `ajo:a/1`: "),
        "{}",
        errors[0].message
    );
}

#[test]
fn variables_include_fragment_reads() {
    let t = Template::compile_with_fragments(
        "{{fragment id='ajo:a/1'}}{{context.a}}",
        &HashMap::new(),
        &fragments(&[("ajo:a/1", "{{profile.person.name.firstName}}")]),
    )
    .expect("compiles");
    let vars: Vec<String> = t.variables().into_iter().collect();
    assert!(
        vars.contains(&"profile.person.name.firstName".to_string()),
        "{vars:?}"
    );
    assert!(vars.contains(&"context.a".to_string()), "{vars:?}");
}

#[test]
fn render_errors_inside_fragments_and_partials_point_into_their_source() {
    let frag = "line one\n  {%= matches(\"a\", \"(\") %}";
    let out = render(
        "x\ny\nz{{fragment id='ajo:a/1'}}",
        &[("ajo:a/1", frag)],
        &json!({}),
    );
    match out {
        Err(RenderError::Eval {
            line,
            column,
            message,
        }) => {
            assert_eq!((line, column), (2, 7), "{message}");
            assert!(
                message.starts_with("in fragment `ajo:a/1`: matches"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    let partials = fragments(&[("p", "\n\n {%= 1 / 0 %}")]);
    let t = Template::compile_with_partials("{{> p}}", &partials).expect("compiles");
    match t.render(&json!({}), OutputMode::Text) {
        Err(RenderError::Eval {
            line,
            column,
            message,
        }) => {
            assert_eq!((line, column), (3, 8), "{message}");
            assert!(message.starts_with("in partial `p`: "), "{message}");
        }
        other => panic!("{other:?}"),
    }
}
