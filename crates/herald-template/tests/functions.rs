//! One test per built-in function (spec §5): the documented example plus edge cases.
//! Renders in text mode with a fixed clock: "now" = 2025-01-07T00:00:00Z.

use chrono::{TimeZone, Utc};
use herald_template::{OutputMode, RenderOptions, Template};
use serde_json::{Value, json};

fn options() -> RenderOptions {
    RenderOptions {
        now: Utc.with_ymd_and_hms(2025, 1, 7, 0, 0, 0).single(),
        ..RenderOptions::default()
    }
}

/// Renders `{%= expr %}` against `data`.
fn ev_with(expr: &str, data: Value) -> String {
    let src = format!("{{%= {expr} %}}");
    let t = Template::compile(&src).unwrap_or_else(|e| panic!("{src}: {e:?}"));
    t.render_with_options(&data, OutputMode::Text, &options())
        .unwrap_or_else(|e| panic!("{src}: {e}"))
}

fn ev(expr: &str) -> String {
    ev_with(expr, json!({}))
}

/// The expression does not compile; returns the first message.
fn compile_error(expr: &str) -> String {
    let src = format!("{{%= {expr} %}}");
    match Template::compile(&src) {
        Ok(_) => panic!("{src} should not compile"),
        Err(e) => e[0].message.clone(),
    }
}

/// `toDateTime("…")`, to keep the date tests short.
fn dt(s: &str) -> String {
    format!("toDateTime(\"{s}\")")
}

const D: &str = "2024-11-01T17:19:51Z";

// ---- strings ----------------------------------------------------------------------------

#[test]
fn camel_case() {
    assert_eq!(
        ev(r#"camelCase("washington high street")"#),
        "Washington High Street"
    );
    assert_eq!(ev(r#"camelCase("élan vital eBay")"#), "Élan Vital EBay");
    assert_eq!(ev_with("camelCase(profile.missing)", json!({})), "");
    assert!(compile_error("camelCase()").contains("takes 1"));
}

#[test]
fn char_code_at() {
    assert_eq!(ev(r#"charCodeAt("some", 1)"#), "111");
    assert_eq!(ev(r#"charCodeAt("é", 0)"#), "233");
    assert_eq!(ev(r#"charCodeAt("some", 10)"#), "");
    assert!(compile_error(r#"charCodeAt("some")"#).contains("takes 2"));
}

#[test]
fn equals_any_ignore_case() {
    assert_eq!(
        ev(r#"equalsAnyIgnoreCase("Icon", "icon", "ambassador")"#),
        "true"
    );
    assert_eq!(ev(r#"equalsAnyIgnoreCase("Icon", "x", "y")"#), "false");
    assert_eq!(ev(r#"equalsAnyIgnoreCase(null, "x")"#), "false");
    assert_eq!(ev(r#"equalsAnyIgnoreCase("ÉTÉ", "été")"#), "true");
    assert!(compile_error(r#"equalsAnyIgnoreCase("a")"#).contains("2 to 11"));
}

#[test]
fn not_equal_with_ignore_case() {
    assert_eq!(ev(r#"notEqualWithIgnoreCase("john", "JOHN")"#), "false");
    assert_eq!(ev(r#"notEqualWithIgnoreCase("john", "jon")"#), "true");
    assert!(compile_error(r#"notEqualWithIgnoreCase("a")"#).contains("takes 2"));
}

#[test]
fn encode64_decode64() {
    assert_eq!(ev(r#"decode64("aGVsbG8=")"#), "hello");
    assert_eq!(ev(r#"encode64("hello")"#), "aGVsbG8=");
    assert_eq!(ev(r#"decode64(encode64("héllo ✓"))"#), "héllo ✓");
    // Invalid Base64 comes back unchanged.
    assert_eq!(ev(r#"decode64("not base64!")"#), "not base64!");
    assert_eq!(ev("encode64(null)"), "");
}

#[test]
fn extract_email_domain() {
    assert_eq!(ev(r#"extractEmailDomain("a@xyz.com")"#), "xyz.com");
    assert_eq!(ev(r#"extractEmailDomain("no-at-sign")"#), "");
    assert_eq!(ev(r#"extractEmailDomain("ü@bücher.de")"#), "bücher.de");
}

#[test]
fn url_parts() {
    assert_eq!(
        ev(r#"getUrlHost("https://www.myurl.com/contact")"#),
        "www.myurl.com"
    );
    assert_eq!(
        ev(r#"getUrlPath("https://www.myurl.com/contact.html")"#),
        "/contact.html"
    );
    assert_eq!(ev(r#"getUrlProtocol("https://www.myurl.com/")"#), "https");
    assert_eq!(ev(r#"getUrlProtocol("http://www.myurl.com/")"#), "http");
    assert_eq!(
        ev(r#"getUrlFragment("https://www.myurl.com/contact.html#faq")"#),
        "faq"
    );
    assert_eq!(ev(r#"getUrlFragment("https://www.myurl.com/")"#), "");
    assert_eq!(ev(r#"getUrlHost("not a url")"#), "");
    assert_eq!(ev("getUrlHost(null)"), "");
}

#[test]
fn append_query_params() {
    assert_eq!(
        ev(r#"appendQueryParams("https://example.com/page", "utm_source", "email")"#),
        "https://example.com/page?utm_source=email"
    );
    assert_eq!(
        ev(r#"appendQueryParams("https://e.com/p?a=1&utm_source=x#top", "utm_source", "e mail")"#),
        "https://e.com/p?a=1&utm_source=e%20mail#top"
    );
    assert_eq!(
        ev(r#"appendQueryParams("https://e.com/p?a=1", "b", "é")"#),
        "https://e.com/p?a=1&b=%C3%A9"
    );
    assert!(compile_error(r#"appendQueryParams("u", "k")"#).contains("takes 3"));
}

#[test]
fn like() {
    assert_eq!(ev(r#"like("Los Angeles", "%es%")"#), "true");
    assert_eq!(ev(r#"like("Los Angeles", "L_s%")"#), "true");
    assert_eq!(ev(r#"like("Los Angeles", "es%")"#), "false");
    assert_eq!(ev(r#"like("a.b", "a_b")"#), "true");
    assert_eq!(ev(r#"like("axb", "a.b")"#), "false");
    assert_eq!(ev(r#"like("Zürich", "Z_rich")"#), "true");
    assert_eq!(ev(r#"like(null, "%")"#), "false");
}

#[test]
fn matches() {
    assert_eq!(ev(r#"matches("John Doe", "(?i)^john")"#), "true");
    assert_eq!(ev(r#"matches("John Doe", "^john")"#), "false");
    assert_eq!(ev(r#"matches("a1", "\\d")"#), "true");
    assert_eq!(ev(r#"matches(null, ".*")"#), "false");
    // An invalid regex is a render error naming the function.
    let t = Template::compile(r#"{%= matches("a", "(") %}"#).expect("compiles");
    let e = t
        .render(&json!({}), OutputMode::Text)
        .expect_err("bad regex");
    assert!(e.to_string().contains("matches"), "{e}");
}

#[test]
fn regex_group() {
    assert_eq!(ev(r#"regexGroup("abc@xyz.com", "@(\\w+)", 1)"#), "xyz");
    assert_eq!(ev(r#"regexGroup("abc@xyz.com", "@(\\w+)", 0)"#), "@xyz");
    assert_eq!(ev(r#"regexGroup("abc", "@(\\w+)", 1)"#), "");
    assert_eq!(ev(r#"regexGroup("abc@xyz.com", "@(\\w+)", 5)"#), "");
}

#[test]
fn replace_all() {
    assert_eq!(
        ev(r#"replaceAll("Hello World", "World", "AJO")"#),
        "Hello AJO"
    );
    assert_eq!(ev(r#"replaceAll("aaa", "aa", "b")"#), "ba");
    assert_eq!(
        ev(r#"replaceAll("2024-11-01", "(\\d+)-(\\d+)-(\\d+)", "$3/$2/$1")"#),
        "01/11/2024"
    );
    assert_eq!(ev(r#"replaceAll("a.b", "\\.", "\\$")"#), "a$b");
    assert_eq!(ev(r#"replaceAll(null, "a", "b")"#), "");
}

#[test]
fn replace() {
    assert_eq!(
        ev(r#"replace("Hello John, John", "John", "Mark")"#),
        "Hello Mark, Mark"
    );
    assert_eq!(ev(r#"replace("a.b", ".", "-")"#), "a-b");
}

#[test]
fn mask() {
    assert_eq!(ev(r#"mask("123456789", 1, 2)"#), "1XXXXXX89");
    assert_eq!(ev(r#"mask("12", 1, 2)"#), "12");
    assert_eq!(ev(r#"mask("ÄÖÜß", 0, 1)"#), "XXXß");
    assert!(compile_error(r#"mask("1", 1)"#).contains("takes 3"));
}

#[test]
fn md5_and_sha256() {
    assert_eq!(
        ev(r#"md5("hello world")"#),
        "5eb63bbbe01eeed093cb22bb8f5acdc3"
    );
    assert_eq!(
        ev(r#"sha256("Eliechxh")"#),
        "0b0b207880b999adaad6231026abf87caa30760b6f326b21727b61139332257d"
    );
    assert_eq!(ev(r#"md5("")"#), "d41d8cd98f00b204e9800998ecf8427e");
    assert_eq!(ev("sha256(null)"), "");
}

#[test]
fn string_to_date() {
    assert_eq!(
        ev(r#"stringToDate("2023-01-10 23:13:26", "yyyy-MM-dd HH:mm:ss")"#),
        "2023-01-10T23:13:26Z"
    );
    assert_eq!(
        ev(r#"stringToDate("2024-11-01T17:19:51Z")"#),
        "2024-11-01T17:19:51Z"
    );
    assert_eq!(
        ev(r#"stringToDate("10/01/2023", "dd/MM/yyyy")"#),
        "2023-01-10T00:00Z"
    );
    assert_eq!(ev(r#"stringToDate("garbage")"#), "");
}

#[test]
fn to_date_time() {
    assert_eq!(ev(r#"toDateTime("2024-11-01T17:19:51Z")"#), D);
    assert_eq!(ev(r#"toDateTime("not a date")"#), "1970-01-01T00:00Z");
    assert_eq!(ev("toDateTime(null)"), "1970-01-01T00:00Z");
    assert_eq!(ev("toDateTime(1730481591000)"), D);
    assert_eq!(
        ev(r#"toDateTime("01.11.2024 17:19", "dd.MM.yyyy HH:mm")"#),
        "2024-11-01T17:19Z"
    );
}

#[test]
fn to_date_time_only() {
    assert_eq!(
        ev(r#"toDateTimeOnly("2024-11-01T17:19:51Z")"#),
        "2024-11-01T17:19:51"
    );
    assert_eq!(
        ev(r#"toDateTimeOnly(toDateTime("2019-02-19T11:39+03:30[Asia/Tehran]"))"#),
        "2019-02-19T11:39"
    );
    assert_eq!(ev("toDateTimeOnly(0)"), "1970-01-01T00:00");
    assert_eq!(ev(r#"toDateTimeOnly("bad")"#), "1970-01-01T00:00");
}

#[test]
fn amp_substr_and_compare_to() {
    assert_eq!(ev(r#"ampSubstr("Hello World", 0, 5)"#), "Hello");
    assert_eq!(ev(r#"ampSubstr("Hello World", 6, 50)"#), "World");
    assert_eq!(ev(r#"compareTo("apple", "banana")"#), "-1");
    assert_eq!(ev(r#"compareTo("b", "a")"#), "1");
    assert_eq!(ev(r#"compareTo("ab", "ab")"#), "0");
    assert_eq!(ev(r#"compareTo("abc", "a")"#), "2");
}

#[test]
fn substr_end_exclusive() {
    assert_eq!(ev(r#"substr("Hello", 0, 2)"#), "He");
    assert_eq!(ev(r#"substr("日本語テキスト", 1, 3)"#), "本語");
}

#[test]
fn url_encode_rfc3986() {
    assert_eq!(ev(r#"urlEncode("a b&c")"#), "a%20b%26c");
}

// ---- math -------------------------------------------------------------------------------

#[test]
fn format_number() {
    assert_eq!(ev(r#"formatNumber(123456.789, "ar_EG")"#), "١٢٣٬٤٥٦٫٧٨٩");
    assert_eq!(ev(r#"formatNumber(123456.789, "en_US")"#), "123,456.789");
    assert_eq!(ev(r#"formatNumber(123456.789, "en_GB")"#), "123,456.789");
    assert_eq!(ev(r#"formatNumber(123456.789, "de_DE")"#), "123.456,789");
    assert_eq!(
        ev(r#"formatNumber(123456.789, "fr_FR")"#),
        "123\u{202f}456,789"
    );
    assert_eq!(ev(r#"formatNumber(-1234.56789, "en_US")"#), "-1,234.568");
    assert_eq!(ev(r#"formatNumber(1000000, "de_DE")"#), "1.000.000");
    assert_eq!(ev(r#"formatNumber("x", "en_US")"#), "");
}

#[test]
fn random() {
    let t = Template::compile("{%= random() %}").expect("compiles");
    for _ in 0..50 {
        let out = t.render(&json!({}), OutputMode::Text).expect("renders");
        let f: f64 = out.parse().expect("a number");
        assert!((0.0..1.0).contains(&f), "{f}");
    }
    assert!(compile_error("random(1)").contains("takes 0"));
}

#[test]
fn round_down_up() {
    assert_eq!(ev("roundDown(4.7)"), "4.0");
    assert_eq!(ev("roundUp(4.2)"), "5.0");
    assert_eq!(ev("roundDown(-4.2)"), "-5.0");
    assert_eq!(ev("roundUp(3)"), "3.0");
    assert_eq!(ev(r#"roundUp("x")"#), "");
}

#[test]
fn to_hex_string() {
    assert_eq!(ev("toHexString(158)"), "9e");
    assert_eq!(ev("toHexString(0)"), "0");
    assert_eq!(ev("toHexString(-1)"), "ffffffffffffffff");
    assert_eq!(ev("toHexString(null)"), "");
}

#[test]
fn to_percentage() {
    assert_eq!(ev("toPercentage(0.25)"), "25%");
    assert_eq!(ev("toPercentage(0.125)"), "12.5%");
    assert_eq!(ev("toPercentage(1)"), "100%");
    assert_eq!(ev(r#"toPercentage("x")"#), "");
}

#[test]
fn to_precision() {
    assert_eq!(ev("toPrecision(3.14159, 2)"), "3.14");
    assert_eq!(ev("toPrecision(2.5, 0)"), "3");
    assert_eq!(ev("toPrecision(2, 3)"), "2.000");
    assert!(compile_error("toPrecision(2)").contains("takes 2"));
}

// ---- aggregation and arrays -------------------------------------------------------------

#[test]
fn count_nulls() {
    assert_eq!(ev("countOnlyNull([4,0,1,6,0,0])"), "0");
    assert_eq!(ev("countOnlyNull([4,null,1,null])"), "2");
    assert_eq!(ev("countWithNull([4,0,1,6,0,0])"), "6");
    assert_eq!(ev("countWithNull([4,null])"), "2");
    assert_eq!(ev("count([4,null])"), "1");
    assert_eq!(ev("distinctCountWithNull([10,2,10,null])"), "3");
    assert_eq!(ev("distinctCountWithNull([null,null])"), "1");
    assert_eq!(ev("countWithNull(profile.missing)"), "0");
}

fn orders() -> Value {
    json!({"profile": {"orders": [
        {"id": "a", "price": 10},
        {"id": "b", "price": 30.5},
        {"id": "c", "price": 20},
        {"id": "d"},
        {"id": "e", "price": 5}
    ]}})
}

#[test]
fn top_n() {
    assert_eq!(
        ev_with("topN(profile.orders, price, 3).id", orders()),
        "b,c,a"
    );
    assert_eq!(
        ev_with("profile.orders.topN(price, 1).head().id", orders()),
        "b"
    );
    // Shorter than n: the whole array, sorted; items without the field last.
    assert_eq!(
        ev_with("topN(profile.orders, price, 10).id", orders()),
        "b,c,a,e,d"
    );
    let t = Template::compile(
        "{{#each topN(profile.orders, price, 2) as |o|}}{{o.id}}={{o.price}};{{/each}}",
    )
    .expect("compiles");
    assert_eq!(
        t.render(&orders(), OutputMode::Text).expect("renders"),
        "b=30.5;c=20;"
    );
    assert_eq!(ev_with("topN(profile.none, price, 3)", orders()), "");
    assert!(compile_error("topN(profile.orders, price)").contains("takes 3"));
}

#[test]
fn bottom_n() {
    assert_eq!(
        ev_with("bottomN(profile.orders, price, 2).id", orders()),
        "e,a"
    );
    // The field may be a computed expression on each item.
    assert_eq!(
        ev_with("bottomN(profile.orders, 0 - price, 1).id", orders()),
        "b"
    );
}

#[test]
fn top_n_variables() {
    let t = Template::compile("{%= topN(profile.orders, price, 3).id %}").expect("compiles");
    let vars: Vec<String> = t.variables().into_iter().collect();
    assert!(vars.contains(&"profile.orders".to_string()), "{vars:?}");
    assert!(
        vars.contains(&"profile.orders.price".to_string()),
        "{vars:?}"
    );
    assert!(!vars.contains(&"price".to_string()), "{vars:?}");
}

#[test]
fn set_functions() {
    assert_eq!(ev(r#"intersects(["red"], ["red","green"])"#), "true");
    assert_eq!(ev(r#"intersects(["blue"], ["red","green"])"#), "false");
    assert_eq!(ev("intersects([], [1])"), "false");
    assert_eq!(ev("subsetOf([1], [1,2])"), "true");
    assert_eq!(ev("subsetOf([1,3], [1,2])"), "false");
    assert_eq!(ev("subsetOf([], [1,2])"), "true");
    assert_eq!(ev("supersetOf([1,2], [1])"), "true");
    assert_eq!(ev("supersetOf([1], [1,2])"), "false");
    assert_eq!(ev("subsetOf(null, [1])"), "false");
}

#[test]
fn maps() {
    let data = json!({"profile": {"identityMap": {"example@example.com": "id-1", "b": 2}}});
    assert_eq!(
        ev_with(
            r#"get(profile.identityMap, "example@example.com")"#,
            data.clone()
        ),
        "id-1"
    );
    assert_eq!(
        ev_with("keys(profile.identityMap)", data.clone()),
        "example@example.com,b"
    );
    assert_eq!(ev_with("values(profile.identityMap)", data), "id-1,2");
    assert_eq!(ev("keys(null)"), "");
}

// ---- dates ------------------------------------------------------------------------------

#[test]
fn now_functions() {
    assert_eq!(ev("getCurrentZonedDateTime()"), "2025-01-07T00:00Z");
    assert_eq!(ev("currentTimeInMillis()"), "1736208000000");
    // Without an injected clock, the real one is used.
    let t = Template::compile("{%= currentTimeInMillis() %}").expect("compiles");
    let ms: i64 = t
        .render(&json!({}), OutputMode::Text)
        .expect("renders")
        .parse()
        .expect("millis");
    assert!(ms > 1_736_208_000_000);
}

#[test]
fn add_functions() {
    assert_eq!(
        ev(&format!("addDays({}, 10)", dt(D))),
        "2024-11-11T17:19:51Z"
    );
    assert_eq!(
        ev(&format!("addHours({}, 1)", dt(D))),
        "2024-11-01T18:19:51Z"
    );
    assert_eq!(
        ev(&format!("addMinutes({}, 10)", dt("2024-11-01T17:59:51Z"))),
        "2024-11-01T18:09:51Z"
    );
    assert_eq!(
        ev(&format!("addMonths({}, 2)", dt(D))),
        "2025-01-01T17:19:51Z"
    );
    assert_eq!(
        ev(&format!("addSeconds({}, 10)", dt(D))),
        "2024-11-01T17:20:01Z"
    );
    assert_eq!(
        ev(&format!("addYears({}, 2)", dt(D))),
        "2026-11-01T17:19:51Z"
    );
    // Negative amounts, month-end clamping, and zoned values keep their zone.
    assert_eq!(
        ev(&format!("addDays({}, -1)", dt(D))),
        "2024-10-31T17:19:51Z"
    );
    assert_eq!(
        ev(&format!("addMonths({}, 1)", dt("2024-01-31T10:00:00Z"))),
        "2024-02-29T10:00Z"
    );
    assert_eq!(
        ev(&format!(
            "addDays({}, 1)",
            dt("2024-03-30T12:00+01:00[Europe/Paris]")
        )),
        "2024-03-31T12:00+02:00[Europe/Paris]"
    );
    // Strings are not dates.
    assert_eq!(ev(&format!("addDays(\"{D}\", 1)")), "");
    assert!(compile_error("addDays(null)").contains("takes 2"));
}

#[test]
fn ages() {
    assert_eq!(
        ev(&format!("ageInDays({})", dt("2025-01-01T17:19:51Z"))),
        "5"
    );
    assert_eq!(
        ev(&format!("ageInMonths({})", dt("2024-11-01T00:00:00Z"))),
        "2"
    );
    assert_eq!(ev(&format!("age({})", dt("1990-01-07T00:00:00Z"))), "35");
    assert_eq!(ev(&format!("age({})", dt("1990-01-08T00:00:00Z"))), "34");
    assert_eq!(
        ev(&format!("ageInDays({})", dt("2025-01-10T00:00:00Z"))),
        "-3"
    );
    assert_eq!(ev("age(null)"), "");
}

#[test]
fn compare_dates() {
    assert_eq!(
        ev(&format!(
            "compareDates({}, {})",
            dt("2024-12-02"),
            dt("2024-12-03")
        )),
        "-1"
    );
    assert_eq!(
        ev(&format!(
            "compareDates({}, {})",
            dt("2024-12-03"),
            dt("2024-12-02")
        )),
        "1"
    );
    assert_eq!(
        ev(&format!(
            "compareDates({}, {})",
            dt("2024-12-03T01:00+01:00"),
            dt("2024-12-03T00:00Z")
        )),
        "0"
    );
}

#[test]
fn convert_zoned_date_time() {
    assert_eq!(
        ev(&format!(
            "convertZonedDateTime({}, \"Asia/Tehran\")",
            dt("2019-02-19T08:09:00Z")
        )),
        "2019-02-19T11:39+03:30[Asia/Tehran]"
    );
    assert_eq!(
        ev(&format!("convertZonedDateTime({}, \"+05:30\")", dt(D))),
        "2024-11-01T22:49:51+05:30"
    );
    assert_eq!(
        ev(&format!(
            "convertZonedDateTime({}, \"Mars/Olympus\")",
            dt(D)
        )),
        ""
    );
}

#[test]
fn date_diff() {
    // Decision 7: whole days from a to b, positive when b is later.
    assert_eq!(
        ev(&format!(
            "dateDiff({}, {})",
            dt("2025-01-07"),
            dt("2025-01-17")
        )),
        "10"
    );
    assert_eq!(
        ev(&format!(
            "dateDiff({}, {})",
            dt("2025-01-17"),
            dt("2025-01-07")
        )),
        "-10"
    );
    assert_eq!(
        ev(&format!(
            "dateDiff({}, {})",
            dt("2025-01-07T12:00:00Z"),
            dt("2025-01-08T11:59:59Z")
        )),
        "0"
    );
    assert_eq!(ev(&format!("dateDiff({}, null)", dt(D))), "");
}

#[test]
fn date_between() {
    let f = |d: &str| {
        ev(&format!(
            "dateBetween({}, {}, {})",
            dt(d),
            dt("2024-06-01"),
            dt("2024-06-30")
        ))
    };
    assert_eq!(f("2024-06-15"), "true");
    assert_eq!(f("2024-06-01"), "true");
    assert_eq!(f("2024-06-30"), "true");
    assert_eq!(f("2024-07-01"), "false");
}

#[test]
fn day_functions() {
    assert_eq!(
        ev(&format!("dayOfMonth({})", dt("2024-11-05T10:00:00Z"))),
        "5"
    );
    assert_eq!(ev(&format!("dayOfWeek({})", dt("2024-11-04"))), "1");
    assert_eq!(ev(&format!("dayOfWeek({})", dt("2024-11-10"))), "7");
    assert_eq!(ev(&format!("dayOfYear({})", dt("2024-03-15"))), "75");
    assert_eq!(ev(&format!("dayOfYear({})", dt("2023-03-15"))), "74");
    // Fields are read in the value's own zone.
    assert_eq!(
        ev(&format!("dayOfMonth({})", dt("2024-11-05T23:30:00-05:00"))),
        "5"
    );
    assert_eq!(ev("dayOfWeek(\"2024-11-04\")"), "");
}

#[test]
fn diff_functions() {
    assert_eq!(
        ev(&format!(
            "diffInSeconds({}, {})",
            dt(D),
            dt("2024-11-01T17:19:01Z")
        )),
        "50"
    );
    assert_eq!(
        ev(&format!(
            "diffInMinutes({}, {})",
            dt(D),
            dt("2024-11-01T16:19:51Z")
        )),
        "60"
    );
    assert_eq!(
        ev(&format!(
            "diffInHours({}, {})",
            dt(D),
            dt("2024-11-01T07:19:51Z")
        )),
        "10"
    );
    assert_eq!(
        ev(&format!(
            "diffInMonths({}, {})",
            dt("2024-11-01"),
            dt("2024-08-01")
        )),
        "3"
    );
    assert_eq!(
        ev(&format!(
            "diffInYears({}, {})",
            dt("2024-11-01"),
            dt("2019-10-01")
        )),
        "5"
    );
    assert_eq!(
        ev(&format!(
            "diffInYears({}, {})",
            dt("2024-09-01"),
            dt("2019-10-01")
        )),
        "4"
    );
    assert_eq!(
        ev(&format!(
            "diffInDays({}, {})",
            dt("2024-11-01"),
            dt("2024-10-01")
        )),
        "31"
    );
    assert_eq!(
        ev(&format!(
            "diffInHours({}, {})",
            dt("2024-11-01T07:00Z"),
            dt(D)
        )),
        "-10"
    );
}

#[test]
fn extract_functions() {
    assert_eq!(ev(&format!("extractHours({})", dt(D))), "17");
    assert_eq!(ev(&format!("extractMinutes({})", dt(D))), "19");
    assert_eq!(ev(&format!("extractSeconds({})", dt(D))), "51");
    assert_eq!(ev(&format!("extractMonth({})", dt(D))), "11");
    assert_eq!(ev(&format!("extractMonths({})", dt(D))), "11");
    assert_eq!(
        ev(&format!(
            "extractHours(convertZonedDateTime({}, \"Asia/Tokyo\"))",
            dt(D)
        )),
        "2"
    );
    assert_eq!(ev("extractHours(42)"), "");
}

#[test]
fn format_date() {
    let d = dt("2020-01-01T09:05:03Z");
    assert_eq!(
        ev(&format!("formatDate({d}, \"EEEE MMMM dd yyyy\")")),
        "Wednesday January 01 2020"
    );
    assert_eq!(
        ev(&format!("formatDate({d}, \"EEEE d MMMM yyyy\", \"fr_FR\")")),
        "mercredi 1 janvier 2020"
    );
    assert_eq!(
        ev(&format!(
            "formatDate({d}, \"EEEE, d. MMMM yyyy\", \"de_DE\")"
        )),
        "Mittwoch, 1. Januar 2020"
    );
    assert_eq!(
        ev(&format!(
            "formatDate({d}, \"EEEE d 'de' MMMM 'de' yyyy\", \"es_ES\")"
        )),
        "miércoles 1 de enero de 2020"
    );
    assert_eq!(
        ev(&format!("formatDate({d}, \"dd/MM/yy HH:mm:ss\")")),
        "01/01/20 09:05:03"
    );
    assert_eq!(ev(&format!("formatDate({d}, \"h:mm a\")")), "9:05 AM");
    assert_eq!(
        ev(&format!(
            "formatDate(convertZonedDateTime({d}, \"Asia/Kolkata\"), \"yyyy-MM-dd HH:mm XXX VV\")"
        )),
        "2020-01-01 14:35 +05:30 Asia/Kolkata"
    );
    // `Y` is the week-based year: 2024-12-30 belongs to 2025's first week.
    assert_eq!(
        ev(&format!("formatDate({}, \"Y y\")", dt("2024-12-30"))),
        "2025 2024"
    );
    // An invalid pattern falls back to ISO; strings are not dates.
    assert_eq!(
        ev(&format!("formatDate({d}, \"yyyy {{x}}\")")),
        "2020-01-01T09:05:03Z"
    );
    assert_eq!(ev("formatDate(\"2020-01-01\", \"yyyy\")"), "");
    assert!(compile_error("formatDate(null)").contains("2 to 3"));
}

#[test]
fn set_functions_on_dates() {
    assert_eq!(
        ev(&format!("setDays({}, 1)", dt("2024-11-15T17:19:51Z"))),
        "2024-11-01T17:19:51Z"
    );
    assert_eq!(
        ev(&format!("setHours({}, 0)", dt(D))),
        "2024-11-01T00:19:51Z"
    );
    assert_eq!(ev(&format!("setDays({}, 31)", dt(D))), "");
    assert_eq!(ev(&format!("setHours({}, 24)", dt(D))), "");
}

#[test]
fn to_utc() {
    assert_eq!(
        ev(&format!(
            "toUTC({})",
            dt("2019-02-19T11:39+03:30[Asia/Tehran]")
        )),
        "2019-02-19T08:09Z"
    );
    assert_eq!(ev("toUTC(null)"), "");
}

#[test]
fn truncate_functions() {
    assert_eq!(
        ev(&format!("truncateToStartOfDay({})", dt(D))),
        "2024-11-01T00:00Z"
    );
    assert_eq!(
        ev(&format!(
            "truncateToStartOfWeek({})",
            dt("2024-11-19T17:19:51Z")
        )),
        "2024-11-18T00:00Z"
    );
    assert_eq!(
        ev(&format!(
            "truncateToStartOfWeek({})",
            dt("2024-11-18T00:00:00Z")
        )),
        "2024-11-18T00:00Z"
    );
    assert_eq!(
        ev(&format!("truncateToStartOfQuarter({})", dt(D))),
        "2024-10-01T00:00Z"
    );
    assert_eq!(
        ev(&format!("truncateToStartOfYear({})", dt(D))),
        "2024-01-01T00:00Z"
    );
    assert_eq!(
        ev(&format!(
            "truncateToStartOfDay({})",
            dt("2024-11-01T17:19:51+09:00[Asia/Tokyo]")
        )),
        "2024-11-01T00:00+09:00[Asia/Tokyo]"
    );
}

#[test]
fn week_of_year() {
    assert_eq!(ev(&format!("weekOfYear({})", dt("2024-11-01"))), "44");
    assert_eq!(ev(&format!("weekOfYear({})", dt("2024-12-30"))), "1");
    assert_eq!(ev(&format!("weekOfYear({})", dt("2021-01-03"))), "53");
}

#[test]
fn date_printing() {
    // Decision 9: Java ZonedDateTime.toString().
    assert_eq!(ev(&dt("2024-11-01T00:00:00Z")), "2024-11-01T00:00Z");
    assert_eq!(
        ev(&dt("2024-11-01T00:00:00.500Z")),
        "2024-11-01T00:00:00.500Z"
    );
    assert_eq!(
        ev(&dt("2024-12-06T17:22:02.281067+05:30[Asia/Kolkata]")),
        "2024-12-06T17:22:02.281067+05:30[Asia/Kolkata]"
    );
    // Dates compare with operators and escape nothing odd in HTML.
    assert_eq!(
        ev(&format!("{} < {}", dt("2024-01-01"), dt("2024-01-02"))),
        "true"
    );
    let t = Template::compile(&format!("{{{{x}}}}{{% let x = {} %}}{{{{x}}}}", dt(D)))
        .expect("compiles");
    assert_eq!(t.render(&json!({}), OutputMode::Html).expect("renders"), D);
}
