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

#[test]
fn hostile_nested_loops_over_a_large_list_stop_quickly() {
    let big: Vec<u32> = (0..100_000).collect();
    let data = json!({"context": {"big": big}});
    let src = "{{#each context.big as |a|}}{{#each context.big as |b|}}{{#each context.big}}\
               {%= a * b %}{{/each}}{{/each}}{{/each}}";
    let t = Template::compile(src).expect("compiles");
    let start = Instant::now();
    let err = t
        .render(&data, OutputMode::Html)
        .expect_err("must hit a limit");
    let elapsed = start.elapsed();
    assert!(
        matches!(
            err,
            RenderError::TooManyIterations { .. } | RenderError::OutputTooLarge { .. }
        ),
        "{err}"
    );
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    assert!(err.to_string().contains("limit"), "{err}");
}

#[test]
fn doubling_a_variable_in_a_loop_is_bounded() {
    let items: Vec<u32> = (0..200).collect();
    let data = json!({"context": {"l": items}});
    let t = Template::compile(
        "{% let s = \"ab\" %}{{#each context.l}}{% let s = s + s %}{{/each}}{%= length(s) %}",
    )
    .expect("compiles");
    let start = Instant::now();
    let err = t
        .render(&data, OutputMode::Text)
        .expect_err("must hit a limit");
    assert!(matches!(err, RenderError::ValueTooLarge { .. }), "{err}");
    assert!(start.elapsed() < Duration::from_secs(2));
    // Arrays double the same way.
    let t = Template::compile("{% let a = [1] %}{{#each context.l}}{% let a = [a, a] %}{{/each}}")
        .expect("compiles");
    let err = t
        .render(&data, OutputMode::Text)
        .expect_err("must hit a limit");
    assert!(matches!(err, RenderError::ValueTooLarge { .. }), "{err}");
    // One function call cannot square a value either.
    let t = Template::compile(
        "{% let s = \"aaaaaaaaaa\" %}{{#each context.l}}{% let s = replace(s, \"a\", s) %}{{/each}}",
    )
    .expect("compiles");
    let err = t
        .render(&data, OutputMode::Text)
        .expect_err("must hit a limit");
    assert!(matches!(err, RenderError::ValueTooLarge { .. }), "{err}");
}

#[test]
fn repeatedly_copying_a_large_variable_is_bounded() {
    // 512 KiB read 100,000 times would copy ~50 GB: the value-work budget stops it.
    let items: Vec<u32> = (0..300).collect();
    let data = json!({"context": {"l": items, "big": "x".repeat(512 * 1024)}});
    let t = Template::compile(
        "{% let s = context.big %}{{#each context.l}}{{#each context.l}}{% let t = s + \"\" %}{{/each}}{{/each}}",
    )
    .expect("compiles");
    let start = Instant::now();
    let err = t
        .render(&data, OutputMode::Text)
        .expect_err("must hit a limit");
    assert!(
        matches!(
            err,
            RenderError::ValueTooLarge { .. } | RenderError::TooMuchWork { .. }
        ),
        "{err}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn reading_a_large_variable_in_a_loop_is_fine_within_the_budget() {
    // A 200-item list of ~1 KB objects kept in a variable and counted on every item:
    // ~80 MB of copying, which real templates may do and the budget allows.
    let orders: Vec<serde_json::Value> = (0..200)
        .map(|i| json!({"id": i, "note": "x".repeat(1000)}))
        .collect();
    let t = Template::compile(
        "{% let orders = context.orders %}{{#each orders}}{%= count(orders) %}{{/each}}",
    )
    .expect("compiles");
    let out = t
        .render(&json!({"context": {"orders": orders}}), OutputMode::Text)
        .expect("within the budget");
    assert_eq!(out, "200".repeat(200));
}
