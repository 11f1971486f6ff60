//! `missingValues: "fail"` (Decision 3): reading a missing or null value in an output is
//! an error naming the path; fallbacks, null tests and conditions never fail.

use herald_template::{MissingValues, OutputMode, RenderError, RenderOptions, Template};
use serde_json::{Value, json};

fn render(src: &str, data: &Value, missing: MissingValues) -> Result<String, RenderError> {
    let t = Template::compile(src).unwrap_or_else(|e| panic!("{src}: {e:?}"));
    let options = RenderOptions {
        missing_values: missing,
        ..RenderOptions::default()
    };
    t.render_with_options(data, OutputMode::Html, &options)
}

fn fail(src: &str, data: &Value) -> Result<String, RenderError> {
    render(src, data, MissingValues::Fail)
}

fn missing(path: &str) -> Result<String, RenderError> {
    Err(RenderError::MissingValue { path: path.into() })
}

fn data() -> Value {
    json!({"profile": {"name": "Ann", "nick": null, "empty": "", "orders": [{"id": 1}]}})
}

#[test]
fn default_renders_empty() {
    let d = data();
    assert_eq!(
        render("[{{profile.x}}]", &d, MissingValues::Empty),
        Ok("[]".into())
    );
    assert_eq!(
        render("[{{profile.x}}]", &d, MissingValues::default()),
        Ok("[]".into())
    );
}

#[test]
fn output_tags_fail_with_the_path() {
    let d = data();
    assert_eq!(fail("Hi {{profile.name}}", &d), Ok("Hi Ann".into()));
    assert_eq!(fail("Hi {{profile.first}}", &d), missing("profile.first"));
    assert_eq!(fail("Hi {{{profile.nick}}}", &d), missing("profile.nick"));
    assert_eq!(fail("Hi {%= profile.nick %}", &d), missing("profile.nick"));
    assert_eq!(
        fail("{{#each profile.orders}}{{sku}}{{/each}}", &d),
        missing("sku")
    );
    // The empty string is a value.
    assert_eq!(fail("[{{profile.empty}}]", &d), Ok("[]".into()));
    let e = fail("{{profile.first}}", &d).expect_err("fails");
    assert_eq!(e.to_string(), "missing value: `profile.first`");
}

#[test]
fn function_arguments_that_need_a_value_fail() {
    let d = data();
    assert_eq!(
        fail("{%= upperCase(profile.first) %}", &d),
        missing("profile.first")
    );
    assert_eq!(
        fail("{%= profile.count + 1 %}", &d),
        missing("profile.count")
    );
    assert_eq!(
        fail("{%= \"Hi \" + profile.first %}", &d),
        missing("profile.first")
    );
    assert_eq!(
        fail("{%= head(profile.orders).sku %}", &d),
        missing("(…).sku")
    );
    // Lenient fallbacks (epoch for a bad date) do not hide a missing value.
    assert_eq!(
        fail(
            "{%= formatDate(toDateTime(profile.signup), \"yyyy\") %}",
            &d
        ),
        missing("profile.signup")
    );
}

#[test]
fn fallbacks_null_tests_and_conditions_do_not_fail() {
    let d = data();
    assert_eq!(
        fail("Hi {%= profile.first ?: \"there\" %}", &d),
        Ok("Hi there".into())
    );
    assert_eq!(
        fail("{%= profile.nick ?: profile.name %}", &d),
        Ok("Ann".into())
    );
    assert_eq!(
        fail(
            "{%= isNull(profile.first) %} {%= isNotNull(profile.nick) %}",
            &d
        ),
        Ok("true false".into())
    );
    assert_eq!(
        fail("{{#if profile.first}}a{{else}}b{{/if}}", &d),
        Ok("b".into())
    );
    assert_eq!(
        fail("{%#if profile.first = \"x\"%}a{%else%}b{%/if%}", &d),
        Ok("b".into())
    );
    assert_eq!(
        fail("{%#unless isNull(profile.nick)%}a{%/unless%}", &d),
        Ok("".into())
    );
    assert_eq!(
        fail("{%= countOnlyNull([1, profile.first]) %}", &d),
        Ok("1".into())
    );
    assert_eq!(
        fail("{% let x = profile.first %}{%= isEmpty(x) %}", &d),
        Ok("true".into())
    );
    // The fallback itself still needs a value.
    assert_eq!(
        fail("{%= profile.first ?: profile.second %}", &d),
        missing("profile.second")
    );
}
