//! Bounded work: limits turn into errors, quickly.

use herald_template::{Limits, OutputMode, RenderError, Template};
use serde_json::json;
use std::time::{Duration, Instant};

#[test]
fn nested_loops_hit_iteration_limit() {
    let items: Vec<u32> = (0..1000).collect();
    let data = json!({"context": {"l": items}});
    let t = Template::compile(
        "{{#each context.l}}{{#each context.l}}{{#each context.l}}{{/each}}{{/each}}{{/each}}",
    )
    .expect("compiles");
    let start = Instant::now();
    let err = t
        .render(&data, OutputMode::Html)
        .expect_err("must hit a limit");
    assert!(
        matches!(err, RenderError::TooManyIterations { limit: 100_000 }),
        "{err}"
    );
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(err.to_string().contains("100000"));
}

#[test]
fn output_limit() {
    let items: Vec<u32> = (0..1000).collect();
    let t = Template::compile("{{#each context.l}}0123456789{{/each}}").expect("compiles");
    let limits = Limits {
        max_output_bytes: 5000,
        ..Limits::default()
    };
    let err = t.render_with_limits(&json!({"context": {"l": items}}), OutputMode::Text, &limits);
    assert!(matches!(
        err,
        Err(RenderError::OutputTooLarge { limit: 5000 })
    ));
}

#[test]
fn depth_limit() {
    let src = "{{#with a}}".repeat(10) + &"{{/with}}".repeat(10);
    let t = Template::compile(&src).expect("compiles");
    let mut data = json!({"x": 1});
    for _ in 0..10 {
        data = json!({"a": data});
    }
    let limits = Limits {
        max_depth: 5,
        ..Limits::default()
    };
    assert!(matches!(
        t.render_with_limits(&data, OutputMode::Text, &limits),
        Err(RenderError::TooDeep { limit: 5 })
    ));
    assert!(t.render(&data, OutputMode::Text).is_ok());
}

#[test]
fn recursive_partial_is_bounded() {
    let partials = [("p".to_string(), "x{{> p}}".to_string())]
        .into_iter()
        .collect();
    let t = Template::compile_with_partials("{{> p}}", &partials).expect("compiles");
    assert!(matches!(
        t.render(&json!({}), OutputMode::Text),
        Err(RenderError::TooDeep { .. })
    ));
}

#[test]
fn deeply_nested_source_is_a_compile_error_not_a_crash() {
    let src = "{{#if a}}".repeat(500) + &"{{/if}}".repeat(500);
    assert!(Template::compile(&src).is_err());
    let src = format!("{{%= {}1{} %}}", "(".repeat(5000), ")".repeat(5000));
    assert!(Template::compile(&src).is_err());
    let src = format!("{{%= {}1 %}}", "-".repeat(5000));
    assert!(Template::compile(&src).is_err());
}
