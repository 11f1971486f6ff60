//! A small HTML → plain-text converter for the text/plain alternative.
//!
//! Hand-written rather than pulling in an HTML5 parser: email HTML only needs
//! readable text, not a faithful DOM.

/// Elements whose content is never shown as text.
const SKIPPED: &[&str] = &["head", "style", "script", "title", "noscript", "template"];

/// Elements that start and end on their own line.
const BLOCKS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "center",
    "dd",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "header",
    "hr",
    "main",
    "nav",
    "ol",
    "pre",
    "section",
    "table",
    "tbody",
    "thead",
    "tfoot",
    "tr",
    "ul",
];

/// Elements followed by a blank line.
const PARAGRAPHS: &[&str] = &["p", "h1", "h2", "h3", "h4", "h5", "h6"];

/// Converts email HTML to readable plain text: drops head/style/script, turns
/// block elements into line breaks, renders links as `label (url)`, decodes
/// entities and collapses whitespace.
pub fn html_to_text(html: &str) -> String {
    let mut out = Output::default();
    // Name of the element whose content is being skipped, if any.
    let mut skipping: Option<String> = None;
    // Open links: (href, output length when the link started).
    let mut links: Vec<(Option<String>, usize)> = Vec::new();
    let mut rest = html;

    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            if skipping.is_none() {
                out.text(&decode_entities(rest));
            }
            break;
        };
        if lt > 0 && skipping.is_none() {
            out.text(&decode_entities(&rest[..lt]));
        }
        rest = &rest[lt..];

        if let Some(comment) = rest.strip_prefix("<!--") {
            rest = comment.find("-->").map_or("", |end| &comment[end + 3..]);
            continue;
        }
        let Some((tag, after)) = parse_tag(rest) else {
            // A lone '<' that does not start a tag is text.
            if skipping.is_none() {
                out.text("<");
            }
            rest = &rest[1..];
            continue;
        };
        rest = after;

        if let Some(skipped) = &skipping {
            if tag.closing && tag.name == *skipped {
                skipping = None;
            }
            continue;
        }
        let name = tag.name.as_str();
        if !tag.closing && !tag.self_closing && SKIPPED.contains(&name) {
            skipping = Some(tag.name.clone());
            continue;
        }
        match (name, tag.closing) {
            ("br", _) => out.line_break(),
            ("li", false) => {
                out.newline();
                out.raw("- ");
            }
            ("li", true) => out.newline(),
            ("td" | "th", false) => out.space(),
            ("img", false) => {
                if let Some(alt) = tag.attr("alt").filter(|a| !a.trim().is_empty()) {
                    out.text(&alt);
                }
            }
            ("a", false) => links.push((tag.attr("href"), out.len())),
            ("a", true) => {
                if let Some((Some(href), start)) = links.pop() {
                    out.link_target(&href, start);
                }
            }
            ("hr", _) => {
                out.newline();
                out.raw("----------");
                out.newline();
            }
            (n, _) if PARAGRAPHS.contains(&n) => out.paragraph(),
            (n, _) if BLOCKS.contains(&n) => out.newline(),
            _ => {}
        }
    }
    out.finish()
}

#[derive(Default)]
struct Output {
    buf: String,
}

impl Output {
    fn len(&self) -> usize {
        self.buf.len()
    }

    /// Appends text with HTML whitespace rules: runs collapse to one space and
    /// no space is emitted at the start of a line.
    fn text(&mut self, text: &str) {
        for (i, word) in text.split(is_html_space).enumerate() {
            if i > 0 {
                self.space();
            }
            self.buf.push_str(word);
        }
    }

    fn raw(&mut self, text: &str) {
        self.buf.push_str(text);
    }

    fn space(&mut self) {
        if !self.buf.is_empty() && !self.buf.ends_with([' ', '\n']) {
            self.buf.push(' ');
        }
    }

    /// Ends the current line, if one is open (blocks do not stack up).
    fn newline(&mut self) {
        self.trim_trailing_spaces();
        if !self.buf.is_empty() && !self.buf.ends_with('\n') {
            self.buf.push('\n');
        }
    }

    /// An explicit `<br>`: always breaks, so `<br><br>` gives a blank line.
    fn line_break(&mut self) {
        self.trim_trailing_spaces();
        self.buf.push('\n');
    }

    /// Ends the current line and leaves one blank line after it.
    fn paragraph(&mut self) {
        self.newline();
        if !self.buf.is_empty() && !self.buf.ends_with("\n\n") {
            self.buf.push('\n');
        }
    }

    fn trim_trailing_spaces(&mut self) {
        let trimmed = self.buf.trim_end_matches(' ').len();
        self.buf.truncate(trimmed);
    }

    /// Appends ` (url)` after a link's label unless the label already is the
    /// URL, or the link is an in-page anchor / javascript.
    fn link_target(&mut self, href: &str, label_start: usize) {
        let href = href.trim();
        if href.is_empty() || href.starts_with('#') || href.starts_with("javascript:") {
            return;
        }
        let label = self.buf.get(label_start..).unwrap_or("").trim();
        let shown = href.strip_prefix("mailto:").unwrap_or(href);
        if label == href || label == shown {
            return;
        }
        if label.is_empty() {
            self.text(shown);
        } else {
            self.trim_trailing_spaces();
            self.buf.push_str(" (");
            self.buf.push_str(shown);
            self.buf.push(')');
        }
    }

    /// Trims every line and keeps at most one blank line in a row.
    fn finish(self) -> String {
        let mut out = String::with_capacity(self.buf.len());
        let mut blank_run = 0;
        for line in self.buf.lines().map(str::trim) {
            if line.is_empty() {
                blank_run += 1;
                if blank_run > 1 || out.is_empty() {
                    continue;
                }
            } else {
                blank_run = 0;
            }
            out.push_str(line);
            out.push('\n');
        }
        let len = out.trim_end().len();
        out.truncate(len);
        out
    }
}

fn is_html_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c')
}

struct Tag {
    name: String,
    closing: bool,
    self_closing: bool,
    /// The raw text between the name and the closing `>`.
    attrs: String,
}

impl Tag {
    /// Value of attribute `wanted` (case-insensitive name), entity-decoded.
    fn attr(&self, wanted: &str) -> Option<String> {
        let mut rest = self.attrs.as_str();
        loop {
            rest = rest.trim_start_matches(|c: char| is_html_space(c) || c == '/');
            if rest.is_empty() {
                return None;
            }
            let name_end = rest
                .find(|c: char| is_html_space(c) || c == '=' || c == '/')
                .unwrap_or(rest.len());
            let name = &rest[..name_end];
            rest = rest[name_end..].trim_start_matches(is_html_space);
            let value = if let Some(after_eq) = rest.strip_prefix('=') {
                let after_eq = after_eq.trim_start_matches(is_html_space);
                let (value, remaining) = match after_eq.chars().next() {
                    Some(q @ ('"' | '\'')) => {
                        let inner = &after_eq[1..];
                        let end = inner.find(q).unwrap_or(inner.len());
                        (&inner[..end], inner.get(end + 1..).unwrap_or(""))
                    }
                    _ => {
                        let end = after_eq.find(is_html_space).unwrap_or(after_eq.len());
                        (&after_eq[..end], &after_eq[end..])
                    }
                };
                rest = remaining;
                value
            } else {
                ""
            };
            if name.eq_ignore_ascii_case(wanted) {
                return Some(decode_entities(value));
            }
        }
    }
}

/// Parses a tag at the start of `input` (which begins with `<`), returning it
/// and the input after its `>`. Declarations (`<!DOCTYPE`, `<?xml`) come back as
/// a tag named `!`, which matches nothing.
fn parse_tag(input: &str) -> Option<(Tag, &str)> {
    let body = input.strip_prefix('<')?;
    let (closing, body) = match body.strip_prefix('/') {
        Some(b) => (true, b),
        None => (false, body),
    };
    let first = body.chars().next()?;
    if !(first.is_ascii_alphabetic() || (!closing && matches!(first, '!' | '?'))) {
        return None;
    }
    // Find the closing '>' outside quoted attribute values.
    let mut quote: Option<char> = None;
    let mut end = None;
    for (i, c) in body.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => {
                end = Some(i);
                break;
            }
            _ => {}
        }
    }
    // An unterminated tag swallows the rest, as browsers do.
    let end = end.unwrap_or(body.len());
    let inner = &body[..end];
    let rest = body.get(end + 1..).unwrap_or("");
    if matches!(first, '!' | '?') {
        let tag = Tag {
            name: "!".to_owned(),
            closing: false,
            self_closing: true,
            attrs: String::new(),
        };
        return Some((tag, rest));
    }
    let name_end = inner
        .find(|c: char| is_html_space(c) || c == '/')
        .unwrap_or(inner.len());
    let tag = Tag {
        name: inner[..name_end].to_ascii_lowercase(),
        closing,
        self_closing: inner.trim_end().ends_with('/'),
        attrs: inner[name_end..].to_owned(),
    };
    Some((tag, rest))
}

/// Decodes numeric character references and the named entities common in
/// email HTML; unknown entities are left as written.
fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        // Entities are short; look for ';' within a bounded window.
        let semi = rest
            .char_indices()
            .take(12)
            .find(|&(_, c)| c == ';')
            .map(|(i, _)| i);
        let decoded = semi.and_then(|semi| decode_entity(&rest[1..semi]).map(|c| (c, semi)));
        match decoded {
            Some((c, semi)) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn decode_entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code).filter(|c| *c != '\0');
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "mdash" => '—',
        "ndash" => '–',
        "hellip" => '…',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "laquo" => '«',
        "raquo" => '»',
        "bull" => '•',
        "middot" => '·',
        "euro" => '€',
        "pound" => '£',
        "yen" => '¥',
        "cent" => '¢',
        "deg" => '°',
        "times" => '×',
        "zwnj" => '\u{200c}',
        "zwj" => '\u{200d}',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::html_to_text;

    #[test]
    fn drops_head_style_script_and_comments() {
        let html = "<!DOCTYPE html><html><head><title>T</title><style>p{color:red}</style></head>\
                    <body><script>alert(1)</script><!-- hidden --><p>Hello</p></body></html>";
        assert_eq!(html_to_text(html), "Hello");
    }

    #[test]
    fn blocks_become_lines_and_whitespace_collapses() {
        let html = "<h1>Title</h1><p>First   line\n  continues</p><div>A</div><div>B<br>C</div>";
        assert_eq!(
            html_to_text(html),
            "Title\n\nFirst line continues\n\nA\nB\nC"
        );
    }

    #[test]
    fn links_show_their_target() {
        assert_eq!(
            html_to_text("<p>Go <a href=\"https://x.test/a?b=1&amp;c=2\">here</a>.</p>"),
            "Go here (https://x.test/a?b=1&c=2)."
        );
        // A label that already is the URL is not repeated.
        assert_eq!(
            html_to_text("<a href='https://x.test'>https://x.test</a>"),
            "https://x.test"
        );
        assert_eq!(
            html_to_text("<a href=\"mailto:a@b.test\">Mail us</a>"),
            "Mail us (a@b.test)"
        );
        assert_eq!(html_to_text("<a href=\"#top\">Top</a>"), "Top");
    }

    #[test]
    fn entities_are_decoded() {
        assert_eq!(
            html_to_text("Fish &amp; chips &lt;3 &#127881; &#x05e9;&nbsp;x &bogus; a&b"),
            "Fish & chips <3 🎉 ש x &bogus; a&b"
        );
    }

    #[test]
    fn lists_tables_and_images() {
        let html = "<ul><li>One</li><li>Two</li></ul><table><tr><td>a</td><td>b</td></tr>\
                    <tr><td>c</td><td>d</td></tr></table><img src=x alt=\"Logo\">";
        assert_eq!(html_to_text(html), "- One\n- Two\na b\nc d\nLogo");
    }

    #[test]
    fn unicode_and_stray_angle_brackets_survive() {
        assert_eq!(html_to_text("<p>שלום 🎉 1 < 2</p>"), "שלום 🎉 1 < 2");
        assert_eq!(html_to_text("plain text"), "plain text");
        assert_eq!(html_to_text(""), "");
    }

    #[test]
    fn quoted_gt_inside_attribute_does_not_end_tag() {
        assert_eq!(
            html_to_text("<a title=\"a>b\" href=\"https://x.test\">X</a>"),
            "X (https://x.test)"
        );
    }
}
