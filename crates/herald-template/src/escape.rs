//! Output escaping for the three output modes.

/// HTML-escapes `& < > " '` (what an attribute or text node needs; Handlebars also
/// escapes `` ` `` and `=`, which is unnecessary for HTML5 and would mangle URLs in text).
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_html_into(s, &mut out);
    out
}

pub(crate) fn escape_html_into(s: &str, out: &mut String) {
    // Copy runs of safe bytes at once: the five escaped characters are ASCII, so a
    // byte scan never splits a UTF-8 sequence.
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, b) in bytes.iter().enumerate() {
        let entity = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#x27;",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        out.push_str(entity);
        start = i + 1;
    }
    out.push_str(&s[start..]);
}

/// Header fields can never carry CR or LF (header injection): each becomes a space.
pub fn sanitize_header(s: &str) -> String {
    s.chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_the_five() {
        assert_eq!(
            escape_html(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#x27;Jerry&#x27;&lt;/a&gt;"
        );
    }

    #[test]
    fn header_has_no_newlines() {
        assert_eq!(sanitize_header("a\r\nb\nc"), "a  b c");
    }
}
