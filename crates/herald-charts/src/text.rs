//! Text as it goes into the SVG: XML-safe, bounded in length, numbers compact.

/// Characters XML 1.0 cannot hold (controls, U+FFFE/U+FFFF) become spaces, so any input
/// string yields a document that parses; the SVG backend escapes `<&>"'` itself.
pub(crate) fn clean(s: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max_chars * 4));
    for (count, c) in s.chars().enumerate() {
        if count == max_chars {
            out.pop();
            out.push('…');
            return out;
        }
        out.push(if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' {
            ' '
        } else {
            c
        });
    }
    out
}

/// An axis value: `950`, `12,400`, `1.2M`. Ticks are integers, so no fractions below 10k.
pub(crate) fn count(v: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (1_000_000_000_000, "T"),
        (1_000_000_000, "G"),
        (1_000_000, "M"),
        (1_000, "k"),
    ];
    if v >= 100_000 {
        for (size, unit) in UNITS {
            if v >= size {
                let whole = v / size;
                let tenth = (v % size) / (size / 10);
                return if whole >= 100 || tenth == 0 {
                    format!("{whole}{unit}")
                } else {
                    format!("{whole}.{tenth}{unit}")
                };
            }
        }
    }
    grouped(v)
}

/// `12400` → `12,400`.
pub(crate) fn grouped(v: u64) -> String {
    let digits = v.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_replaces_controls_and_truncates() {
        assert_eq!(clean("a\u{0}b\nc", 10), "a b c");
        assert_eq!(clean("abcdef", 4), "abc…");
        assert_eq!(clean("abcd", 4), "abcd");
    }

    #[test]
    fn counts_are_compact() {
        assert_eq!(count(0), "0");
        assert_eq!(count(950), "950");
        assert_eq!(count(12_400), "12,400");
        assert_eq!(count(1_250_000), "1.2M");
        assert_eq!(count(300_000), "300k");
        assert_eq!(count(u64::MAX), "18446744T");
    }
}
