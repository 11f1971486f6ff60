//! The function registry. Functions are resolved at compile time (unknown name or wrong
//! arity is a compile error); at render time they get already-evaluated arguments.

mod collections;
mod convert;
mod dates;
mod format;
mod math;
mod strings;

use chrono::{DateTime, Utc};
use serde_json::Value;

pub(crate) type NativeFn = fn(&[Value]) -> Result<Value, String>;
pub(crate) type CtxFn = fn(&Ctx, &[Value]) -> Result<Value, String>;

/// What a function may read besides its arguments: the render's clock.
pub(crate) struct Ctx {
    pub now: DateTime<Utc>,
}

#[derive(Clone, Copy)]
pub(crate) enum Native {
    Pure(NativeFn),
    WithCtx(CtxFn),
}

pub(crate) struct FnDef {
    pub name: &'static str,
    pub min_args: usize,
    pub max_args: usize,
    pub call: Native,
    /// The function handles null arguments itself (`isNull`, `count*Null`…), so
    /// `missingValues: fail` does not fire for its arguments.
    pub null_ok: bool,
    /// Argument 1 is a field evaluated per item of argument 0 (`topN(orders, price, 3)`):
    /// the renderer passes the list of per-item values in its place.
    pub per_item: bool,
}

impl FnDef {
    pub(crate) fn invoke(&self, ctx: &Ctx, args: &[Value]) -> Result<Value, String> {
        match self.call {
            Native::Pure(f) => f(args),
            Native::WithCtx(f) => f(ctx, args),
        }
    }
}

impl std::fmt::Debug for FnDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FnDef({})", self.name)
    }
}

const fn def(name: &'static str, min_args: usize, max_args: usize, call: NativeFn) -> FnDef {
    FnDef {
        name,
        min_args,
        max_args,
        call: Native::Pure(call),
        null_ok: false,
        per_item: false,
    }
}

const fn def_ctx(name: &'static str, min_args: usize, max_args: usize, call: CtxFn) -> FnDef {
    FnDef {
        name,
        min_args,
        max_args,
        call: Native::WithCtx(call),
        null_ok: false,
        per_item: false,
    }
}

impl FnDef {
    const fn null_ok(mut self) -> Self {
        self.null_ok = true;
        self
    }

    const fn per_item(mut self) -> Self {
        self.per_item = true;
        self
    }
}

const MANY: usize = usize::MAX;

static REGISTRY: &[FnDef] = &[
    // strings
    def("concat", 0, MANY, strings::concat),
    def("upperCase", 1, 1, strings::upper_case),
    def("lowerCase", 1, 1, strings::lower_case),
    def("titleCase", 1, 1, strings::title_case),
    def("length", 1, 1, strings::length),
    def("contains", 2, 3, strings::contains),
    def("doesNotContain", 2, 3, strings::does_not_contain),
    def("startsWith", 2, 3, strings::starts_with),
    def("doesNotStartWith", 2, 3, strings::does_not_start_with),
    def("endsWith", 2, 3, strings::ends_with),
    def("doesNotEndWith", 2, 3, strings::does_not_end_with),
    def("equals", 2, 2, strings::equals),
    def("notEqualTo", 2, 2, strings::not_equal_to),
    def("equalsIgnoreCase", 2, 2, strings::equals_ignore_case),
    def("trim", 1, 1, strings::trim),
    def("leftTrim", 1, 1, strings::left_trim),
    def("rightTrim", 1, 1, strings::right_trim),
    def("replace", 3, 3, strings::replace),
    def("indexOf", 2, 2, strings::index_of),
    def("lastIndexOf", 2, 2, strings::last_index_of),
    def("substr", 2, 3, strings::substr),
    def("split", 2, 2, strings::split),
    def("urlEncode", 1, 1, strings::url_encode),
    def("urlDecode", 1, 1, strings::url_decode),
    def("isEmpty", 1, 1, strings::is_empty).null_ok(),
    def("isNotEmpty", 1, 1, strings::is_not_empty).null_ok(),
    def("camelCase", 1, 1, strings::camel_case),
    def("charCodeAt", 2, 2, strings::char_code_at),
    def(
        "equalsAnyIgnoreCase",
        2,
        11,
        strings::equals_any_ignore_case,
    ),
    def(
        "notEqualWithIgnoreCase",
        2,
        2,
        strings::not_equal_with_ignore_case,
    ),
    def("encode64", 1, 1, strings::encode64),
    def("decode64", 1, 1, strings::decode64),
    def("extractEmailDomain", 1, 1, strings::extract_email_domain),
    def("getUrlHost", 1, 1, strings::get_url_host),
    def("getUrlPath", 1, 1, strings::get_url_path),
    def("getUrlProtocol", 1, 1, strings::get_url_protocol),
    def("getUrlFragment", 1, 1, strings::get_url_fragment),
    def("appendQueryParams", 3, 3, strings::append_query_params),
    def("like", 2, 2, strings::like),
    def("matches", 2, 2, strings::matches),
    def("regexGroup", 3, 3, strings::regex_group),
    def("replaceAll", 3, 3, strings::replace_all),
    def("mask", 3, 3, strings::mask),
    def("md5", 1, 1, strings::md5),
    def("sha256", 1, 1, strings::sha256),
    def("ampSubstr", 3, 3, strings::amp_substr),
    def("compareTo", 2, 2, strings::compare_to),
    // collections
    def("join", 2, 2, collections::join),
    def("count", 1, 1, collections::count),
    def("sum", 1, 1, collections::sum),
    def("min", 1, 1, collections::min),
    def("max", 1, 1, collections::max),
    def("average", 1, 1, collections::average),
    def("head", 1, 1, collections::head),
    def("distinct", 1, 1, collections::distinct),
    def("in", 2, 2, collections::in_),
    def("notIn", 2, 2, collections::not_in).null_ok(),
    def("includes", 2, 2, collections::includes),
    def("get", 2, 2, collections::get),
    def("keys", 1, 1, collections::keys),
    def("values", 1, 1, collections::values),
    def("countOnlyNull", 1, 1, collections::count_only_null).null_ok(),
    def("countWithNull", 1, 1, collections::count_with_null).null_ok(),
    def(
        "distinctCountWithNull",
        1,
        1,
        collections::distinct_count_with_null,
    )
    .null_ok(),
    def("topN", 3, 3, collections::top_n).per_item(),
    def("bottomN", 3, 3, collections::bottom_n).per_item(),
    def("intersects", 2, 2, collections::intersects),
    def("subsetOf", 2, 2, collections::subset_of),
    def("supersetOf", 2, 2, collections::superset_of),
    // conversion and null tests
    def("isNull", 1, 1, convert::is_null).null_ok(),
    def("isNotNull", 1, 1, convert::is_not_null).null_ok(),
    def("toString", 1, 1, convert::to_string),
    def("toInt", 1, 1, convert::to_int),
    def("toBool", 1, 1, convert::to_bool),
    def("stringToNumber", 1, 1, convert::string_to_number),
    def("string_to_integer", 1, 1, convert::to_int),
    def("absolute", 1, 1, convert::absolute),
    // formatting
    def("formatCurrency", 2, 2, format::format_currency),
    // math
    def("formatNumber", 2, 2, math::format_number),
    def("random", 0, 0, math::random),
    def("roundDown", 1, 1, math::round_down),
    def("roundUp", 1, 1, math::round_up),
    def("toHexString", 1, 1, math::to_hex_string),
    def("toPercentage", 1, 1, math::to_percentage),
    def("toPrecision", 2, 2, math::to_precision),
    // dates
    def_ctx("getCurrentZonedDateTime", 0, 0, dates::current_zoned),
    def_ctx("currentTimeInMillis", 0, 0, dates::current_millis),
    def("stringToDate", 1, 2, dates::string_to_date),
    def("toDateTime", 1, 2, dates::to_date_time),
    def("toDateTimeOnly", 1, 1, dates::to_date_time_only),
    def("addDays", 2, 2, dates::add_days),
    def("addHours", 2, 2, dates::add_hours),
    def("addMinutes", 2, 2, dates::add_minutes),
    def("addMonths", 2, 2, dates::add_months_fn),
    def("addSeconds", 2, 2, dates::add_seconds),
    def("addYears", 2, 2, dates::add_years),
    def_ctx("age", 1, 1, dates::age),
    def_ctx("ageInDays", 1, 1, dates::age_in_days),
    def_ctx("ageInMonths", 1, 1, dates::age_in_months),
    def("compareDates", 2, 2, dates::compare_dates),
    def("convertZonedDateTime", 2, 2, dates::convert_zoned),
    def("dateDiff", 2, 2, dates::date_diff),
    def("dateBetween", 3, 3, dates::date_between),
    def("dayOfMonth", 1, 1, dates::day_of_month),
    def("dayOfWeek", 1, 1, dates::day_of_week),
    def("dayOfYear", 1, 1, dates::day_of_year),
    def("diffInSeconds", 2, 2, dates::diff_in_seconds),
    def("diffInMinutes", 2, 2, dates::diff_in_minutes),
    def("diffInHours", 2, 2, dates::diff_in_hours),
    def("diffInDays", 2, 2, dates::diff_in_days),
    def("diffInMonths", 2, 2, dates::diff_in_months),
    def("diffInYears", 2, 2, dates::diff_in_years),
    def("extractHours", 1, 1, dates::extract_hours),
    def("extractMinutes", 1, 1, dates::extract_minutes),
    def("extractSeconds", 1, 1, dates::extract_seconds),
    def("extractMonth", 1, 1, dates::extract_month),
    def("extractMonths", 1, 1, dates::extract_month),
    def("formatDate", 2, 3, dates::format_date),
    def("setDays", 2, 2, dates::set_days),
    def("setHours", 2, 2, dates::set_hours),
    def("toUTC", 1, 1, dates::to_utc),
    def("truncateToStartOfDay", 1, 1, dates::start_of_day),
    def("truncateToStartOfWeek", 1, 1, dates::start_of_week),
    def("truncateToStartOfQuarter", 1, 1, dates::start_of_quarter),
    def("truncateToStartOfYear", 1, 1, dates::start_of_year),
    def("weekOfYear", 1, 1, dates::week_of_year),
];

pub(crate) fn lookup(name: &str) -> Option<&'static FnDef> {
    REGISTRY.iter().find(|f| f.name == name)
}

/// The closest known name (case-insensitive match or a small typo), for error hints.
pub(crate) fn suggest(name: &str) -> Option<&'static str> {
    let lower = name.to_lowercase();
    if let Some(f) = REGISTRY.iter().find(|f| f.name.to_lowercase() == lower) {
        return Some(f.name);
    }
    REGISTRY
        .iter()
        .map(|f| (edit_distance(&lower, &f.name.to_lowercase()), f.name))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Argument helpers shared by the function modules.
pub(crate) fn arg(args: &[Value], i: usize) -> &Value {
    args.get(i).unwrap_or(&Value::Null)
}

pub(crate) fn str_arg(args: &[Value], i: usize) -> String {
    crate::value::to_text(arg(args, i))
}

/// Optional case-sensitivity flag (defaults to true).
pub(crate) fn case_sensitive(args: &[Value], i: usize) -> bool {
    args.get(i).is_none_or(crate::value::truthy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        for (i, f) in REGISTRY.iter().enumerate() {
            assert!(
                REGISTRY[i + 1..].iter().all(|g| g.name != f.name),
                "{}",
                f.name
            );
        }
    }

    #[test]
    fn suggests() {
        assert_eq!(suggest("uppercase"), Some("upperCase"));
        assert_eq!(suggest("contans"), Some("contains"));
        assert_eq!(suggest("frobnicate"), None);
    }
}
