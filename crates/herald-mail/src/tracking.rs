//! Click and open tracking in a message's body: links rewritten to
//! `/t/c/{token}` and a 1×1 pixel for opens.
//!
//! The rewrite is a scan of `<a …>` start tags, not an HTML parse: it must
//! leave every other byte of the author's HTML (conditional comments for
//! Outlook, odd whitespace) exactly as written. Comments are skipped, so a
//! commented-out link is never tracked. A link opts out with
//! `data-herald-track="off"` (or the bare `data-herald-notrack` attribute).

/// The links of a message, by index: the same URL in the HTML and the text
/// part shares one index, so a click report counts it once.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Links(pub Vec<String>, pub Vec<String>, Vec<String>);

impl Links {
    /// Links starting with one of `prefixes` are left as they are (Herald's
    /// own unsubscribe link must never count as a click).
    pub fn keeping(prefixes: Vec<String>) -> Links {
        Links(Vec::new(), prefixes, Vec::new())
    }

    /// Kept as written: Herald's own links, and the URLs of anchors that
    /// opted out (so their copy in a text part generated from the HTML
    /// stays untracked too).
    fn keeps(&self, url: &str) -> bool {
        self.1.iter().any(|p| url.starts_with(p.as_str())) || self.2.iter().any(|u| u == url)
    }

    fn index_of(&mut self, url: &str) -> u32 {
        match self.0.iter().position(|u| u == url) {
            Some(i) => i as u32,
            None => {
                self.0.push(url.to_owned());
                (self.0.len() - 1) as u32
            }
        }
    }
}

fn is_trackable(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    (lower.starts_with("http://") || lower.starts_with("https://")) && url.len() <= 4096
}

/// Rewrites every trackable `href` of the HTML; `tracked(index)` gives the
/// URL that replaces the link with that index.
pub fn rewrite_html(html: &str, links: &mut Links, tracked: &dyn Fn(u32) -> String) -> String {
    let mut out = String::with_capacity(html.len() + 64);
    let bytes = html.as_bytes();
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        if bytes[i] != b'<' {
            i += 1;
            continue;
        }
        if html[i..].starts_with("<!--") {
            i = match html[i + 4..].find("-->") {
                Some(end) => i + 4 + end + 3,
                None => bytes.len(),
            };
            continue;
        }
        let is_anchor = bytes.len() > i + 2
            && (bytes[i + 1] == b'a' || bytes[i + 1] == b'A')
            && bytes[i + 2].is_ascii_whitespace();
        if !is_anchor {
            i += 1;
            continue;
        }
        let Some(tag) = Tag::scan(html, i) else {
            break;
        };
        if let Some((_, _, value)) = tag.href.as_ref()
            && tag.opted_out
        {
            links.2.push(decode_entities(value).trim().to_owned());
        }
        if let Some((start, end, value)) = tag.href.as_ref()
            && !tag.opted_out
        {
            let url = decode_entities(value);
            if is_trackable(&url) && !links.keeps(url.trim()) {
                let index = links.index_of(url.trim());
                out.push_str(&html[copied..*start]);
                out.push_str(&tracked(index).replace('&', "&amp;"));
                copied = *end;
            }
        }
        i = tag.end;
    }
    out.push_str(&html[copied..]);
    out
}

/// Rewrites bare `http(s)://` URLs of a text part (or an SMS).
pub fn rewrite_text(text: &str, links: &mut Links, tracked: &dyn Fn(u32) -> String) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    loop {
        let lower = rest.to_ascii_lowercase();
        let next = [lower.find("https://"), lower.find("http://")]
            .into_iter()
            .flatten()
            .min();
        let Some(start) = next else { break };
        let tail = &rest[start..];
        let mut end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'' | '`'))
            .unwrap_or(tail.len());
        // Sentence punctuation after a URL is not part of it.
        while end > 0 && tail[..end].ends_with(['.', ',', ';', ':', '!', '?', ')', ']']) {
            end -= 1;
        }
        let url = &tail[..end];
        out.push_str(&rest[..start]);
        if url.len() > "https://".len() && is_trackable(url) && !links.keeps(url) {
            out.push_str(&tracked(links.index_of(url)));
        } else {
            out.push_str(url);
        }
        rest = &tail[end.max(1).min(tail.len())..];
        if end == 0 {
            out.push_str(&tail[..1]);
        }
    }
    out.push_str(rest);
    out
}

/// Adds the open pixel before `</body>` (or at the end).
pub fn add_open_pixel(html: &str, pixel_url: &str) -> String {
    let img = format!(
        "<img src=\"{}\" width=\"1\" height=\"1\" alt=\"\" style=\"display:block;border:0;width:1px;height:1px\">",
        pixel_url.replace('&', "&amp;").replace('"', "&quot;")
    );
    match html.to_ascii_lowercase().rfind("</body") {
        Some(at) => format!("{}{img}{}", &html[..at], &html[at..]),
        None => format!("{html}{img}"),
    }
}

/// One `<a …>` start tag: where its `href` value is and whether it opted out.
struct Tag {
    /// Byte range of the href value (without quotes), and the raw value.
    href: Option<(usize, usize, String)>,
    opted_out: bool,
    /// Just past the closing `>`.
    end: usize,
}

impl Tag {
    fn scan(html: &str, at: usize) -> Option<Tag> {
        let b = html.as_bytes();
        let mut i = at + 2;
        let mut tag = Tag {
            href: None,
            opted_out: false,
            end: b.len(),
        };
        loop {
            while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
                i += 1;
            }
            if i >= b.len() {
                return None;
            }
            if b[i] == b'>' {
                tag.end = i + 1;
                return Some(tag);
            }
            let name_start = i;
            while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b'=' | b'>' | b'/')
            {
                i += 1;
            }
            let name = html[name_start..i].to_ascii_lowercase();
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            let mut value = None;
            if i < b.len() && b[i] == b'=' {
                i += 1;
                while i < b.len() && b[i].is_ascii_whitespace() {
                    i += 1;
                }
                if i >= b.len() {
                    return None;
                }
                let (start, end) = if b[i] == b'"' || b[i] == b'\'' {
                    let q = b[i];
                    let start = i + 1;
                    let end = start + html[start..].bytes().position(|c| c == q)?;
                    i = end + 1;
                    (start, end)
                } else {
                    let start = i;
                    while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                        i += 1;
                    }
                    (start, i)
                };
                value = Some((start, end, html[start..end].to_owned()));
            }
            match name.as_str() {
                "href" if tag.href.is_none() => tag.href = value,
                "data-herald-notrack" => tag.opted_out = true,
                "data-herald-track" => {
                    tag.opted_out = value
                        .as_ref()
                        .is_some_and(|(_, _, v)| v.eq_ignore_ascii_case("off"))
                }
                _ => {}
            }
        }
    }
}

/// An attribute value as the browser reads it: character references
/// decoded in one pass (`&amp;quot;` is `&quot;`, not `"`), numeric ones and
/// the named ones an escaper writes.
fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let decoded = tail[1..]
            .find(';')
            .filter(|&end| end <= 10)
            .and_then(|end| {
                let name = &tail[1..1 + end];
                let c = match name {
                    "amp" => Some('&'),
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    "nbsp" => Some('\u{a0}'),
                    _ => name
                        .strip_prefix("#x")
                        .or_else(|| name.strip_prefix("#X"))
                        .map(|hex| u32::from_str_radix(hex, 16))
                        .or_else(|| name.strip_prefix('#').map(str::parse::<u32>))
                        .and_then(Result::ok)
                        .and_then(char::from_u32),
                }?;
                Some((c, end + 2))
            });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &tail[len..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(i: u32) -> String {
        format!("https://t.example/t/c/T{i}?a=1&b=2")
    }

    #[test]
    fn links_are_rewritten_in_place_and_share_indices() {
        let mut links = Links::default();
        let html = r#"<p><a href="https://shop.example/a?x=1&amp;y=2">A</a> <A class=x HREF='https://shop.example/b'>B</A>
<a href="mailto:help@shop.example">mail</a> <a href="https://shop.example/a?x=1&amp;y=2">again</a></p>"#;
        let out = rewrite_html(html, &mut links, &t);
        assert_eq!(
            links.0,
            vec!["https://shop.example/a?x=1&y=2", "https://shop.example/b"]
        );
        assert!(
            out.contains(r#"<a href="https://t.example/t/c/T0?a=1&amp;b=2">A</a>"#),
            "{out}"
        );
        assert!(
            out.contains(r#"HREF='https://t.example/t/c/T1?a=1&amp;b=2'>B</A>"#),
            "{out}"
        );
        assert!(out.contains("mailto:help@shop.example"));
        assert_eq!(out.matches("T0").count(), 2);
    }

    #[test]
    fn opted_out_and_commented_links_stay() {
        let mut links = Links::default();
        let html = r#"<!-- <a href="https://old.example/">old</a> --><a data-herald-track="off" href="https://keep.example/">k</a><a data-herald-notrack href="https://keep2.example/">k</a><a href="https://t.example/">t</a>"#;
        let out = rewrite_html(html, &mut links, &t);
        assert_eq!(links.0, vec!["https://t.example/"]);
        assert!(out.contains("https://old.example/"));
        assert!(out.contains("https://keep.example/"));
        assert!(out.contains("https://keep2.example/"));
    }

    #[test]
    fn references_are_decoded_once_as_a_browser_does() {
        assert_eq!(
            decode_entities("a&amp;b&#x27;c&#39;d&lt;&gt;&quot;"),
            "a&b'c'd<>\""
        );
        assert_eq!(decode_entities("&amp;quot;"), "&quot;");
        assert_eq!(decode_entities("x&y;z&"), "x&y;z&");
        let mut links = Links::default();
        let html = r#"<a href="https://shop.example/u/O&#x27;Neil?a=1&amp;b=2">o</a>"#;
        rewrite_html(html, &mut links, &t);
        assert_eq!(links.0, ["https://shop.example/u/O'Neil?a=1&b=2"]);
    }

    #[test]
    fn an_opted_out_link_stays_untracked_in_the_text_part_too() {
        let mut links = Links::default();
        let html =
            r#"<a data-herald-notrack href="https://shop.example/reset?t=1&amp;u=2">reset</a>"#;
        rewrite_html(html, &mut links, &t);
        let text = rewrite_text("reset (https://shop.example/reset?t=1&u=2)", &mut links, &t);
        assert_eq!(text, "reset (https://shop.example/reset?t=1&u=2)");
        assert!(links.0.is_empty());
    }

    #[test]
    fn text_urls_lose_trailing_punctuation_only() {
        let mut links = Links::default();
        let text = "See https://shop.example/a?x=1. Or (https://shop.example/b), http://x.example";
        let out = rewrite_text(text, &mut links, &|i| format!("<{i}>"));
        assert_eq!(out, "See <0>. Or (<1>), <2>");
        assert_eq!(links.0[0], "https://shop.example/a?x=1");
    }

    #[test]
    fn pixel_goes_before_body_end() {
        let out = add_open_pixel("<html><body><p>x</p></BODY></html>", "https://t/o/1");
        assert!(out.contains(r#"<p>x</p><img src="https://t/o/1""#), "{out}");
        assert!(out.ends_with("</BODY></html>"));
        assert!(add_open_pixel("<p>x</p>", "u").ends_with("height:1px\">"));
    }

    #[test]
    fn broken_markup_never_panics() {
        for html in [
            "<a ",
            "<a href=",
            "<a href=\"x",
            "<a\thref=https://x.example",
            "<!--",
            "<a href='https://x.example/é'>é</a>",
        ] {
            let mut links = Links::default();
            let _ = rewrite_html(html, &mut links, &t);
            let _ = rewrite_text(html, &mut links, &t);
        }
    }
}
