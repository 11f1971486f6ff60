//! Output escaping for the three output modes.

/// HTML-escapes `& < > " '` (what an attribute or text node needs; Handlebars also
/// escapes `` ` `` and `=`, which is unnecessary for HTML5 and would mangle URLs in text).
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_html_into(s, &mut out);
    out
}

pub(crate) fn escape_html_into(s: &str, out: &mut String) {
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
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
