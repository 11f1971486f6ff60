//! The spec §5 checklist: every documented function, each with its documented example
//! and at least one edge case (missing argument, null, wrong type, Unicode). Cases are
//! named `function/what`, so a failure says which function broke. Deeper tests of the
//! trickier functions are in `functions.rs`.
//!
//! Rendered as `{%= expr %}` in text mode with "now" = 2025-01-07T00:00:00Z, against
//! `data()`.

use chrono::{TimeZone, Utc};
use herald_template::{OutputMode, RenderOptions, Template};
use serde_json::{Value, json};
use std::collections::BTreeSet;

fn data() -> Value {
    json!({
        "profile": {
            "person": {"name": {"firstName": "Ann"}},
            "identityMap": {"example@example.com": "id-1"},
            "orders": [
                {"order": {"price": 10}},
                {"order": {"price": 30}},
                {"order": {"price": 20}}
            ],
            "empty": "",
            "nothing": null
        }
    })
}

/// A case that must render to `want`.
struct Case(&'static str, &'static str, &'static str);

/// (name, expression, expected output). `D` in an expression is the spec's date
/// `toDateTime("2024-11-01T17:19:51Z")`.
#[rustfmt::skip]
const CASES: &[Case] = &[
    // ---- string -------------------------------------------------------------------------
    Case("camelCase/doc", r#"camelCase("washington high street")"#, "Washington High Street"),
    Case("camelCase/unicode", r#"camelCase("über élan")"#, "Über Élan"),
    Case("camelCase/null", "camelCase(profile.nothing)", ""),
    Case("charCodeAt/doc", r#"charCodeAt("some", 1)"#, "111"),
    Case("charCodeAt/out-of-range", r#"charCodeAt("some", 9)"#, ""),
    Case("concat/doc", r#"concat("Hello", " ", "World")"#, "Hello World"),
    Case("concat/null-and-number", r#"concat("a", null, 1)"#, "a1"),
    Case("contains/doc", r#"contains("John", "j", false)"#, "true"),
    Case("contains/case-sensitive-default", r#"contains("John", "j")"#, "false"),
    Case("contains/null", r#"contains(profile.nothing, "")"#, "false"),
    Case("doesNotContain/doc", r#"doesNotContain("a@gmail.com", "2010@gm")"#, "true"),
    Case("doesNotContain/case-insensitive", r#"doesNotContain("a@GMAIL.com", "gmail", false)"#, "false"),
    Case("startsWith/doc", r#"startsWith("Joe Doe", "Joe")"#, "true"),
    Case("startsWith/null", r#"startsWith(profile.nothing, "")"#, "false"),
    Case("startsWith/unicode-ci", r#"startsWith("Éric", "é", false)"#, "true"),
    Case("doesNotStartWith/doc", r#"doesNotStartWith("Joe Doe", "Joe")"#, "false"),
    Case("doesNotStartWith/other", r#"doesNotStartWith("Joe Doe", "Doe")"#, "true"),
    Case("endsWith/doc", r#"endsWith("a@b.com", ".com")"#, "true"),
    Case("endsWith/null", r#"endsWith(profile.nothing, ".com")"#, "false"),
    Case("doesNotEndWith/doc", r#"doesNotEndWith("a@b.com", ".com")"#, "false"),
    Case("doesNotEndWith/ci", r#"doesNotEndWith("a@b.COM", ".com", false)"#, "false"),
    Case("equals/doc", r#"equals("John", "John")"#, "true"),
    Case("equals/case-sensitive", r#"equals("John", "john")"#, "false"),
    Case("notEqualTo/doc", r#"notEqualTo("John", "John")"#, "false"),
    Case("notEqualTo/null", r#"notEqualTo("John", null)"#, "true"),
    Case("equalsIgnoreCase/doc", r#"equalsIgnoreCase("john", "JOHN")"#, "true"),
    Case("equalsIgnoreCase/unicode", r#"equalsIgnoreCase("straße", "STRASSE")"#, "false"),
    Case("notEqualWithIgnoreCase/doc", r#"notEqualWithIgnoreCase("john", "JOHN")"#, "false"),
    Case("notEqualWithIgnoreCase/diff", r#"notEqualWithIgnoreCase("john", "joan")"#, "true"),
    Case("equalsAnyIgnoreCase/doc", r#"equalsAnyIgnoreCase("Icon", "icon", "ambassador")"#, "true"),
    Case("equalsAnyIgnoreCase/none", r#"equalsAnyIgnoreCase("Icon", "a", "b")"#, "false"),
    Case("encode64/doc", r#"encode64("hello")"#, "aGVsbG8="),
    Case("encode64/unicode", r#"encode64("é")"#, "w6k="),
    Case("decode64/doc", r#"decode64("aGVsbG8=")"#, "hello"),
    Case("decode64/invalid-unchanged", r#"decode64("%%%")"#, "%%%"),
    Case("extractEmailDomain/doc", r#"extractEmailDomain("a@xyz.com")"#, "xyz.com"),
    Case("extractEmailDomain/no-at", r#"extractEmailDomain("xyz.com")"#, ""),
    Case("formatCurrency/doc", r#"formatCurrency(56L, "en_GB")"#, "£56.00"),
    Case("formatCurrency/en_US-grouping", r#"formatCurrency(1234.5, "en_US")"#, "$1,234.50"),
    Case("formatCurrency/wrong-type", r#"formatCurrency("abc", "en_GB")"#, ""),
    Case("getUrlHost/doc", r#"getUrlHost("https://www.myurl.com/contact")"#, "www.myurl.com"),
    Case("getUrlHost/invalid", r#"getUrlHost("nope")"#, ""),
    Case("getUrlPath/doc", r#"getUrlPath("https://www.myurl.com/contact.html")"#, "/contact.html"),
    Case("getUrlPath/null", "getUrlPath(profile.nothing)", ""),
    Case("getUrlProtocol/doc", r#"getUrlProtocol("https://www.myurl.com/")"#, "https"),
    Case("getUrlProtocol/invalid", r#"getUrlProtocol("www.myurl.com")"#, ""),
    Case("getUrlFragment/doc", r#"getUrlFragment("https://www.myurl.com/contact.html#faq")"#, "faq"),
    Case("getUrlFragment/none", r#"getUrlFragment("https://www.myurl.com/")"#, ""),
    Case("appendQueryParams/doc", r#"appendQueryParams("https://example.com/page", "utm_source", "email")"#, "https://example.com/page?utm_source=email"),
    Case("appendQueryParams/fragment-and-replace", r#"appendQueryParams("https://e.com/?utm_source=x#f", "utm_source", "a b")"#, "https://e.com/?utm_source=a%20b#f"),
    Case("indexOf/doc", r#"indexOf("hello world", "world")"#, "6"),
    Case("indexOf/absent", r#"indexOf("hello", "z")"#, "-1"),
    Case("indexOf/unicode-chars", r#"indexOf("héllo", "l")"#, "2"),
    Case("lastIndexOf/doc", r#"lastIndexOf("hello world", "o")"#, "7"),
    Case("lastIndexOf/absent", r#"lastIndexOf("hello", "z")"#, "-1"),
    Case("isEmpty/doc", r#"isEmpty("")"#, "true"),
    Case("isEmpty/missing", "isEmpty(profile.missing)", "true"),
    Case("isEmpty/non-empty", r#"isEmpty(" ")"#, "false"),
    Case("isNotEmpty/doc", r#"isNotEmpty("")"#, "false"),
    Case("isNotEmpty/value", "isNotEmpty(profile.person.name.firstName)", "true"),
    Case("join/doc", r#"join(["red", "green", "blue"], ",")"#, "red,green,blue"),
    Case("join/null", r#"join(profile.nothing, ",")"#, ""),
    Case("leftTrim/doc", r#"concat("[", leftTrim("  a "), "]")"#, "[a ]"),
    Case("leftTrim/null", "leftTrim(null)", ""),
    Case("rightTrim/doc", r#"concat("[", rightTrim("  a "), "]")"#, "[  a]"),
    Case("rightTrim/unicode-space", "concat(\"[\", rightTrim(\"a\u{3000}\"), \"]\")", "[a]"),
    Case("trim/doc", r#"concat("[", trim("  a "), "]")"#, "[a]"),
    Case("trim/null", "trim(profile.nothing)", ""),
    Case("length/doc", r#"length("Paris")"#, "5"),
    Case("length/unicode", r#"length("Zürich")"#, "6"),
    Case("length/null", "length(profile.nothing)", "0"),
    Case("like/doc", r#"like("Los Angeles", "%es%")"#, "true"),
    Case("like/underscore", r#"like("Lös", "L_s")"#, "true"),
    Case("lowerCase/doc", r#"lowerCase("DOE")"#, "doe"),
    Case("lowerCase/unicode", r#"lowerCase("ÉTÉ")"#, "été"),
    Case("upperCase/doc", r#"upperCase("doe")"#, "DOE"),
    Case("upperCase/unicode", r#"upperCase("straße")"#, "STRASSE"),
    Case("titleCase/doc", r#"titleCase("washington high street")"#, "Washington High Street"),
    Case("titleCase/lowers-rest", r#"titleCase("wASHINGTON")"#, "Washington"),
    Case("matches/doc", r#"matches("John Doe", "(?i)^john")"#, "true"),
    Case("matches/null", r#"matches(null, "x")"#, "false"),
    Case("mask/doc", r#"mask("123456789", 1, 2)"#, "1XXXXXX89"),
    Case("mask/short", r#"mask("12", 1, 2)"#, "12"),
    Case("md5/doc", r#"md5("hello world")"#, "5eb63bbbe01eeed093cb22bb8f5acdc3"),
    Case("md5/null", "md5(null)", ""),
    Case("sha256/doc", r#"sha256("Eliechxh")"#, "0b0b207880b999adaad6231026abf87caa30760b6f326b21727b61139332257d"),
    Case("sha256/empty", r#"sha256("")"#, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    Case("regexGroup/doc", r#"regexGroup("abc@xyz.com", "@(\\w+)", 1)"#, "xyz"),
    Case("regexGroup/no-match", r#"regexGroup("abc", "@(\\w+)", 1)"#, ""),
    Case("replace/doc", r#"replace("Hello John, how are you?", "John", "Mark")"#, "Hello Mark, how are you?"),
    Case("replace/every-occurrence", r#"replace("a-b-c", "-", "+")"#, "a+b+c"),
    Case("replace/null", r#"replace(null, "a", "b")"#, ""),
    Case("replaceAll/doc", r#"replaceAll("Hello World", "World", "AJO")"#, "Hello AJO"),
    Case("replaceAll/no-overlap", r#"replaceAll("aaa", "aa", "b")"#, "ba"),
    Case("split/doc", r#"split("a,b", ",")"#, "a,b"),
    Case("split/count", r#"count(split("a,b,,c", ","))"#, "4"),
    Case("split/null", r#"split(null, ",")"#, ""),
    Case("substr/doc", r#"substr("Hello", 0, 2)"#, "He"),
    Case("substr/unicode", r#"substr("日本語", 1, 2)"#, "本"),
    Case("substr/out-of-range", r#"substr("Hello", 3, 99)"#, "lo"),
    Case("stringToDate/doc", r#"stringToDate("2023-01-10 23:13:26", "yyyy-MM-dd HH:mm:ss")"#, "2023-01-10T23:13:26Z"),
    Case("stringToDate/iso", r#"stringToDate("2024-11-01T17:19:51Z")"#, "2024-11-01T17:19:51Z"),
    Case("stringToDate/invalid", r#"stringToDate("garbage")"#, ""),
    Case("string_to_integer/doc", r#"string_to_integer("42")"#, "42"),
    Case("string_to_integer/invalid", r#"string_to_integer("4x")"#, ""),
    Case("stringToNumber/doc", r#"stringToNumber("3.5")"#, "3.5"),
    Case("stringToNumber/invalid-unchanged", r#"stringToNumber("3,5")"#, "3,5"),
    Case("stringToNumber/compare", r#"stringToNumber("600") > 500"#, "true"),
    Case("toBool/doc", r#"toBool("true")"#, "true"),
    Case("toBool/other", r#"toBool("yes")"#, "false"),
    Case("toBool/null", "toBool(null)", "false"),
    Case("toDateTime/doc", r#"toDateTime("2024-11-01T17:19:51Z")"#, "2024-11-01T17:19:51Z"),
    Case("toDateTime/invalid-epoch", r#"toDateTime("x")"#, "1970-01-01T00:00Z"),
    Case("toDateTimeOnly/doc", r#"toDateTimeOnly("2024-11-01T17:19:51Z")"#, "2024-11-01T17:19:51"),
    Case("toDateTimeOnly/invalid-epoch", r#"toDateTimeOnly("x")"#, "1970-01-01T00:00"),
    Case("urlEncode/doc", r#"urlEncode("a b&c")"#, "a%20b%26c"),
    Case("urlEncode/unicode", r#"urlEncode("é/")"#, "%C3%A9%2F"),
    Case("urlDecode/doc", r#"urlDecode("a%20b%26c")"#, "a b&c"),
    Case("urlDecode/invalid-unchanged", r#"urlDecode("100%")"#, "100%"),
    Case("ampSubstr/doc", r#"ampSubstr("Hello World", 0, 5)"#, "Hello"),
    Case("ampSubstr/past-end", r#"ampSubstr("Hi", 1, 5)"#, "i"),
    Case("compareTo/doc", r#"compareTo("apple", "banana") < 0"#, "true"),
    Case("compareTo/equal", r#"compareTo("a", "a")"#, "0"),
    // ---- math ---------------------------------------------------------------------------
    Case("absolute/doc", "absolute(-5)", "5"),
    Case("absolute/double", "absolute(-2.5)", "2.5"),
    Case("absolute/wrong-type", r#"absolute("x")"#, ""),
    Case("formatNumber/doc", r#"formatNumber(123456.789, "ar_EG")"#, "١٢٣٬٤٥٦٫٧٨٩"),
    Case("formatNumber/en_US", r#"formatNumber(1234567, "en_US")"#, "1,234,567"),
    Case("formatNumber/wrong-type", r#"formatNumber("x", "en_US")"#, ""),
    Case("random/range", "random() >= 0 and random() < 1", "true"),
    Case("roundDown/doc", "roundDown(4.7)", "4.0"),
    Case("roundDown/negative", "roundDown(-4.2)", "-5.0"),
    Case("roundUp/doc", "roundUp(4.2)", "5.0"),
    Case("roundUp/null", "roundUp(null)", ""),
    Case("toHexString/doc", "toHexString(158)", "9e"),
    Case("toHexString/wrong-type", r#"toHexString("x")"#, ""),
    Case("toInt/doc", "toInt(42.6)", "42"),
    Case("toInt/bool", "toInt(true)", "1"),
    Case("toInt/string", r#"toInt("12")"#, "12"),
    Case("toInt/negative-truncates", "toInt(-42.6)", "-42"),
    Case("toPercentage/doc", "toPercentage(0.25)", "25%"),
    Case("toPercentage/null", "toPercentage(null)", ""),
    Case("toPrecision/doc", "toPrecision(3.14159, 2)", "3.14"),
    Case("toPrecision/pads", "toPrecision(2, 2)", "2.00"),
    Case("toString/doc", "toString(12)", "12"),
    Case("toString/concat", r#"toString(12) + "a""#, "12a"),
    Case("toString/null", "toString(null)", ""),
    // ---- aggregation --------------------------------------------------------------------
    Case("average/doc", "average([1, 2, 3, 4])", "2.5"),
    Case("average/projected", "average(profile.orders.order.price)", "20.0"),
    Case("average/empty", "average([])", ""),
    Case("count/doc", "count(profile.orders)", "3"),
    Case("count/nulls-ignored", "count([1, null])", "1"),
    Case("max/doc", "max([1, 7, 3])", "7"),
    Case("max/projected", "max(profile.orders.order.price)", "30"),
    Case("max/empty", "max([])", ""),
    Case("min/doc", "min([4, 2, 9])", "2"),
    Case("min/nulls", "min([null, 3, 1.5])", "1.5"),
    Case("sum/doc", "sum([1, 2, 3])", "6"),
    Case("sum/projected", "sum(profile.orders.order.price)", "60"),
    Case("sum/mixed", "sum([1, 2.5])", "3.5"),
    Case("sum/missing", "sum(profile.missing)", "0"),
    // ---- arrays -------------------------------------------------------------------------
    Case("countOnlyNull/doc-zeros-are-not-null", "countOnlyNull([4,0,1,6,0,0])", "0"),
    Case("countOnlyNull/nulls", "countOnlyNull([4,null,1,null])", "2"),
    Case("countWithNull/doc", "countWithNull([4,0,1,6,0,0])", "6"),
    Case("countWithNull/nulls", "countWithNull([null,null])", "2"),
    Case("distinct/doc", "distinct([1,1,2])", "1,2"),
    Case("distinct/numbers-by-value", "count(distinct([1, 1.0, \"1\"]))", "2"),
    Case("distinctCountWithNull/doc", "distinctCountWithNull([10,2,10,null])", "3"),
    Case("distinctCountWithNull/empty", "distinctCountWithNull([])", "0"),
    Case("head/doc", "head([5,6])", "5"),
    Case("head/property", "head(profile.orders).order.price", "10"),
    Case("head/empty", "head([])", ""),
    Case("topN/doc", "topN(profile.orders, order.price, 2).order.price", "30,20"),
    Case("topN/shorter-than-n", "topN(profile.orders, order.price, 9).order.price", "30,20,10"),
    Case("topN/method-form", "profile.orders.topN(order.price, 1).head().order.price", "30"),
    Case("bottomN/doc", "bottomN(profile.orders, order.price, 2).order.price", "10,20"),
    Case("bottomN/null-list", "bottomN(profile.nothing, price, 2)", ""),
    Case("in/doc", "in(6, [3,6,9])", "true"),
    Case("in/absent", "in(5, [3,6,9])", "false"),
    Case("in/infix", r#""FR" in ["US","FR"]"#, "true"),
    Case("notIn/doc", "notIn(5, [3,6,9])", "true"),
    Case("notIn/null-is-false", "notIn(null, [3,6,9])", "false"),
    Case("notIn/infix", "6 notIn [3,6,9]", "false"),
    Case("includes/doc", r#"includes(["red","blue"], "red")"#, "true"),
    Case("includes/absent", r#"includes(["red","blue"], "green")"#, "false"),
    Case("intersects/doc", r#"intersects(["red"], ["red","green"])"#, "true"),
    Case("intersects/empty", r#"intersects([], ["red"])"#, "false"),
    Case("subsetOf/doc", "subsetOf([1], [1,2])", "true"),
    Case("subsetOf/not", "subsetOf([3], [1,2])", "false"),
    Case("supersetOf/doc", "supersetOf([1,2], [1])", "true"),
    Case("supersetOf/null", "supersetOf(null, [1])", "false"),
    // ---- maps and objects ---------------------------------------------------------------
    Case("get/doc", r#"get(profile.identityMap, "example@example.com")"#, "id-1"),
    Case("get/method-form", r#"profile.identityMap.get("example@example.com")"#, "id-1"),
    Case("get/missing-key", r#"get(profile.identityMap, "x")"#, ""),
    Case("keys/doc", "keys(profile.identityMap)", "example@example.com"),
    Case("keys/not-a-map", "count(keys(42))", "0"),
    Case("values/doc", "values(profile.identityMap)", "id-1"),
    Case("values/null", "count(values(null))", "0"),
    Case("isNull/doc", "isNull(profile.homeAddress)", "true"),
    Case("isNull/present", "isNull(profile.person)", "false"),
    Case("isNull/json-null", "isNull(profile.nothing)", "true"),
    Case("isNotNull/doc", "isNotNull(profile.homeAddress)", "false"),
    Case("isNotNull/empty-string-exists", "isNotNull(profile.empty)", "true"),
    // ---- dates --------------------------------------------------------------------------
    Case("getCurrentZonedDateTime/clock", "getCurrentZonedDateTime()", "2025-01-07T00:00Z"),
    Case("getCurrentZonedDateTime/is-a-date", "addDays(getCurrentZonedDateTime(), 1)", "2025-01-08T00:00Z"),
    Case("currentTimeInMillis/clock", "currentTimeInMillis()", "1736208000000"),
    Case("currentTimeInMillis/arithmetic", "currentTimeInMillis() / 1000", "1736208000"),
    Case("addDays/doc", "addDays(D, 10)", "2024-11-11T17:19:51Z"),
    Case("addDays/negative", "addDays(D, -1)", "2024-10-31T17:19:51Z"),
    Case("addDays/string-is-not-a-date", r#"addDays("2024-11-01T17:19:51Z", 1)"#, ""),
    Case("addHours/doc", "addHours(D, 1)", "2024-11-01T18:19:51Z"),
    Case("addHours/null", "addHours(null, 1)", ""),
    Case("addMinutes/doc", r#"addMinutes(toDateTime("2024-11-01T17:59:51Z"), 10)"#, "2024-11-01T18:09:51Z"),
    Case("addMinutes/negative", "addMinutes(D, -20)", "2024-11-01T16:59:51Z"),
    Case("addMonths/doc", "addMonths(D, 2)", "2025-01-01T17:19:51Z"),
    Case("addMonths/month-end", r#"addMonths(toDateTime("2024-01-31T10:00:00Z"), 1)"#, "2024-02-29T10:00Z"),
    Case("addSeconds/doc", "addSeconds(D, 10)", "2024-11-01T17:20:01Z"),
    Case("addSeconds/to-zero", "addSeconds(D, -51)", "2024-11-01T17:19Z"),
    Case("addYears/doc", "addYears(D, 2)", "2026-11-01T17:19:51Z"),
    Case("addYears/leap-day", r#"addYears(toDateTime("2024-02-29T00:00:00Z"), 1)"#, "2025-02-28T00:00Z"),
    Case("age/years", r#"age(toDateTime("1990-01-07T00:00:00Z"))"#, "35"),
    Case("age/null", "age(null)", ""),
    Case("ageInDays/doc", r#"ageInDays(toDateTime("2025-01-01T17:19:51Z"))"#, "5"),
    Case("ageInDays/future-negative", r#"ageInDays(toDateTime("2025-01-10T00:00:00Z"))"#, "-3"),
    Case("ageInMonths/doc", r#"ageInMonths(toDateTime("2024-11-01T00:00:00Z"))"#, "2"),
    Case("ageInMonths/wrong-type", r#"ageInMonths("2024-11-01")"#, ""),
    Case("compareDates/doc", r#"compareDates(toDateTime("2024-12-02"), toDateTime("2024-12-03"))"#, "-1"),
    Case("compareDates/equal-instants", r#"compareDates(toDateTime("2024-12-03T01:00+01:00"), toDateTime("2024-12-03T00:00Z"))"#, "0"),
    Case("convertZonedDateTime/doc", r#"convertZonedDateTime(toDateTime("2019-02-19T08:09:00Z"), "Asia/Tehran")"#, "2019-02-19T11:39+03:30[Asia/Tehran]"),
    Case("convertZonedDateTime/unknown-zone", r#"convertZonedDateTime(D, "Nowhere/City")"#, ""),
    Case("dateDiff/decided-sign", r#"dateDiff(toDateTime("2025-01-07"), toDateTime("2025-01-17"))"#, "10"),
    Case("dateDiff/earlier", r#"dateDiff(toDateTime("2025-01-17"), toDateTime("2025-01-07"))"#, "-10"),
    Case("dateBetween/doc", r#"dateBetween(toDateTime("2024-06-15"), toDateTime("2024-06-01"), toDateTime("2024-06-30"))"#, "true"),
    Case("dateBetween/inclusive-end", r#"dateBetween(toDateTime("2024-06-30"), toDateTime("2024-06-01"), toDateTime("2024-06-30"))"#, "true"),
    Case("dateBetween/outside", r#"dateBetween(toDateTime("2024-07-01"), toDateTime("2024-06-01"), toDateTime("2024-06-30"))"#, "false"),
    Case("dayOfMonth/doc", r#"dayOfMonth(toDateTime("2024-11-05T10:00:00Z"))"#, "5"),
    Case("dayOfMonth/null", "dayOfMonth(null)", ""),
    Case("dayOfWeek/monday", r#"dayOfWeek(toDateTime("2024-11-04"))"#, "1"),
    Case("dayOfWeek/sunday", r#"dayOfWeek(toDateTime("2024-11-10"))"#, "7"),
    Case("dayOfYear/doc", r#"dayOfYear(toDateTime("2024-03-15"))"#, "75"),
    Case("dayOfYear/non-leap", r#"dayOfYear(toDateTime("2023-03-15"))"#, "74"),
    Case("diffInSeconds/doc", r#"diffInSeconds(D, toDateTime("2024-11-01T17:19:01Z"))"#, "50"),
    Case("diffInSeconds/null", "diffInSeconds(D, null)", ""),
    Case("diffInMinutes/hour", r#"diffInMinutes(D, toDateTime("2024-11-01T16:19:51Z"))"#, "60"),
    Case("diffInMinutes/negative", r#"diffInMinutes(toDateTime("2024-11-01T16:19:51Z"), D)"#, "-60"),
    Case("diffInHours/doc", r#"diffInHours(D, toDateTime("2024-11-01T07:19:51Z"))"#, "10"),
    Case("diffInHours/partial-hour", r#"diffInHours(D, toDateTime("2024-11-01T16:30:00Z"))"#, "0"),
    Case("diffInMonths/doc", r#"diffInMonths(toDateTime("2024-11-01"), toDateTime("2024-08-01"))"#, "3"),
    Case("diffInMonths/wrong-type", r#"diffInMonths("2024-11-01", "2024-08-01")"#, ""),
    Case("diffInYears/doc", r#"diffInYears(toDateTime("2024-11-01"), toDateTime("2019-10-01"))"#, "5"),
    Case("diffInYears/not-yet", r#"diffInYears(toDateTime("2024-09-01"), toDateTime("2019-10-01"))"#, "4"),
    Case("diffInDays/undocumented", r#"diffInDays(toDateTime("2024-11-01"), toDateTime("2024-10-01"))"#, "31"),
    Case("diffInDays/null", "diffInDays(null, D)", ""),
    Case("extractHours/doc", "extractHours(D)", "17"),
    Case("extractHours/wrong-type", "extractHours(42)", ""),
    Case("extractMinutes/doc", "extractMinutes(D)", "19"),
    Case("extractMinutes/null", "extractMinutes(null)", ""),
    Case("extractSeconds/doc", "extractSeconds(D)", "51"),
    Case("extractSeconds/zero", r#"extractSeconds(toDateTime("2024-11-01T00:00Z"))"#, "0"),
    Case("extractMonth/doc", "extractMonth(D)", "11"),
    Case("extractMonth/zoned", r#"extractMonth(convertZonedDateTime(toDateTime("2024-10-31T23:30:00Z"), "Asia/Tokyo"))"#, "11"),
    Case("extractMonths/alias", "extractMonths(D)", "11"),
    Case("extractMonths/null", "extractMonths(null)", ""),
    Case("formatDate/doc", r#"formatDate(toDateTime("2020-01-01T00:00:00Z"), "EEEE MMMM dd yyyy")"#, "Wednesday January 01 2020"),
    Case("formatDate/fr_FR", r#"formatDate(toDateTime("2020-01-01T00:00:00Z"), "EEEE d MMMM yyyy", "fr_FR")"#, "mercredi 1 janvier 2020"),
    Case("formatDate/bad-pattern-iso", r#"formatDate(toDateTime("2020-01-01T00:00:00Z"), "{bad}")"#, "2020-01-01T00:00Z"),
    Case("formatDate/string-rejected", r#"formatDate("2020-01-01", "yyyy")"#, ""),
    Case("setDays/doc", r#"setDays(toDateTime("2024-11-15T17:19:51Z"), 1)"#, "2024-11-01T17:19:51Z"),
    Case("setDays/invalid-day", "setDays(D, 31)", ""),
    Case("setHours/doc", "setHours(D, 0)", "2024-11-01T00:19:51Z"),
    Case("setHours/invalid-hour", "setHours(D, 25)", ""),
    Case("toUTC/zoned", r#"toUTC(toDateTime("2019-02-19T11:39+03:30[Asia/Tehran]"))"#, "2019-02-19T08:09Z"),
    Case("toUTC/null", "toUTC(null)", ""),
    Case("truncateToStartOfDay/doc", "truncateToStartOfDay(D)", "2024-11-01T00:00Z"),
    Case("truncateToStartOfDay/null", "truncateToStartOfDay(null)", ""),
    Case("truncateToStartOfWeek/doc", r#"truncateToStartOfWeek(toDateTime("2024-11-19T17:19:51Z"))"#, "2024-11-18T00:00Z"),
    Case("truncateToStartOfWeek/sunday", r#"truncateToStartOfWeek(toDateTime("2024-11-24T10:00:00Z"))"#, "2024-11-18T00:00Z"),
    Case("truncateToStartOfQuarter/doc", "truncateToStartOfQuarter(D)", "2024-10-01T00:00Z"),
    Case("truncateToStartOfQuarter/first-day", r#"truncateToStartOfQuarter(toDateTime("2024-01-01T00:00Z"))"#, "2024-01-01T00:00Z"),
    Case("truncateToStartOfYear/doc", "truncateToStartOfYear(D)", "2024-01-01T00:00Z"),
    Case("truncateToStartOfYear/wrong-type", r#"truncateToStartOfYear("2024")"#, ""),
    Case("weekOfYear/doc", r#"weekOfYear(toDateTime("2024-11-01"))"#, "44"),
    Case("weekOfYear/iso-week-1", r#"weekOfYear(toDateTime("2024-12-30"))"#, "1"),
];

/// (name, expression, part of the compile error): missing or extra arguments.
const COMPILE_ERRORS: &[(&str, &str, &str)] = &[
    ("upperCase/missing-argument", "upperCase()", "takes 1"),
    (
        "contains/missing-argument",
        r#"contains("a")"#,
        "takes 2 to 3",
    ),
    ("substr/missing-argument", r#"substr("a")"#, "takes 2 to 3"),
    (
        "formatCurrency/missing-locale",
        "formatCurrency(5)",
        "takes 2",
    ),
    ("join/missing-separator", "join([1])", "takes 2"),
    ("topN/missing-n", "topN([1], x)", "takes 3"),
    ("addDays/missing-amount", "addDays(null)", "takes 2"),
    (
        "formatDate/missing-pattern",
        "formatDate(null)",
        "takes 2 to 3",
    ),
    ("random/extra-argument", "random(1)", "takes 0"),
    ("now/does-not-exist", "now()", "unknown function `now`"),
    (
        "round/does-not-exist",
        "round(1.5)",
        "unknown function `round`",
    ),
    (
        "capitalize/does-not-exist",
        r#"capitalize("a")"#,
        "unknown function",
    ),
];

fn options() -> RenderOptions {
    RenderOptions {
        now: Utc.with_ymd_and_hms(2025, 1, 7, 0, 0, 0).single(),
        ..RenderOptions::default()
    }
}

fn render(expr: &str) -> Result<String, String> {
    let expr = expr.replace("D,", r#"toDateTime("2024-11-01T17:19:51Z"),"#);
    let expr = expr.replace("(D)", r#"(toDateTime("2024-11-01T17:19:51Z"))"#);
    let expr = expr.replace(", D)", r#", toDateTime("2024-11-01T17:19:51Z"))"#);
    let src = format!("{{%= {expr} %}}");
    let t = Template::compile(&src).map_err(|e| format!("compile error: {e:?}"))?;
    t.render_with_options(&data(), OutputMode::Text, &options())
        .map_err(|e| format!("render error: {e}"))
}

#[test]
fn every_function_example_and_edge_case() {
    let mut failures = Vec::new();
    for Case(name, expr, want) in CASES {
        match render(expr) {
            Ok(got) if got == *want => {}
            got => failures.push(format!(
                "{name}: {expr}\n    want {want:?}\n    got  {got:?}"
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn arity_and_unknown_function_errors() {
    let mut failures = Vec::new();
    for (name, expr, want) in COMPILE_ERRORS {
        let src = format!("{{%= {expr} %}}");
        match Template::compile(&src) {
            Ok(_) => failures.push(format!("{name}: {expr} compiled")),
            Err(e) if e[0].message.contains(want) => {}
            Err(e) => failures.push(format!("{name}: {expr}: {}", e[0].message)),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every function in spec §5 (and the template-migration helpers of §3) has a case.
#[test]
fn checklist_is_complete() {
    const SPEC: &[&str] = &[
        "camelCase",
        "charCodeAt",
        "concat",
        "contains",
        "doesNotContain",
        "startsWith",
        "doesNotStartWith",
        "endsWith",
        "doesNotEndWith",
        "equals",
        "notEqualTo",
        "equalsIgnoreCase",
        "notEqualWithIgnoreCase",
        "equalsAnyIgnoreCase",
        "encode64",
        "decode64",
        "extractEmailDomain",
        "formatCurrency",
        "getUrlHost",
        "getUrlPath",
        "getUrlProtocol",
        "getUrlFragment",
        "appendQueryParams",
        "indexOf",
        "lastIndexOf",
        "isEmpty",
        "isNotEmpty",
        "join",
        "leftTrim",
        "rightTrim",
        "trim",
        "length",
        "like",
        "lowerCase",
        "upperCase",
        "titleCase",
        "matches",
        "mask",
        "md5",
        "sha256",
        "regexGroup",
        "replace",
        "replaceAll",
        "split",
        "substr",
        "stringToDate",
        "string_to_integer",
        "stringToNumber",
        "toBool",
        "toDateTime",
        "toDateTimeOnly",
        "urlEncode",
        "urlDecode",
        "ampSubstr",
        "compareTo",
        "absolute",
        "formatNumber",
        "random",
        "roundDown",
        "roundUp",
        "toHexString",
        "toInt",
        "toPercentage",
        "toPrecision",
        "toString",
        "average",
        "count",
        "max",
        "min",
        "sum",
        "countOnlyNull",
        "countWithNull",
        "distinct",
        "distinctCountWithNull",
        "head",
        "topN",
        "bottomN",
        "in",
        "notIn",
        "includes",
        "intersects",
        "subsetOf",
        "supersetOf",
        "get",
        "keys",
        "values",
        "isNull",
        "isNotNull",
        "getCurrentZonedDateTime",
        "currentTimeInMillis",
        "addDays",
        "addHours",
        "addMinutes",
        "addMonths",
        "addSeconds",
        "addYears",
        "age",
        "ageInDays",
        "ageInMonths",
        "compareDates",
        "convertZonedDateTime",
        "dateDiff",
        "dateBetween",
        "dayOfMonth",
        "dayOfWeek",
        "dayOfYear",
        "diffInSeconds",
        "diffInMinutes",
        "diffInHours",
        "diffInMonths",
        "diffInYears",
        "diffInDays",
        "extractHours",
        "extractMinutes",
        "extractSeconds",
        "extractMonth",
        "extractMonths",
        "formatDate",
        "setDays",
        "setHours",
        "toUTC",
        "truncateToStartOfDay",
        "truncateToStartOfWeek",
        "truncateToStartOfQuarter",
        "truncateToStartOfYear",
        "weekOfYear",
    ];
    let covered: BTreeSet<&str> = CASES
        .iter()
        .filter_map(|Case(name, _, _)| name.split('/').next())
        .collect();
    let missing: Vec<&&str> = SPEC.iter().filter(|f| !covered.contains(**f)).collect();
    assert!(missing.is_empty(), "functions without a case: {missing:?}");
    for f in SPEC {
        let cases = CASES
            .iter()
            .filter(|Case(n, _, _)| n.split('/').next() == Some(f))
            .count();
        // `random` has no documented example; one range case is all it can have.
        assert!(
            cases >= 2 || *f == "random",
            "`{f}` needs an example and an edge case"
        );
    }
}
