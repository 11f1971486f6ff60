//! The dialect against personalization.md: helpers and blocks (§4), literals and paths
//! (§2), operators and precedence (Decision 5), `?:` (Decision 4), `let` (Decision 6),
//! Liquid tags (Decision 8), date printing (Decision 9), error positions (Decision 10),
//! and templates written the way the reference's documentation writes them.

use chrono::{TimeZone, Utc};
use herald_template::{OutputMode, RenderOptions, Template};
use serde_json::{Value, json};

fn render_mode(src: &str, data: &Value, mode: OutputMode) -> String {
    let t = Template::compile(src).unwrap_or_else(|e| panic!("{src:?} does not compile: {e:?}"));
    let options = RenderOptions {
        now: Utc.with_ymd_and_hms(2025, 1, 7, 0, 0, 0).single(),
        ..RenderOptions::default()
    };
    t.render_with_options(data, mode, &options)
        .unwrap_or_else(|e| panic!("{src:?} does not render: {e}"))
}

fn text(src: &str, data: &Value) -> String {
    render_mode(src, data, OutputMode::Text)
}

fn html(src: &str, data: &Value) -> String {
    render_mode(src, data, OutputMode::Html)
}

fn profile(first_name: Value) -> Value {
    json!({"profile": {"person": {"name": {"firstName": first_name}}}})
}

fn orders() -> Value {
    json!({"profile": {"orders": [
        {"id": "A1", "order": {"price": 12.5}, "category": "household", "items": [{"sku": "x"}, {"sku": "y"}]},
        {"id": "B2", "order": {"price": 40}, "category": "garden", "items": []},
        {"id": "C3", "order": {"price": 7}, "category": "household", "items": [{"sku": "z"}]}
    ]}})
}

// ---- documentation patterns -------------------------------------------------------------

#[test]
fn fallback_first_name() {
    let src = r#"Hello {%= profile.person.name.firstName ?: "there" %}!"#;
    assert_eq!(text(src, &profile(json!("Ann"))), "Hello Ann!");
    assert_eq!(text(src, &profile(json!(""))), "Hello there!");
    assert_eq!(text(src, &profile(Value::Null)), "Hello there!");
    assert_eq!(text(src, &json!({})), "Hello there!");
    // The older single-quoted form and the no-space form.
    assert_eq!(
        text("Hi {%=profile.person.name.firstName?:'there'%}", &json!({})),
        "Hi there"
    );
}

#[test]
fn fallback_keeps_zero_and_false() {
    // Decision 4: only missing, null and "" fall back.
    let d = json!({"context": {"zero": 0, "no": false, "sp": " "}});
    assert_eq!(
        text(
            "{%= context.zero ?: 1 %}|{%= context.no ?: 1 %}|{%= context.sp ?: 1 %}",
            &d
        ),
        "0|false| "
    );
    // Right-associative chain.
    assert_eq!(text("{%= context.a ?: context.b ?: 'c' %}", &d), "c");
}

#[test]
fn let_running_total_over_each_is_visible_after_the_loop() {
    let src = "{% let total = 0 %}{{#each profile.orders as |o|}}{% let total = total + o.order.price %}{{/each}}Total: {%= total %}";
    assert_eq!(text(src, &orders()), "Total: 59.5");
    // Without an initial value the first addition starts from null = nothing: the
    // variable is still global, set inside the loop and read after it.
    let src = "{{#each profile.orders as |o|}}{% let last = o.id %}{{/each}}{{last}}";
    assert_eq!(text(src, &orders()), "C3");
    // A `let` inside a branch is visible after it, and can be reassigned.
    let src = "{%#if true%}{% let x = 1 %}{%/if%}{% let x = x + 1 %}{{x}}";
    assert_eq!(text(src, &json!({})), "2");
}

#[test]
fn conditions_on_loop_items_with_block_params() {
    let src = r#"{{#each profile.orders as |o|}}{%#if o.order.price > 10%}{{o.id}} {%else%}cheap {%/if%}{{/each}}"#;
    assert_eq!(text(src, &orders()), "A1 B2 cheap ");
    // The Handlebars form takes a PQL comparison too.
    let src = r#"{{#each profile.orders as |product|}}{{#if product.category = "household"}}{{product.id}};{{/if}}{{/each}}"#;
    assert_eq!(text(src, &orders()), "A1;C3;");
    let src = "{{#each profile.orders as |o|}}{{#if @index < 2}}{{o.id}}{{/if}}{{/each}}";
    assert_eq!(text(src, &orders()), "A1B2");
}

#[test]
fn nested_each() {
    let src = "{{#each profile.orders as |o|}}{{o.id}}[{{#each o.items as |it|}}{{#if @first}}first:{{/if}}{{it.sku}}{{#unless @last}},{{/unless}}{{else}}none{{/each}}] {{/each}}";
    assert_eq!(text(src, &orders()), "A1[first:x,y] B2[none] C3[first:z] ");
    // Without block params: `this`, `../`, and @index of the inner loop.
    let src = "{{#each profile.orders}}{{#each items}}{{../id}}.{{@index}}={{this.sku}} {{/each}}{{/each}}";
    assert_eq!(text(src, &orders()), "A1.0=x A1.1=y C3.0=z ");
}

#[test]
fn top_n_in_each() {
    let src = "{{#each topN(profile.orders, order.price, 2) as |o|}}{{@index}}:{{o.id}}={{o.order.price}} {{/each}}";
    assert_eq!(text(src, &orders()), "0:B2=40 1:A1=12.5 ");
    let src = "{{#each bottomN(profile.orders, order.price, 1)}}{{id}}{{/each}}";
    assert_eq!(text(src, &orders()), "C3");
}

#[test]
fn date_formatting_with_a_locale() {
    let d = json!({"context": {"ts": "2024-11-01T17:19:51Z"}});
    assert_eq!(
        text(
            r#"{%= formatDate(toDateTime(context.ts), "EEEE d MMMM yyyy", "fr_FR") %}"#,
            &d
        ),
        "vendredi 1 novembre 2024"
    );
    assert_eq!(
        text(
            r#"{%= formatDate(toDateTime(context.ts), "dd/MM/yyyy HH:mm", "fr_FR") %}"#,
            &d
        ),
        "01/11/2024 17:19"
    );
}

#[test]
fn currency_formatting() {
    assert_eq!(
        text(r#"{%= formatCurrency(56L, "en_GB") %}"#, &json!({})),
        "£56.00"
    );
    let d = json!({"context": {"total": 1234.5}});
    assert_eq!(
        text(r#"{%= formatCurrency(context.total, "en_GB") %}"#, &d),
        "£1,234.50"
    );
}

// ---- helpers and blocks -----------------------------------------------------------------

#[test]
fn each_with_data_variables_and_else() {
    let d = json!({"l": ["a", "b", "c"], "e": []});
    assert_eq!(
        text(
            "{{#each l as |x|}}{{@index}}{{x}}{{#if @first}}F{{/if}}{{#if @last}}L{{/if}} {{/each}}",
            &d
        ),
        "0aF 1b 2cL "
    );
    assert_eq!(text("{{#each e}}x{{else}}empty{{/each}}", &d), "empty");
    assert_eq!(
        text("{{#each missing}}x{{else}}empty{{/each}}", &d),
        "empty"
    );
}

#[test]
fn with_blocks() {
    let d = profile(json!("Ann"));
    assert_eq!(
        text(
            "{{#with profile.person.name}}{{this.firstName}}{{/with}}",
            &d
        ),
        "Ann"
    );
    assert_eq!(
        text(
            "{{#with profile.person.name as |name|}}{{name.firstName}}{{/with}}",
            &d
        ),
        "Ann"
    );
    assert_eq!(
        text("{{#with profile.nope}}x{{else}}none{{/with}}", &d),
        "none"
    );
}

#[test]
fn if_else_if_else_and_unless() {
    let src = r#"{%#if contains(profile.personalEmail.address, ".edu")%}A{%else if contains(profile.personalEmail.address, ".org")%}B{%else%}C{%/if%}"#;
    let email = |a: &str| json!({"profile": {"personalEmail": {"address": a}}});
    assert_eq!(text(src, &email("x@u.edu")), "A");
    assert_eq!(text(src, &email("x@u.org")), "B");
    assert_eq!(text(src, &email("x@u.com")), "C");
    assert_eq!(text(src, &json!({})), "C");
    let src = r#"{%#unless endsWith(profile.personalEmail.address, ".edu")%}normal{%else%}edu{%/unless%}"#;
    assert_eq!(text(src, &email("x@u.edu")), "edu");
    assert_eq!(text(src, &email("x@u.com")), "normal");
    let src =
        "{{#if profile.a}}a{{else if profile.b}}b{{else}}c{{/if}}{{#unless profile.a}}!{{/unless}}";
    assert_eq!(text(src, &json!({"profile": {"b": 1}})), "b!");
    // "Has a value" test.
    let src = "{%#if profile.person.name.firstName%}Hi {%= profile.person.name.firstName %}{%else%}Hi{%/if%}";
    assert_eq!(text(src, &profile(json!(""))), "Hi");
    assert_eq!(text(src, &profile(json!("Bo"))), "Hi Bo");
}

// ---- literals, paths, operators ----------------------------------------------------------

#[test]
fn literals() {
    let d = json!({});
    assert_eq!(text(r#"{%= "FR" %}|{%= 'FR' %}"#, &d), "FR|FR");
    assert_eq!(
        text(r#"{%= "it's" %}|{%= 'say "hi"' %}"#, &d),
        "it's|say \"hi\""
    );
    assert_eq!(text(r#"{%= "a\\b" %}"#, &d), "a\\b");
    assert_eq!(
        text("{%= -201 %}|{%= 56L %}|{%= 56L + 1 %}|{%= 42.6 %}", &d),
        "-201|56|57|42.6"
    );
    assert_eq!(
        text("{%= true %}|{%= false %}|{%= null %}|", &d),
        "true|false||"
    );
    assert_eq!(
        text("{%= [1, 4, 7] %}|{%= count([10,2,10,null]) %}", &d),
        "1,4,7|3"
    );
    assert_eq!(
        text(r#"{%= ["US","FR"] %}|{%= countWithNull([null]) %}"#, &d),
        "US,FR|1"
    );
}

#[test]
fn backtick_segments() {
    let d = json!({
        "profile": {"commerce": {"order-total": 99}},
        "context": {"journey": {"events": {"1697323153": {"timestamp": "t"}}}}
    });
    assert_eq!(
        text(
            "{%= profile.commerce.`order-total` %} {{context.journey.events.`1697323153`.timestamp}}",
            &d
        ),
        "99 t"
    );
    // Without backticks, a hyphen is subtraction and a numeric segment is an error.
    assert!(Template::compile("{%= context.journey.events.1697323153.timestamp %}").is_err());
}

#[test]
fn bracket_segments_for_offers() {
    let d = json!({"offers": {"image": {"xcore:offer-placement:123": {
        "xcore:offer-activity:456": {"deliveryUrl": "https://cdn.example.com/a.png"}
    }}}, "profile": {"order-total": 5, "a": [7, 8]}});
    assert_eq!(
        text(
            "{{offers.image.[xcore:offer-placement:123].[xcore:offer-activity:456].deliveryUrl}}",
            &d
        ),
        "https://cdn.example.com/a.png"
    );
    assert_eq!(
        text(
            "{%= offers.image.[xcore:offer-placement:123].[xcore:offer-activity:456].deliveryUrl %}",
            &d
        ),
        "https://cdn.example.com/a.png"
    );
    assert_eq!(
        text("{{profile.[order-total]}}|{{profile.a.[1]}}", &d),
        "5|8"
    );
    // Elsewhere `[` is still an array literal.
    assert_eq!(
        text("{%= count([1, 2]) %}|{%= [1, 2].count() %}", &d),
        "2|2"
    );
    assert!(Template::compile("{{a.[b}}").is_err());
}

#[test]
fn method_calls_and_projection() {
    let d = json!({
        "profile": {"segmentMembership": {"ups": {"aud1": {"status": "existing"}}}},
        "orders": [{"order": {"price": 2}}, {"order": {"price": 4}}, {"order": {}}],
        "tags": ["a", "b", "a"]
    });
    assert_eq!(
        text(
            r#"{%= profile.segmentMembership.get("ups").get("aud1").status = "existing" %}"#,
            &d
        ),
        "true"
    );
    assert_eq!(text("{%= distinct(tags).count() %}", &d), "2");
    assert_eq!(text("{%= tags.distinct().count() %}", &d), "2");
    assert_eq!(
        text(
            "{%= orders.order.price %}|{%= average(orders.order.price) %}",
            &d
        ),
        "2,4|3.0"
    );
    assert_eq!(text(r#"{%= "a b".upperCase().length() %}"#, &d), "3");
}

#[test]
fn precedence_decision_5() {
    let d = json!({"n": 7});
    let cases = [
        ("1 + 2 * 3", "7"),
        ("10 - 4 - 3", "3"),
        ("2 * 3 % 4", "2"),
        ("-2 * 3", "-6"),
        ("- n + 10", "3"),
        ("1 + 2 = 3", "true"),
        ("1 < 2 = true", "true"),
        ("not false and false", "false"),
        ("!false and true", "true"),
        ("true or false and false", "true"),
        ("(true or false) and false", "false"),
        ("n % 5 = 2 and n > 5 or false", "true"),
        ("null ?: 1 + 2", "3"),
        ("missing ?: false or true", "true"),
        ("\"a\" + \"b\" = \"ab\"", "true"),
        ("\"n=\" + n * 2", "n=14"),
        ("1 + 2 + \"x\"", "3x"),
        ("7 / 2", "3.5"),
        ("6 / 3", "2"),
    ];
    for (expr, want) in cases {
        assert_eq!(text(&format!("{{%= {expr} %}}"), &d), want, "{expr}");
    }
}

#[test]
fn html_escaping_is_by_field() {
    let d = json!({"v": "<b>\"Tom\" & 'Jerry'</b>"});
    let src = "{{v}}|{%= v %}|{{{v}}}|{{& v}}";
    assert_eq!(
        html(src, &d),
        "&lt;b&gt;&quot;Tom&quot; &amp; &#x27;Jerry&#x27;&lt;/b&gt;|&lt;b&gt;&quot;Tom&quot; &amp; &#x27;Jerry&#x27;&lt;/b&gt;|<b>\"Tom\" & 'Jerry'</b>|<b>\"Tom\" & 'Jerry'</b>"
    );
    assert_eq!(
        text("{{v}}", &d),
        "<b>\"Tom\" & 'Jerry'</b>",
        "text bodies are raw"
    );
    assert_eq!(
        render_mode("a\r\n{{v}}\n", &json!({"v": "x\ny"}), OutputMode::Header),
        "a  x y "
    );
}

#[test]
fn dates_print_in_iso_8601() {
    let d = json!({});
    let cases = [
        (r#"toDateTime("2024-11-01T00:00:00Z")"#, "2024-11-01T00:00Z"),
        (
            r#"toDateTime("2024-11-01T17:19:51Z")"#,
            "2024-11-01T17:19:51Z",
        ),
        (
            r#"convertZonedDateTime(toDateTime("2019-02-19T08:09:00Z"), "Asia/Tehran")"#,
            "2019-02-19T11:39+03:30[Asia/Tehran]",
        ),
        ("getCurrentZonedDateTime()", "2025-01-07T00:00Z"),
    ];
    for (expr, want) in cases {
        assert_eq!(text(&format!("{{%= {expr} %}}"), &d), want, "{expr}");
    }
    // `=` on date-times compares instants, like `compareDates` and `<`.
    assert_eq!(
        text(
            r#"{%= toDateTime("2024-11-01T17:19:51Z") = toDateTime("2024-11-01T18:19:51+01:00") %}"#,
            &d
        ),
        "true"
    );
}

// ---- errors -----------------------------------------------------------------------------

fn first_error(src: &str) -> herald_template::TemplateError {
    match Template::compile(src) {
        Ok(_) => panic!("{src:?} should not compile"),
        Err(mut e) => e.remove(0),
    }
}

#[test]
fn liquid_tags_are_errors_suggesting_the_pql_form() {
    let e = first_error("Hi\n{% if profile.vip %}VIP{% endif %}");
    assert_eq!((e.line, e.column), (2, 1));
    assert!(e.message.contains("{%#if"), "{}", e.message);
    let e = first_error("{%#if a%}x{% elseif b %}y{%/if%}");
    assert!(e.message.contains("{%else if"), "{}", e.message);
}

#[test]
fn errors_have_line_column_and_what_was_expected() {
    let e = first_error("ok\n  {%= 1 + %}");
    assert_eq!((e.line, e.column), (2, 11));
    assert!(e.message.contains("expected"), "{}", e.message);
    let e = first_error("{{#each profile.orders}}\n{{/with}}");
    assert_eq!(e.line, 2);
    assert!(e.message.contains("{{/each}}"), "{}", e.message);
    let e = first_error("{%= contains(\"a\", \"b\" %}");
    assert!(e.message.contains("`,` or `)`"), "{}", e.message);
    assert_eq!(
        e.to_string(),
        format!("line 1, column {}: {}", e.column, e.message)
    );
}

#[test]
fn block_params_win_over_fields_of_inner_contexts() {
    // `o` is both the outer block parameter and a field of the inner items: the block
    // parameter wins, as in Handlebars.
    let d = json!({"orders": [{"id": 1, "items": [{"o": "field"}]}]});
    assert_eq!(
        text(
            "{{#each orders as |o|}}{{#each o.items}}{{o.id}}{{/each}}{{/each}}",
            &d
        ),
        "1"
    );
    // A `let` variable wins over the data too, in output tags and in expressions.
    let d = json!({"x": "data"});
    assert_eq!(text("{% let x = \"var\" %}{{x}}|{%= x %}", &d), "var|var");
    // Projection and `length` through arrays in a plain output tag.
    let d = json!({"l": [{"p": 1}, {"p": 2}]});
    assert_eq!(
        text("{{l.p}}|{{l.length}}|{{l.`1`.p}}|{{l.`5`.p}}", &d),
        "1,2|2|2|"
    );
}

#[test]
fn string_length_property() {
    // JavaScript's `.length`, which Handlebars templates use, in characters.
    let d = json!({"s": "Zürich"});
    assert_eq!(
        text("{{s.length}}|{%= s.length %}|{%= s.length() %}", &d),
        "6|6|6"
    );
}

#[test]
fn more_compile_errors() {
    let e = first_error("Hi {{xEvent.order.id}}");
    assert_eq!((e.line, e.column), (1, 6));
    assert!(
        e.message.contains("context.journey.events"),
        "{}",
        e.message
    );
    let e = first_error("{{#frob context.a}}x{{/frob}}");
    assert!(
        e.message.contains("unknown block helper `frob`"),
        "{}",
        e.message
    );
}
