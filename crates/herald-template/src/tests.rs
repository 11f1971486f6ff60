//! Unit tests of the whole pipeline on small inputs.

use super::*;
use serde_json::json;

fn r(src: &str, data: Value) -> String {
    match Template::compile(src) {
        Ok(t) => t
            .render(&data, OutputMode::Html)
            .unwrap_or_else(|e| format!("<render error: {e}>")),
        Err(e) => format!("<compile error: {e:?}>"),
    }
}

fn errs(src: &str) -> Vec<TemplateError> {
    Template::compile(src).err().unwrap_or_default()
}

#[test]
fn interpolation_and_escaping() {
    let d = json!({"context": {"name": "Mark & Mary", "n": 3, "f": 1.5, "b": true}});
    assert_eq!(r("Hi {{context.name}}!", d.clone()), "Hi Mark &amp; Mary!");
    assert_eq!(
        r("{{{context.name}}} {{& context.name}}", d.clone()),
        "Mark & Mary Mark & Mary"
    );
    assert_eq!(
        r(
            "{{context.n}} {{context.f}} {{context.b}} [{{context.missing}}]",
            d.clone()
        ),
        "3 1.5 true []"
    );
    assert_eq!(r("{%= context.name %}", d), "Mark &amp; Mary");
}

#[test]
fn backtick_segments() {
    let d = json!({"profile": {"commerce": {"order-total": 12}}, "context": {"e": {"1697": {"ts": "x"}}}});
    assert_eq!(
        r(
            "{{profile.commerce.`order-total`}} {%= context.e.`1697`.ts %}",
            d
        ),
        "12 x"
    );
}

#[test]
fn if_else_chain() {
    let t = "{{#if context.total > 100}}big{{else if context.total > 10}}mid{{else}}small{{/if}}";
    assert_eq!(r(t, json!({"context": {"total": 150}})), "big");
    assert_eq!(r(t, json!({"context": {"total": 50}})), "mid");
    assert_eq!(r(t, json!({"context": {}})), "small");
    assert_eq!(
        r("{{#unless context.x}}no{{else}}yes{{/unless}}", json!({})),
        "no"
    );
}

#[test]
fn pql_blocks_and_let() {
    let t = "{%#if contains(context.email, \".edu\")%}A{%else if contains(context.email, \".org\")%}B{%else%}C{%/if%}";
    assert_eq!(r(t, json!({"context": {"email": "a@b.org"}})), "B");
    let t =
        "{% let sum = 0 %}{{#each context.items}}{% let sum = sum + price %}{{/each}}{%= sum %}";
    assert_eq!(
        r(
            t,
            json!({"context": {"items": [{"price": 2}, {"price": 3.5}]}})
        ),
        "5.5"
    );
    assert_eq!(
        r(
            "{%#unless endsWith(context.e, \".edu\")%}n{%else%}e{%/unless%}",
            json!({"context": {"e": "x.edu"}})
        ),
        "e"
    );
}

#[test]
fn each_variants() {
    let d =
        json!({"context": {"items": [{"name": "a"}, {"name": "b"}, {"name": "c"}], "cur": "$"}});
    assert_eq!(
        r(
            "{{#each context.items}}{{@index}}:{{name}}{{context.cur}}{{#if @first}}F{{/if}}{{#if @last}}L{{/if}} {{/each}}",
            d.clone()
        ),
        "0:a$F 1:b$ 2:c$L "
    );
    assert_eq!(
        r(
            "{{#each context.items as |it i|}}{{i}}{{it.name}}{{/each}}",
            d.clone()
        ),
        "0a1b2c"
    );
    assert_eq!(
        r("{{#each context.none}}x{{else}}empty{{/each}}", d.clone()),
        "empty"
    );
    assert_eq!(r("{{#each context.items}}{{this.name}}{{/each}}", d), "abc");
}

#[test]
fn with_and_sections() {
    let d = json!({"profile": {"person": {"name": {"firstName": "Ann"}}}, "list": [1, 2]});
    assert_eq!(
        r(
            "{{#with profile.person.name}}{{firstName}}{{this.firstName}}{{/with}}",
            d.clone()
        ),
        "AnnAnn"
    );
    assert_eq!(
        r(
            "{{#with profile.person.name as |n|}}{{n.firstName}}{{/with}}",
            d.clone()
        ),
        "Ann"
    );
    assert_eq!(r("{{#list}}{{.}}{{/list}}{{^nope}}!{{/nope}}", d), "12!");
}

#[test]
fn expressions() {
    let d = json!({"context": {"a": 7, "s": "x", "arr": [3, 1, 2], "empty": ""}});
    assert_eq!(r("{%= 1 + 2 * 3 %}", d.clone()), "7");
    assert_eq!(r("{%= (1 + 2) * 3 %}", d.clone()), "9");
    assert_eq!(
        r("{%= context.a % 5 = 2 and not false %}", d.clone()),
        "true"
    );
    assert_eq!(r("{%= -context.a + 56L %}", d.clone()), "49");
    assert_eq!(
        r(
            "{%= context.empty ?: 'there' %} {%= context.none ?: \"x\" %}",
            d.clone()
        ),
        "there x"
    );
    assert_eq!(r("{%= \"a\" + context.s + 1 %}", d.clone()), "ax1");
    assert_eq!(
        r(
            "{%= context.arr.count() %} {%= sum(context.arr) %} {%= max(context.arr) %}",
            d.clone()
        ),
        "3 6 3"
    );
    assert_eq!(
        r(
            "{%= context.s.upperCase() %}{%= upperCase(\"b\") %}",
            d.clone()
        ),
        "XB"
    );
    assert_eq!(
        r(
            "{%= 2 in [1, 2] %} {%= 4.5 / 1.5 %} {%= 7 / 2 %}",
            d.clone()
        ),
        "true 3.0 3.5"
    );
    assert_eq!(
        r("{%= head([5, 6]) %} {%= join(['a','b'], '-') %}", d.clone()),
        "5 a-b"
    );
    assert_eq!(
        r("{%= formatCurrency(56L, \"en_GB\") %}", d.clone()),
        "£56.00"
    );
    assert_eq!(r("{%= urlEncode(\"a b&c\") %}", d), "a%20b%26c");
}

#[test]
fn projection() {
    let d = json!({"orders": [{"price": 2}, {"price": 4}]});
    assert_eq!(
        r("{%= average(orders.price) %} {{orders.length}}", d),
        "3.0 2"
    );
}

#[test]
fn whitespace_control() {
    assert_eq!(
        r("a  {{~context.x~}}  b", json!({"context": {"x": 1}})),
        "a1b"
    );
    assert_eq!(
        r(
            "<ul>\n  {{#each l}}\n  <li>{{.}}</li>\n  {{/each}}\n</ul>",
            json!({"l": [1, 2]})
        ),
        "<ul>\n  <li>1</li>\n  <li>2</li>\n</ul>"
    );
    assert_eq!(r("x\n{{! comment }}\ny", json!({})), "x\ny");
    assert_eq!(r("x {{!-- a }} b --}} y", json!({})), "x  y");
}

#[test]
fn modes() {
    let t = Template::compile("{{context.v}}|{{{context.v}}}").ok();
    let d = json!({"context": {"v": "<a>\r\nb"}});
    let Some(t) = t else { panic!("compile") };
    assert_eq!(
        t.render(&d, OutputMode::Text).ok().as_deref(),
        Some("<a>\r\nb|<a>\r\nb")
    );
    assert_eq!(
        t.render(&d, OutputMode::Header).ok().as_deref(),
        Some("<a>  b|<a>  b")
    );
}

#[test]
fn errors_have_positions() {
    let e = errs("{% if x %}a{% endif %}");
    assert_eq!(e.len(), 2);
    assert_eq!((e[0].line, e[0].column), (1, 1));
    assert!(e[0].message.contains("{%#if"), "{}", e[0].message);
    let e = errs("line\n  {{#each context.items}}\n");
    assert_eq!((e[0].line, e[0].column), (2, 3));
    assert!(e[0].message.contains("{{/each}}"));
    let e = errs("{%= frob(1) %}");
    assert_eq!((e[0].line, e[0].column), (1, 5));
    let e = errs("{%= a == b %}");
    assert!(e[0].message.contains("single `=`"));
    let e = errs("{{#if a}}{{/each}}");
    assert_eq!(e.len(), 2, "{e:?}");
}

#[test]
fn send_sync_clone() {
    fn assert_traits<T: Send + Sync + Clone>() {}
    assert_traits::<Template>();
}
