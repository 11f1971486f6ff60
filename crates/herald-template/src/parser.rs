//! Second pass: classify raw tags, apply whitespace control (standalone lines and `~`),
//! and build the block tree. Errors are collected, not fatal, so one compile reports
//! everything it can find.

use crate::ast::{BlockParams, Body, Branch, Expr, Node};
use crate::error::{RawError, line_col};
use crate::expr::{ExprParser, Tok, parse_expression, tokenize};
use crate::lexer::{Piece, RawTag, TagKind, lex};

/// Deepest block nesting accepted at compile time (keeps recursion bounded).
const MAX_BLOCK_DEPTH: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layer {
    Handlebars,
    Pql,
}

#[derive(Debug)]
enum OpenKind {
    If { negate: bool, cond: Expr },
    Each { list: Expr, params: BlockParams },
    With { value: Expr, params: BlockParams },
    Section { value: Expr, inverted: bool },
}

#[derive(Debug)]
enum TagData {
    Comment,
    Output {
        expr: Expr,
        escape: bool,
    },
    Open {
        kind: OpenKind,
        layer: Layer,
        name: String,
    },
    /// `else`, `else if c`, `else unless c`, `^`.
    Else {
        cond: Option<(bool, Expr)>,
    },
    Close {
        name: String,
        layer: Layer,
    },
    Let {
        name: String,
        value: Expr,
    },
    Partial {
        name: String,
    },
    Fragment {
        id: String,
        args: Vec<(String, Expr)>,
    },
    /// Already reported as an error; renders nothing.
    Invalid,
}

impl TagData {
    /// Tags that vanish with their line when alone on it (Handlebars standalone rule).
    fn standalone_eligible(&self) -> bool {
        matches!(
            self,
            TagData::Comment
                | TagData::Open { .. }
                | TagData::Else { .. }
                | TagData::Close { .. }
                | TagData::Let { .. }
                | TagData::Partial { .. }
        )
    }
}

enum Item {
    Text(String),
    Tag {
        data: TagData,
        start: usize,
        indent: String,
    },
}

pub(crate) fn parse(src: &str) -> (Body, Vec<RawError>) {
    let (pieces, mut errors) = lex(src);
    let mut items: Vec<Item> = Vec::with_capacity(pieces.len());
    let mut strips: Vec<(bool, bool)> = Vec::with_capacity(pieces.len());
    for piece in pieces {
        match piece {
            Piece::Text(text) => {
                items.push(Item::Text(text));
                strips.push((false, false));
            }
            Piece::Tag(tag) => {
                let data = classify(&tag).unwrap_or_else(|e| {
                    errors.push(e);
                    TagData::Invalid
                });
                strips.push((tag.strip_left, tag.strip_right));
                items.push(Item::Tag {
                    data,
                    start: tag.start,
                    indent: String::new(),
                });
            }
        }
    }
    apply_whitespace(&mut items, &strips);
    let body = build_tree(src, items, &mut errors);
    (body, errors)
}

fn is_blank(s: &str) -> bool {
    s.chars().all(|c| c == ' ' || c == '\t')
}

/// Handlebars' standalone-line rule and `~` trimming. Standalone status is decided on
/// the original text before any trimming, as Handlebars does.
fn apply_whitespace(items: &mut [Item], strips: &[(bool, bool)]) {
    let n = items.len();
    let mut standalone = vec![false; n];
    for i in 0..n {
        let Item::Tag { data, .. } = &items[i] else {
            continue;
        };
        if !data.standalone_eligible() {
            continue;
        }
        let before_ok = if i == 0 {
            true
        } else {
            match &items[i - 1] {
                Item::Text(t) => match t.rfind('\n') {
                    Some(nl) => is_blank(&t[nl + 1..]),
                    None => i == 1 && is_blank(t),
                },
                Item::Tag { .. } => false,
            }
        };
        let after_ok = if i + 1 == n {
            true
        } else {
            match &items[i + 1] {
                Item::Text(t) => match t.find('\n') {
                    Some(nl) => is_blank(t[..nl].trim_end_matches('\r')),
                    None => i + 2 == n && is_blank(t),
                },
                Item::Tag { .. } => false,
            }
        };
        standalone[i] = before_ok && after_ok;
    }
    for i in 0..n {
        let (strip_left, strip_right) = strips[i];
        if standalone[i] {
            let mut indent = String::new();
            if i > 0
                && let Item::Text(t) = &mut items[i - 1]
            {
                let keep = t.trim_end_matches([' ', '\t']).len();
                indent = t[keep..].to_string();
                t.truncate(keep);
            }
            if i + 1 < n
                && let Item::Text(t) = &mut items[i + 1]
            {
                match t.find('\n') {
                    Some(nl) => {
                        t.drain(..=nl);
                    }
                    None => t.clear(),
                }
            }
            if let Item::Tag { indent: slot, .. } = &mut items[i] {
                *slot = indent;
            }
        }
        if strip_left
            && i > 0
            && let Item::Text(t) = &mut items[i - 1]
        {
            let keep = t.trim_end().len();
            t.truncate(keep);
        }
        if strip_right
            && i + 1 < n
            && let Item::Text(t) = &mut items[i + 1]
        {
            let drop = t.len() - t.trim_start().len();
            t.drain(..drop);
        }
    }
}

/// Splits off the first word (up to whitespace); returns (word, rest, rest's offset delta).
fn first_word(s: &str) -> (&str, &str, usize) {
    let end = s.find(char::is_whitespace).unwrap_or(s.len());
    (&s[..end], &s[end..], end)
}

/// Trims leading whitespace, returning the trimmed text and its new absolute offset.
fn trim_start_at(s: &str, at: usize) -> (&str, usize) {
    let t = s.trim_start();
    (t, at + (s.len() - t.len()))
}

fn classify(tag: &RawTag<'_>) -> Result<TagData, RawError> {
    match tag.kind {
        TagKind::Comment => Ok(TagData::Comment),
        TagKind::Triple => {
            let expr = parse_required(tag.content, tag.content_start, tag.start, "`{{{ }}}`")?;
            Ok(TagData::Output {
                expr,
                escape: false,
            })
        }
        TagKind::Pql => classify_pql(tag),
        TagKind::Mustache => classify_mustache(tag),
    }
}

fn parse_required(
    content: &str,
    at: usize,
    tag_start: usize,
    what: &str,
) -> Result<Expr, RawError> {
    if content.trim().is_empty() {
        return Err(RawError::new(
            tag_start,
            format!("empty {what}: expected an expression"),
        ));
    }
    parse_expression(content, at)
}

fn classify_mustache(tag: &RawTag<'_>) -> Result<TagData, RawError> {
    let (c, at) = trim_start_at(tag.content, tag.content_start);
    let c = c.trim_end();
    let sigil = c.chars().next();
    match sigil {
        None => Err(RawError::new(
            tag.start,
            "empty `{{ }}`: expected a path or expression",
        )),
        Some('#') => {
            // `{{# name }}` is allowed: skip spaces after the sigil.
            let (c, at) = trim_start_at(&c[1..], at + 1);
            let (word, rest, delta) = first_word(c);
            let rest_at = at + delta;
            match word {
                "if" | "unless" => {
                    let cond = parse_required(
                        rest,
                        rest_at,
                        tag.start,
                        &format!("`{{{{#{word}}}}}` condition"),
                    )?;
                    Ok(TagData::Open {
                        kind: OpenKind::If {
                            negate: word == "unless",
                            cond,
                        },
                        layer: Layer::Handlebars,
                        name: word.to_string(),
                    })
                }
                "each" | "with" => {
                    if rest.trim().is_empty() {
                        return Err(RawError::new(
                            tag.start,
                            format!(
                                "`{{{{#{word}}}}}` needs a value, e.g. `{{{{#{word} context.items}}}}`"
                            ),
                        ));
                    }
                    let (value, params) = parse_with_params(rest, rest_at)?;
                    let kind = if word == "each" {
                        OpenKind::Each {
                            list: value,
                            params,
                        }
                    } else {
                        OpenKind::With { value, params }
                    };
                    Ok(TagData::Open {
                        kind,
                        layer: Layer::Handlebars,
                        name: word.to_string(),
                    })
                }
                "" => Err(RawError::new(
                    tag.start,
                    "expected a block name after `{{#`",
                )),
                w if w.starts_with('>') || w.starts_with('*') => Err(RawError::new(
                    tag.start,
                    "partial blocks and inline partials are not supported",
                )),
                // `{{#name arg}}` is a helper call, not a section: say which helpers exist.
                w if !rest.trim().is_empty() && w.chars().all(char::is_alphanumeric) => {
                    section(c, at, false).map_err(|_| {
                        RawError::new(
                            tag.start,
                            format!(
                                "unknown block helper `{w}`: expected `{{{{#each …}}}}`, \
                                 `{{{{#with …}}}}`, `{{{{#if …}}}}` or `{{{{#unless …}}}}`"
                            ),
                        )
                    })
                }
                _ => section(c, at, false),
            }
        }
        Some('^') => {
            if c[1..].trim().is_empty() {
                return Ok(TagData::Else { cond: None });
            }
            section(&c[1..], at + 1, true)
        }
        Some('/') => {
            let name = c[1..].trim();
            if name.is_empty() {
                return Err(RawError::new(
                    tag.start,
                    "expected a block name after `{{/`",
                ));
            }
            Ok(TagData::Close {
                name: name.to_string(),
                layer: Layer::Handlebars,
            })
        }
        Some('&') => {
            let expr = parse_required(&c[1..], at + 1, tag.start, "`{{& }}`")?;
            Ok(TagData::Output {
                expr,
                escape: false,
            })
        }
        Some('>') => {
            let name = c[1..].trim().trim_matches(|ch| ch == '"' || ch == '\'');
            if name.is_empty() {
                return Err(RawError::new(
                    tag.start,
                    "expected a partial name after `{{>`",
                ));
            }
            Ok(TagData::Partial {
                name: name.to_string(),
            })
        }
        _ => {
            let (word, rest, delta) = first_word(c);
            match word {
                "else" => Ok(TagData::Else {
                    cond: else_cond(rest, at + delta, tag.start)?,
                }),
                "fragment" => parse_fragment(rest, at + delta, tag.start),
                _ => Ok(TagData::Output {
                    expr: parse_expression(c, at)?,
                    escape: true,
                }),
            }
        }
    }
}

/// `{{#path}}` / `{{^path}}`: a Mustache section; its close tag must repeat the path text.
fn section(text: &str, at: usize, inverted: bool) -> Result<TagData, RawError> {
    let value = parse_expression(text, at)?;
    Ok(TagData::Open {
        kind: OpenKind::Section { value, inverted },
        layer: Layer::Handlebars,
        name: text.trim().to_string(),
    })
}

/// The tail of `else`: nothing, `if cond` or `unless cond`.
fn else_cond(rest: &str, at: usize, tag_start: usize) -> Result<Option<(bool, Expr)>, RawError> {
    let (r, r_at) = trim_start_at(rest, at);
    if r.is_empty() {
        return Ok(None);
    }
    let (word, tail, delta) = first_word(r);
    match word {
        "if" | "unless" => {
            let cond = parse_required(
                tail,
                r_at + delta,
                tag_start,
                &format!("`else {word}` condition"),
            )?;
            Ok(Some((word == "unless", cond)))
        }
        _ => Err(RawError::new(
            r_at,
            format!("expected `if` or the end of the tag after `else`, found `{word}`"),
        )),
    }
}

/// `expr [as |item [index]|]`
fn parse_with_params(src: &str, at: usize) -> Result<(Expr, BlockParams), RawError> {
    let toks = tokenize(src, at)?;
    let mut p = ExprParser::new(&toks, at + src.len());
    let value = p.parse_expr()?;
    let mut params = BlockParams::default();
    if p.peek_keyword("as") {
        p.pos += 1;
        if p.peek().map(|t| &t.tok) != Some(&Tok::Pipe) {
            return Err(p.unexpected("`|` to start block parameters, e.g. `as |item|`"));
        }
        p.pos += 1;
        let mut names = Vec::new();
        while let Some(t) = p.peek() {
            match &t.tok {
                Tok::Ident { name, .. } => {
                    names.push(name.clone());
                    p.pos += 1;
                }
                _ => break,
            }
        }
        if p.peek().map(|t| &t.tok) != Some(&Tok::Pipe) {
            return Err(p.unexpected("a name or the closing `|`"));
        }
        p.pos += 1;
        if names.is_empty() || names.len() > 2 {
            return Err(RawError::new(
                at,
                "block parameters take one or two names: `as |item index|`",
            ));
        }
        let mut it = names.into_iter();
        params.item = it.next();
        params.index = it.next();
    }
    if !p.at_end() {
        return Err(p.unexpected("`as |name|` or the end of the tag"));
    }
    Ok((value, params))
}

/// `{{fragment id='…' mode='inline' key=value}}`
fn parse_fragment(rest: &str, at: usize, tag_start: usize) -> Result<TagData, RawError> {
    let toks = tokenize(rest, at)?;
    let mut p = ExprParser::new(&toks, at + rest.len());
    let mut args = Vec::new();
    let mut id = None;
    while let Some(t) = p.peek() {
        let Tok::Ident { name, .. } = &t.tok else {
            return Err(p.unexpected("a `name=value` argument"));
        };
        p.pos += 1;
        if p.peek().map(|t| &t.tok) != Some(&Tok::Op("=")) {
            return Err(p.unexpected("`=`"));
        }
        p.pos += 1;
        let value = p.parse_unary_public()?;
        if name == "id" {
            match &value {
                Expr::Literal(serde_json::Value::String(s)) => id = Some(s.clone()),
                _ => {
                    return Err(RawError::new(
                        t.offset,
                        "fragment `id` must be a string literal",
                    ));
                }
            }
        } else {
            args.push((name.clone(), value));
        }
    }
    match id {
        Some(id) => Ok(TagData::Fragment { id, args }),
        None => Err(RawError::new(
            tag_start,
            "`{{fragment}}` needs an `id='…'` argument",
        )),
    }
}

fn classify_pql(tag: &RawTag<'_>) -> Result<TagData, RawError> {
    let (c, at) = trim_start_at(tag.content, tag.content_start);
    if let Some(rest) = c.strip_prefix('=') {
        let expr = parse_required(rest, at + 1, tag.start, "`{%= %}`")?;
        return Ok(TagData::Output { expr, escape: true });
    }
    let (word, rest, delta) = first_word(c);
    let rest_at = at + delta;
    // `{%#if(x)%}` has no space after the keyword; split it off by hand.
    let split = |kw: &str| -> Option<(&str, usize)> {
        let tail = c.strip_prefix(kw)?;
        (tail.is_empty() || !tail.starts_with(|ch: char| ch.is_alphanumeric() || ch == '_'))
            .then(|| (tail, at + kw.len()))
    };
    if let Some((tail, tail_at)) = split("#if").or_else(|| split("#unless")) {
        let kw = if c.starts_with("#if") { "if" } else { "unless" };
        let cond = parse_required(
            tail,
            tail_at,
            tag.start,
            &format!("`{{%#{kw}%}}` condition"),
        )?;
        return Ok(TagData::Open {
            kind: OpenKind::If {
                negate: kw == "unless",
                cond,
            },
            layer: Layer::Pql,
            name: kw.to_string(),
        });
    }
    if let Some((tail, tail_at)) = split("else") {
        return Ok(TagData::Else {
            cond: else_cond(tail, tail_at, tag.start)?,
        });
    }
    match word.trim_end() {
        "/if" | "/unless" => {
            return Ok(TagData::Close {
                name: word[1..].to_string(),
                layer: Layer::Pql,
            });
        }
        "let" => return parse_let(rest, rest_at, tag.start),
        _ => {}
    }
    let hint = match word {
        "if" => "Liquid-style `{% if %}` is not supported: write `{%#if condition%}…{%/if%}`"
            .to_string(),
        "unless" => "write `{%#unless condition%}…{%/unless%}`".to_string(),
        "elseif" | "elsif" | "elif" => "write `{%else if condition%}`".to_string(),
        "endif" => "Liquid-style `{% endif %}` is not supported: close with `{%/if%}`".to_string(),
        "endunless" => "close with `{%/unless%}`".to_string(),
        "for" | "endfor" | "#each" => "loops are written `{{#each list}}…{{/each}}`".to_string(),
        "" => "empty `{% %}` tag: expected `{%= expr %}`, `{%#if …%}` or `{% let x = … %}`"
            .to_string(),
        w => format!(
            "unknown `{{% {w} %}}` tag: expected `{{%= expr %}}`, `{{%#if …%}}`, `{{%#unless …%}}`, `{{%else%}}`, `{{%/if%}}` or `{{% let x = … %}}`"
        ),
    };
    Err(RawError::new(tag.start, hint))
}

fn parse_let(rest: &str, at: usize, tag_start: usize) -> Result<TagData, RawError> {
    let toks = tokenize(rest, at)?;
    let mut p = ExprParser::new(&toks, at + rest.len());
    let name = match p.peek() {
        Some(t) => match &t.tok {
            Tok::Ident { name, .. }
                if !matches!(
                    name.as_str(),
                    "true" | "false" | "null" | "this" | "and" | "or" | "not"
                ) =>
            {
                name.clone()
            }
            _ => return Err(p.unexpected("a variable name after `let`")),
        },
        None => {
            return Err(RawError::new(
                tag_start,
                "`{% let %}` needs `name = expression`",
            ));
        }
    };
    p.pos += 1;
    if p.peek().map(|t| &t.tok) != Some(&Tok::Op("=")) {
        return Err(p.unexpected("`=` after the variable name"));
    }
    p.pos += 1;
    let value = p.parse_expr()?;
    if !p.at_end() {
        return Err(p.unexpected("an operator or the end of the tag"));
    }
    Ok(TagData::Let { name, value })
}

struct Segment {
    cond: Option<(bool, Expr)>,
    body: Body,
}

struct OpenBlock {
    kind: OpenKind,
    layer: Layer,
    name: String,
    start: usize,
    segments: Vec<Segment>,
    /// A plain `else` was seen (nothing may follow it but the close).
    closed_else: bool,
}

fn tag_text(layer: Layer, prefix: &str, name: &str) -> String {
    match layer {
        Layer::Handlebars => format!("`{{{{{prefix}{name}}}}}`"),
        Layer::Pql => format!("`{{%{prefix}{name}%}}`"),
    }
}

fn where_(src: &str, offset: usize) -> String {
    let (l, c) = line_col(src, offset);
    format!("line {l}, column {c}")
}

fn build_tree(src: &str, items: Vec<Item>, errors: &mut Vec<RawError>) -> Body {
    let mut root: Body = Vec::new();
    let mut stack: Vec<OpenBlock> = Vec::new();

    fn current<'a>(root: &'a mut Body, stack: &'a mut [OpenBlock]) -> &'a mut Body {
        match stack.last_mut().and_then(|b| b.segments.last_mut()) {
            Some(seg) => &mut seg.body,
            None => root,
        }
    }

    for item in items {
        match item {
            Item::Text(t) => {
                if !t.is_empty() {
                    current(&mut root, &mut stack).push(Node::Text(t));
                }
            }
            Item::Tag {
                data,
                start,
                indent,
            } => match data {
                TagData::Comment | TagData::Invalid => {}
                TagData::Output { expr, escape } => {
                    current(&mut root, &mut stack).push(Node::Output { expr, escape })
                }
                TagData::Let { name, value } => {
                    current(&mut root, &mut stack).push(Node::Let { name, value })
                }
                TagData::Partial { name } => {
                    current(&mut root, &mut stack).push(Node::Partial { name, indent })
                }
                TagData::Fragment { id, args } => {
                    current(&mut root, &mut stack).push(Node::Fragment { id, args })
                }
                TagData::Open { kind, layer, name } => {
                    if stack.len() >= MAX_BLOCK_DEPTH {
                        errors.push(RawError::new(
                            start,
                            format!("blocks are nested deeper than {MAX_BLOCK_DEPTH}"),
                        ));
                    }
                    stack.push(OpenBlock {
                        kind,
                        layer,
                        name,
                        start,
                        segments: vec![Segment {
                            cond: None,
                            body: Vec::new(),
                        }],
                        closed_else: false,
                    });
                }
                TagData::Else { cond } => {
                    let Some(block) = stack.last_mut() else {
                        errors.push(RawError::new(start, "`else` outside of a block"));
                        continue;
                    };
                    let is_if = matches!(block.kind, OpenKind::If { .. });
                    if block.closed_else {
                        errors.push(RawError::new(
                            start,
                            format!(
                                "a second `else` in the block opened at {}",
                                where_(src, block.start)
                            ),
                        ));
                        continue;
                    }
                    if cond.is_some() && !is_if {
                        errors.push(RawError::new(
                            start,
                            "`else if` is only allowed in `#if`/`#unless` blocks",
                        ));
                        continue;
                    }
                    block.closed_else = cond.is_none();
                    block.segments.push(Segment {
                        cond,
                        body: Vec::new(),
                    });
                }
                TagData::Close { name, layer } => {
                    let matches = |b: &OpenBlock| b.name == name && b.layer == layer;
                    match stack.iter().rposition(matches) {
                        Some(pos) => {
                            // Blocks opened after the matching one were never closed.
                            while stack.len() > pos + 1 {
                                if let Some(inner) = stack.pop() {
                                    errors.push(RawError::new(
                                        start,
                                        format!(
                                            "{} closes a block, but {} opened at {} is still open: expected {}",
                                            tag_text(layer, "/", &name),
                                            tag_text(inner.layer, "#", &inner.name),
                                            where_(src, inner.start),
                                            tag_text(inner.layer, "/", &inner.name),
                                        ),
                                    ));
                                    let node = finish(inner);
                                    current(&mut root, &mut stack).push(node);
                                }
                            }
                            if let Some(block) = stack.pop() {
                                let node = finish(block);
                                current(&mut root, &mut stack).push(node);
                            }
                        }
                        None => {
                            let expected = match stack.last() {
                                Some(b) => format!(
                                    ": expected {} for the block opened at {}",
                                    tag_text(b.layer, "/", &b.name),
                                    where_(src, b.start)
                                ),
                                None => String::from(": no block is open"),
                            };
                            errors.push(RawError::new(
                                start,
                                format!("unexpected {}{expected}", tag_text(layer, "/", &name)),
                            ));
                        }
                    }
                }
            },
        }
    }
    while let Some(block) = stack.pop() {
        errors.push(RawError::new(
            block.start,
            format!(
                "unclosed {} opened at {}: expected {}",
                tag_text(block.layer, "#", &block.name),
                where_(src, block.start),
                tag_text(block.layer, "/", &block.name)
            ),
        ));
        let node = finish(block);
        current(&mut root, &mut stack).push(node);
    }
    root
}

fn finish(block: OpenBlock) -> Node {
    let mut segs = block.segments.into_iter();
    let first = segs.next().map(|s| s.body).unwrap_or_default();
    match block.kind {
        OpenKind::If { negate, cond } => {
            let mut branches = vec![Branch {
                negate,
                cond,
                body: first,
            }];
            let mut otherwise = Vec::new();
            for seg in segs {
                match seg.cond {
                    Some((negate, cond)) => branches.push(Branch {
                        negate,
                        cond,
                        body: seg.body,
                    }),
                    None => otherwise = seg.body,
                }
            }
            Node::If {
                branches,
                otherwise,
            }
        }
        OpenKind::Each { list, params } => Node::Each {
            list,
            params,
            body: first,
            otherwise: segs.next().map(|s| s.body).unwrap_or_default(),
        },
        OpenKind::With { value, params } => Node::With {
            value,
            params,
            body: first,
            otherwise: segs.next().map(|s| s.body).unwrap_or_default(),
        },
        OpenKind::Section { value, inverted } => Node::Section {
            value,
            inverted,
            body: first,
            otherwise: segs.next().map(|s| s.body).unwrap_or_default(),
        },
    }
}

/// The extra rules of a URL field (spec §6): only text, comments and output tags of
/// plain values; no helper functions, `let`, blocks, partials or fragments, and no
/// audience membership. Syntax errors are left to [`parse`].
pub(crate) fn url_field_errors(src: &str) -> Vec<RawError> {
    let (pieces, _) = lex(src);
    let mut errors = Vec::new();
    for piece in pieces {
        let Piece::Tag(tag) = piece else { continue };
        let problem = match classify(&tag) {
            Ok(TagData::Comment) | Ok(TagData::Invalid) | Err(_) => None,
            Ok(TagData::Output { expr, .. }) => {
                if let Some(name) = first_call(&expr) {
                    Some(format!(
                        "helper functions are not allowed in a URL field (`{name}`)"
                    ))
                } else if mentions(&expr, "segmentMembership") {
                    Some("audience membership is not allowed in a URL field".to_string())
                } else {
                    None
                }
            }
            Ok(TagData::Let { .. }) => Some("`let` is not allowed in a URL field".to_string()),
            Ok(_) => Some(
                "blocks (each, if, with, sections), partials and fragments are not allowed \
                 in a URL field"
                    .to_string(),
            ),
        };
        if let Some(message) = problem {
            errors.push(RawError::new(tag.start, message));
        }
    }
    errors
}

/// The name of the first function called anywhere in `e`.
fn first_call(e: &Expr) -> Option<&'static str> {
    match e {
        Expr::Call { func, .. } => Some(func.name),
        Expr::Literal(_) | Expr::Path(_) => None,
        Expr::Array(items) => items.iter().find_map(first_call),
        Expr::Unary { operand, .. } => first_call(operand),
        Expr::Binary { left, right, .. } => first_call(left).or_else(|| first_call(right)),
        Expr::Member { target, .. } => first_call(target),
    }
}

/// Whether a path in `e` has a segment called `name`.
fn mentions(e: &Expr, name: &str) -> bool {
    match e {
        Expr::Path(p) => p.segments.iter().any(|s| s == name),
        Expr::Literal(_) => false,
        Expr::Array(items) => items.iter().any(|i| mentions(i, name)),
        Expr::Call { args, .. } => args.iter().any(|a| mentions(a, name)),
        Expr::Unary { operand, .. } => mentions(operand, name),
        Expr::Binary { left, right, .. } => mentions(left, name) || mentions(right, name),
        Expr::Member { target, segments } => {
            mentions(target, name) || segments.iter().any(|s| s == name)
        }
    }
}
