//! Compile errors: positions, messages, and several at once.

use herald_template::{Template, TemplateError};

fn errors(src: &str) -> Vec<TemplateError> {
    match Template::compile(src) {
        Ok(_) => panic!("expected errors for {src:?}"),
        Err(e) => e,
    }
}

#[test]
fn unclosed_block_names_block_and_position() {
    let e = errors("Hello\n\n  {{#each context.items}}\n{{name}}\n");
    assert_eq!(e.len(), 1);
    assert_eq!((e[0].line, e[0].column), (3, 3));
    assert!(e[0].message.contains("`{{#each}}`"), "{}", e[0].message);
    assert!(e[0].message.contains("line 3, column 3"));
    assert!(e[0].message.contains("`{{/each}}`"));
}

#[test]
fn mismatched_close() {
    let e = errors("{{#if context.a}}\n  {{#each context.l}}x\n{{/if}}");
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!((e[0].line, e[0].column), (3, 1));
    assert!(
        e[0].message
            .contains("`{{#each}}` opened at line 2, column 3"),
        "{}",
        e[0].message
    );
    let e = errors("a {{/each}}");
    assert_eq!((e[0].line, e[0].column), (1, 3));
    assert!(e[0].message.contains("no block is open"));
}

#[test]
fn liquid_if_suggests_pql_form() {
    let e = errors("x\n  {% if profile.a %}y{% endif %}");
    assert_eq!(e.len(), 2);
    assert_eq!((e[0].line, e[0].column), (2, 3));
    assert!(
        e[0].message.contains("{%#if condition%}"),
        "{}",
        e[0].message
    );
    assert!(e[1].message.contains("{%/if%}"));
}

#[test]
fn unknown_function() {
    let e = errors(
        "Dear {%= upperCase(profile.a) %},\n{%= frobnicate(profile.b) %} {%= uppercase(x) %}",
    );
    assert_eq!(e.len(), 2);
    assert_eq!((e[0].line, e[0].column), (2, 5));
    assert!(e[0].message.contains("unknown function `frobnicate`"));
    assert_eq!((e[1].line, e[1].column), (2, 34));
    assert!(
        e[1].message.contains("did you mean `upperCase`"),
        "{}",
        e[1].message
    );
}

#[test]
fn many_errors_at_once() {
    let src = "{{#if}}\n{%= 1 + %}\n{{#each a}}{%= nope() %}\n{%= contains(\"a\") %}\n{{/with}}";
    let e = errors(src);
    let lines: Vec<u32> = e.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![1, 2, 3, 4, 5, 3], "{e:#?}");
    assert!(
        e[3].message.contains("takes 2 to 3 argument(s), got 1"),
        "{}",
        e[3].message
    );
}

#[test]
fn unterminated_tag() {
    let e = errors("ok {{ context.a }} then {{ context.b");
    assert_eq!((e[0].line, e[0].column), (1, 25));
    assert!(e[0].message.contains("`}}`"));
}

#[test]
fn url_fields_allow_only_plain_values() {
    let ok = Template::compile_url_field(
        "https://example.com/o/{{context.order.id}}?u={%= profile.id ?: \"anon\" %}",
    )
    .expect("plain values are fine");
    let out = ok
        .render(
            &serde_json::json!({"context": {"order": {"id": "A1"}}}),
            herald_template::OutputMode::Text,
        )
        .expect("renders");
    assert_eq!(out, "https://example.com/o/A1?u=anon");
    let cases = [
        ("https://x/{%= upperCase(profile.a) %}", "helper functions"),
        ("https://x/{{#if profile.a}}a{{/if}}", "blocks"),
        ("https://x/{{#each profile.l}}{{this}}{{/each}}", "blocks"),
        ("https://x/{% let a = 1 %}", "`let`"),
        (
            "https://x/{%= profile.segmentMembership.ups.a1.status %}",
            "audience membership",
        ),
        ("https://x/{{fragment id='ajo:a/1'}}", "fragments"),
    ];
    for (src, want) in cases {
        let e = Template::compile_url_field(src).expect_err(src);
        assert_eq!((e[0].line, e[0].column), (1, 11), "{src}: {e:?}");
        assert!(e[0].message.contains(want), "{src}: {}", e[0].message);
    }
    // Syntax errors are still reported, with the restrictions, in source order.
    let e = Template::compile_url_field("{%= upperCase(a) %}{{#if}}").expect_err("both");
    assert_eq!(e.len(), 2, "{e:?}");
}
