//! The function registry. Functions are resolved at compile time (unknown name or wrong
//! arity is a compile error); at render time they get already-evaluated arguments.

mod collections;
mod convert;
mod format;
mod strings;

use serde_json::Value;

pub(crate) type NativeFn = fn(&[Value]) -> Result<Value, String>;

pub(crate) struct FnDef {
    pub name: &'static str,
    pub min_args: usize,
    pub max_args: usize,
    pub call: NativeFn,
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
        call,
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
    def("isEmpty", 1, 1, strings::is_empty),
    def("isNotEmpty", 1, 1, strings::is_not_empty),
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
    def("notIn", 2, 2, collections::not_in),
    def("includes", 2, 2, collections::includes),
    def("get", 2, 2, collections::get),
    def("keys", 1, 1, collections::keys),
    def("values", 1, 1, collections::values),
    // conversion and null tests
    def("isNull", 1, 1, convert::is_null),
    def("isNotNull", 1, 1, convert::is_not_null),
    def("toString", 1, 1, convert::to_string),
    def("toInt", 1, 1, convert::to_int),
    def("toBool", 1, 1, convert::to_bool),
    def("stringToNumber", 1, 1, convert::string_to_number),
    def("string_to_integer", 1, 1, convert::to_int),
    def("absolute", 1, 1, convert::absolute),
    // formatting
    def("formatCurrency", 2, 2, format::format_currency),
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
