//! First pass: split the source into text and raw tags (`{{…}}`, `{{{…}}}`, `{%…%}`,
//! comments). Tag contents are parsed later by `parser`/`expr`.

use crate::error::RawError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TagKind {
    /// `{{ … }}` (content may start with a sigil such as `#`, `/`, `^`, `&`, `>`).
    Mustache,
    /// `{{{ … }}}`
    Triple,
    /// `{% … %}`
    Pql,
    /// `{{! … }}` / `{{!-- … --}}`
    Comment,
}

#[derive(Debug, Clone)]
pub(crate) struct RawTag<'s> {
    pub kind: TagKind,
    /// Offset of the opening `{`.
    pub start: usize,
    /// Offset just after the closing delimiter.
    pub end: usize,
    pub content: &'s str,
    pub content_start: usize,
    /// `{{~`: trim whitespace before the tag.
    pub strip_left: bool,
    /// `~}}`: trim whitespace after the tag.
    pub strip_right: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum Piece<'s> {
    Text(String),
    Tag(RawTag<'s>),
}

pub(crate) fn lex(src: &str) -> (Vec<Piece<'_>>, Vec<RawError>) {
    let mut pieces = Vec::new();
    let mut errors = Vec::new();
    let bytes = src.as_bytes();
    let mut text = String::new();
    let mut pos = 0usize;
    let mut scan = 0usize; // where to continue looking for the next `{`
    while let Some(rel) = src[scan..].find('{') {
        let at = scan + rel;
        let next = bytes.get(at + 1).copied();
        if next != Some(b'{') && next != Some(b'%') {
            scan = at + 1;
            continue;
        }
        // `\{{` is a literal `{{` (Handlebars escape); `\\{{` is a backslash then a tag.
        if at > 0 && bytes[at - 1] == b'\\' {
            let double = at > 1 && bytes[at - 2] == b'\\';
            if !double {
                text.push_str(&src[pos..at - 1]);
                text.push_str(&src[at..at + 2]);
                pos = at + 2;
                scan = pos;
                continue;
            }
            text.push_str(&src[pos..at - 1]);
        } else {
            text.push_str(&src[pos..at]);
        }
        match lex_tag(src, at) {
            Ok(tag) => {
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pos = tag.end;
                scan = pos;
                pieces.push(Piece::Tag(tag));
            }
            Err(e) => {
                // Nothing after an unterminated tag can be trusted; stop here.
                errors.push(e);
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                return (pieces, errors);
            }
        }
    }
    text.push_str(&src[pos..]);
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    (pieces, errors)
}

fn lex_tag(src: &str, at: usize) -> Result<RawTag<'_>, RawError> {
    let bytes = src.as_bytes();
    if bytes.get(at + 1) == Some(&b'%') {
        let cstart = at + 2;
        let Some(close) = find_closer(src, cstart, "%}") else {
            return Err(RawError::new(at, "unterminated `{%` tag: expected `%}`"));
        };
        return Ok(RawTag {
            kind: TagKind::Pql,
            start: at,
            end: close + 2,
            content: &src[cstart..close],
            content_start: cstart,
            strip_left: false,
            strip_right: false,
        });
    }
    let mut p = at + 2;
    let strip_left = bytes.get(p) == Some(&b'~');
    if strip_left {
        p += 1;
    }
    if src[p..].starts_with("!--") {
        let cstart = p + 3;
        let Some(rel) = src[cstart..]
            .find("--")
            .and_then(|_| find_comment_end(&src[cstart..]))
        else {
            return Err(RawError::new(
                at,
                "unterminated `{{!--` comment: expected `--}}`",
            ));
        };
        let (cend, strip_right, len) = rel;
        return Ok(RawTag {
            kind: TagKind::Comment,
            start: at,
            end: cstart + cend + len,
            content: &src[cstart..cstart + cend],
            content_start: cstart,
            strip_left,
            strip_right,
        });
    }
    if bytes.get(p) == Some(&b'!') {
        let cstart = p + 1;
        let Some(close) = src[cstart..].find("}}").map(|r| cstart + r) else {
            return Err(RawError::new(
                at,
                "unterminated `{{!` comment: expected `}}`",
            ));
        };
        let strip_right = close > cstart && bytes[close - 1] == b'~';
        let cend = if strip_right { close - 1 } else { close };
        return Ok(RawTag {
            kind: TagKind::Comment,
            start: at,
            end: close + 2,
            content: &src[cstart..cend],
            content_start: cstart,
            strip_left,
            strip_right,
        });
    }
    let (kind, cstart, closer) = if bytes.get(p) == Some(&b'{') {
        (TagKind::Triple, p + 1, "}}}")
    } else {
        (TagKind::Mustache, p, "}}")
    };
    let Some(close) = find_closer(src, cstart, closer) else {
        return Err(RawError::new(
            at,
            format!("unterminated tag: expected `{closer}`"),
        ));
    };
    let strip_right = close > cstart && bytes[close - 1] == b'~';
    let cend = if strip_right { close - 1 } else { close };
    Ok(RawTag {
        kind,
        start: at,
        end: close + closer.len(),
        content: &src[cstart..cend],
        content_start: cstart,
        strip_left,
        strip_right,
    })
}

/// Finds `--}}` or `--~}}`: returns (offset of `--`, strip_right, closer length).
fn find_comment_end(s: &str) -> Option<(usize, bool, usize)> {
    let mut from = 0;
    while let Some(rel) = s[from..].find("--") {
        let i = from + rel;
        let rest = &s[i + 2..];
        if rest.starts_with("}}") {
            return Some((i, false, 4));
        }
        if rest.starts_with("~}}") {
            return Some((i, true, 5));
        }
        from = i + 1;
    }
    None
}

/// Finds `closer` from `from`, skipping over quoted strings so `"}}"` inside a literal
/// does not end the tag. Falls back to a plain search if a quote is never closed.
fn find_closer(src: &str, from: usize, closer: &str) -> Option<usize> {
    let bytes = src.as_bytes();
    let mut i = from;
    while i < bytes.len() {
        let b = bytes[i];
        if bytes[i..].starts_with(closer.as_bytes()) {
            return Some(i);
        }
        if b == b'"' || b == b'\'' || b == b'`' {
            let mut j = i + 1;
            let mut closed = false;
            while j < bytes.len() {
                if bytes[j] == b'\\' && b != b'`' {
                    j += 2;
                    continue;
                }
                if bytes[j] == b {
                    closed = true;
                    break;
                }
                j += 1;
            }
            if !closed {
                return src[from..].find(closer).map(|r| from + r);
            }
            i = j + 1;
            continue;
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_text_and_tags() {
        let (p, e) = lex("a {{x}} b {{{y}}} {%= z %}{{!-- c }} --}}");
        assert!(e.is_empty());
        assert_eq!(p.len(), 7);
        match &p[6] {
            Piece::Tag(t) => assert_eq!(t.content, " c }} "),
            _ => panic!("expected comment"),
        }
    }

    #[test]
    fn quoted_closer_does_not_end_tag() {
        let (p, _) = lex(r#"{%= "%}" %}"#);
        match &p[0] {
            Piece::Tag(t) => assert_eq!(t.content, r#"= "%}" "#),
            _ => panic!("expected tag"),
        }
    }

    #[test]
    fn escaped_mustache_is_text() {
        let (p, _) = lex(r"\{{x}}");
        match &p[0] {
            Piece::Text(text) => assert_eq!(text, "{{x}}"),
            _ => panic!("expected text"),
        }
    }

    #[test]
    fn unterminated_is_error() {
        let (_, e) = lex("ab {{x");
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].offset, 3);
    }
}
