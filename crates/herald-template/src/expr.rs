//! PQL expression layer: tokenizer and precedence-climbing parser (Decision 5).
//!
//! Precedence, loosest first: `?:` (right-assoc), `or`, `and`, comparisons and
//! `in`/`notIn`, `+ -`, `* / %`, unary `- not !`, postfix (`.name`, `.fn(args)`).

use crate::ast::{BinaryOp, DataVar, Expr, Path, PathBase, UnaryOp};
use crate::error::RawError;
use crate::functions;
use serde_json::{Number, Value};

/// Deepest expression nesting accepted; keeps the recursive parser off the stack limit.
const MAX_EXPR_DEPTH: usize = 128;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// A plain identifier (`quoted` = backtick form, never a keyword).
    Ident {
        name: String,
        quoted: bool,
    },
    /// `@index`, `@root` …
    At(String),
    Str(String),
    Int(i64),
    Float(f64),
    Op(&'static str),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Pipe,
    /// `../`
    ParentSlash,
    /// `./`
    DotSlash,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub tok: Tok,
    /// Absolute byte offset in the template source.
    pub offset: usize,
    /// Whether whitespace precedes the token (`a .b` is not a path).
    pub spaced: bool,
}

/// Characters that can never be part of an identifier (spec §2, plus `-`, `?`, `:`
/// which are operators here; hyphenated names need backticks).
fn is_ident_char(c: char) -> bool {
    !c.is_whitespace() && !"!\"#%&'()*+,./;<=>@[\\]^`{|}~-?:".contains(c)
}

pub(crate) fn tokenize(src: &str, base: usize) -> Result<Vec<Token>, RawError> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = src.char_indices().collect();
    let mut i = 0;
    let mut spaced = false;
    while i < chars.len() {
        let (off, c) = chars[i];
        let offset = base + off;
        if c.is_whitespace() {
            spaced = true;
            i += 1;
            continue;
        }
        let peek = |k: usize| chars.get(i + k).map(|&(_, c)| c);
        let push = |tok: Tok, n: usize, out: &mut Vec<Token>| {
            out.push(Token {
                tok,
                offset,
                spaced,
            });
            n
        };
        let adv = match c {
            '"' | '\'' => {
                let mut s = String::new();
                let mut j = i + 1;
                let mut closed = false;
                while j < chars.len() {
                    let ch = chars[j].1;
                    if ch == '\\' {
                        // Backslashes escape the next char (`\\` = one backslash, `\"` = quote).
                        match chars.get(j + 1).map(|&(_, c)| c) {
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some(other) => s.push(other),
                            None => {}
                        }
                        j += 2;
                        continue;
                    }
                    if ch == c {
                        closed = true;
                        break;
                    }
                    s.push(ch);
                    j += 1;
                }
                if !closed {
                    return Err(RawError::new(offset, "unterminated string literal"));
                }
                push(Tok::Str(s), j + 1 - i, &mut out)
            }
            '`' => {
                let mut s = String::new();
                let mut j = i + 1;
                while j < chars.len() && chars[j].1 != '`' {
                    s.push(chars[j].1);
                    j += 1;
                }
                if j >= chars.len() {
                    return Err(RawError::new(offset, "unterminated backtick-quoted name"));
                }
                push(
                    Tok::Ident {
                        name: s,
                        quoted: true,
                    },
                    j + 1 - i,
                    &mut out,
                )
            }
            '0'..='9' => {
                let mut j = i;
                while j < chars.len() && chars[j].1.is_ascii_digit() {
                    j += 1;
                }
                let mut is_float = false;
                if j + 1 < chars.len() && chars[j].1 == '.' && chars[j + 1].1.is_ascii_digit() {
                    is_float = true;
                    j += 1;
                    while j < chars.len() && chars[j].1.is_ascii_digit() {
                        j += 1;
                    }
                }
                if j < chars.len() && (chars[j].1 == 'e' || chars[j].1 == 'E') {
                    let mut k = j + 1;
                    if k < chars.len() && (chars[k].1 == '+' || chars[k].1 == '-') {
                        k += 1;
                    }
                    if k < chars.len() && chars[k].1.is_ascii_digit() {
                        is_float = true;
                        j = k;
                        while j < chars.len() && chars[j].1.is_ascii_digit() {
                            j += 1;
                        }
                    }
                }
                let end = chars.get(j).map_or(src.len(), |&(o, _)| o);
                let text = &src[off..end];
                let tok = if is_float {
                    match text.parse::<f64>() {
                        Ok(f) if f.is_finite() => Tok::Float(f),
                        _ => return Err(RawError::new(offset, format!("invalid number `{text}`"))),
                    }
                } else {
                    match text.parse::<i64>() {
                        Ok(n) => Tok::Int(n),
                        Err(_) => {
                            return Err(RawError::new(
                                offset,
                                format!("integer `{text}` is too large"),
                            ));
                        }
                    }
                };
                // `56L` is a long literal; Herald has one integer type.
                if !is_float && chars.get(j).map(|c| c.1) == Some('L') {
                    j += 1;
                }
                if chars.get(j).is_some_and(|&(_, c)| is_ident_char(c)) {
                    return Err(RawError::new(
                        offset,
                        "a name cannot start with a digit; quote it with backticks, e.g. `123`",
                    ));
                }
                push(tok, j - i, &mut out)
            }
            '@' => {
                let mut j = i + 1;
                let mut s = String::new();
                while j < chars.len() && is_ident_char(chars[j].1) {
                    s.push(chars[j].1);
                    j += 1;
                }
                if s.is_empty() {
                    return Err(RawError::new(
                        offset,
                        "expected a name after `@`, e.g. `@index`",
                    ));
                }
                push(Tok::At(s), j - i, &mut out)
            }
            '.' if peek(1) == Some('.') && peek(2) == Some('/') => {
                push(Tok::ParentSlash, 3, &mut out)
            }
            '.' if peek(1) == Some('/') => push(Tok::DotSlash, 2, &mut out),
            '.' => push(Tok::Dot, 1, &mut out),
            '(' => push(Tok::LParen, 1, &mut out),
            ')' => push(Tok::RParen, 1, &mut out),
            // Handlebars' literal segment right after a dot: `offers.image.[xcore:p:1]`
            // (spec §2, offers); elsewhere `[` starts an array literal.
            '[' if !spaced && out.last().is_some_and(|t: &Token| t.tok == Tok::Dot) => {
                let mut name = String::new();
                let mut j = i + 1;
                while j < chars.len() && chars[j].1 != ']' {
                    name.push(chars[j].1);
                    j += 1;
                }
                if j >= chars.len() {
                    return Err(RawError::new(
                        offset,
                        "unterminated `[…]` segment: expected `]`",
                    ));
                }
                push(Tok::Ident { name, quoted: true }, j + 1 - i, &mut out)
            }
            '[' => push(Tok::LBracket, 1, &mut out),
            ']' => push(Tok::RBracket, 1, &mut out),
            ',' => push(Tok::Comma, 1, &mut out),
            '|' if peek(1) == Some('|') => {
                return Err(RawError::new(offset, "`||` is not PQL; use `or`"));
            }
            '&' if peek(1) == Some('&') => {
                return Err(RawError::new(offset, "`&&` is not PQL; use `and`"));
            }
            '|' => push(Tok::Pipe, 1, &mut out),
            '=' if peek(1) == Some('=') => {
                return Err(RawError::new(offset, "`==` is not PQL; use a single `=`"));
            }
            '?' if peek(1) == Some(':') => push(Tok::Op("?:"), 2, &mut out),
            '!' if peek(1) == Some('=') => push(Tok::Op("!="), 2, &mut out),
            '<' if peek(1) == Some('=') => push(Tok::Op("<="), 2, &mut out),
            '>' if peek(1) == Some('=') => push(Tok::Op(">="), 2, &mut out),
            '<' if peek(1) == Some('>') => push(Tok::Op("!="), 2, &mut out),
            '=' => push(Tok::Op("="), 1, &mut out),
            '<' => push(Tok::Op("<"), 1, &mut out),
            '>' => push(Tok::Op(">"), 1, &mut out),
            '!' => push(Tok::Op("!"), 1, &mut out),
            '+' => push(Tok::Op("+"), 1, &mut out),
            '-' => push(Tok::Op("-"), 1, &mut out),
            '*' => push(Tok::Op("*"), 1, &mut out),
            '/' => push(Tok::Op("/"), 1, &mut out),
            '%' => push(Tok::Op("%"), 1, &mut out),
            c if is_ident_char(c) => {
                let mut j = i;
                let mut s = String::new();
                while j < chars.len() && is_ident_char(chars[j].1) {
                    s.push(chars[j].1);
                    j += 1;
                }
                push(
                    Tok::Ident {
                        name: s,
                        quoted: false,
                    },
                    j - i,
                    &mut out,
                )
            }
            other => {
                return Err(RawError::new(
                    offset,
                    format!("unexpected character `{other}`"),
                ));
            }
        };
        i += adv;
        spaced = false;
    }
    Ok(out)
}

/// Describes a token for error messages.
pub(crate) fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident { name, .. } => format!("`{name}`"),
        Tok::At(s) => format!("`@{s}`"),
        Tok::Str(s) => format!("string \"{s}\""),
        Tok::Int(n) => format!("`{n}`"),
        Tok::Float(f) => format!("`{f}`"),
        Tok::Op(o) => format!("`{o}`"),
        Tok::LParen => "`(`".into(),
        Tok::RParen => "`)`".into(),
        Tok::LBracket => "`[`".into(),
        Tok::RBracket => "`]`".into(),
        Tok::Comma => "`,`".into(),
        Tok::Dot => "`.`".into(),
        Tok::Pipe => "`|`".into(),
        Tok::ParentSlash => "`../`".into(),
        Tok::DotSlash => "`./`".into(),
    }
}

/// A cursor over tokens; the handlebars tag parser also drives it directly.
pub(crate) struct ExprParser<'t> {
    pub toks: &'t [Token],
    pub pos: usize,
    /// Offset to report for "unexpected end" errors.
    pub end_offset: usize,
    depth: usize,
}

fn is_keyword(t: &Tok, kw: &str) -> bool {
    matches!(t, Tok::Ident { name, quoted: false } if name == kw)
}

impl<'t> ExprParser<'t> {
    pub fn new(toks: &'t [Token], end_offset: usize) -> Self {
        ExprParser {
            toks,
            pos: 0,
            end_offset,
            depth: 0,
        }
    }

    pub fn peek(&self) -> Option<&'t Token> {
        self.toks.get(self.pos)
    }

    pub fn peek_at(&self, k: usize) -> Option<&'t Token> {
        self.toks.get(self.pos + k)
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.toks.len()
    }

    pub fn next_offset(&self) -> usize {
        self.peek().map_or(self.end_offset, |t| t.offset)
    }

    pub fn peek_keyword(&self, kw: &str) -> bool {
        self.peek().is_some_and(|t| is_keyword(&t.tok, kw))
    }

    fn eat(&mut self, want: &Tok) -> bool {
        if self.peek().is_some_and(|t| &t.tok == want) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub fn unexpected(&self, expected: &str) -> RawError {
        match self.peek() {
            Some(t) => RawError::new(
                t.offset,
                format!("expected {expected}, found {}", describe(&t.tok)),
            ),
            None => RawError::new(
                self.end_offset,
                format!("expected {expected}, found the end of the tag"),
            ),
        }
    }

    /// Full expression (the loosest level).
    pub fn parse_expr(&mut self) -> Result<Expr, RawError> {
        self.depth += 1;
        if self.depth > MAX_EXPR_DEPTH {
            return Err(RawError::new(
                self.next_offset(),
                "expression is nested too deeply",
            ));
        }
        let r = self.parse_default();
        self.depth -= 1;
        r
    }

    fn parse_default(&mut self) -> Result<Expr, RawError> {
        let left = self.parse_or()?;
        if let Some(t) = self.peek()
            && t.tok == Tok::Op("?:")
        {
            self.pos += 1;
            // Right-associative: `a ?: b ?: c` = `a ?: (b ?: c)`.
            let right = self.parse_expr()?;
            return Ok(bin(BinaryOp::Default, left, right, t.offset));
        }
        Ok(left)
    }

    fn parse_or(&mut self) -> Result<Expr, RawError> {
        let mut left = self.parse_and()?;
        while let Some(t) = self.peek().filter(|t| is_keyword(&t.tok, "or")) {
            self.pos += 1;
            let right = self.parse_and()?;
            left = bin(BinaryOp::Or, left, right, t.offset);
        }
        Ok(left)
    }

    fn parse_and(&mut self) -> Result<Expr, RawError> {
        let mut left = self.parse_cmp()?;
        while let Some(t) = self.peek().filter(|t| is_keyword(&t.tok, "and")) {
            self.pos += 1;
            let right = self.parse_cmp()?;
            left = bin(BinaryOp::And, left, right, t.offset);
        }
        Ok(left)
    }

    fn parse_cmp(&mut self) -> Result<Expr, RawError> {
        let mut left = self.parse_add()?;
        while let Some(t) = self.peek() {
            let op = match &t.tok {
                Tok::Op("=") => BinaryOp::Eq,
                Tok::Op("!=") => BinaryOp::Ne,
                Tok::Op("<") => BinaryOp::Lt,
                Tok::Op("<=") => BinaryOp::Le,
                Tok::Op(">") => BinaryOp::Gt,
                Tok::Op(">=") => BinaryOp::Ge,
                tok if is_keyword(tok, "in") => BinaryOp::In,
                tok if is_keyword(tok, "notIn") => BinaryOp::NotIn,
                _ => break,
            };
            self.pos += 1;
            let right = self.parse_add()?;
            left = bin(op, left, right, t.offset);
        }
        Ok(left)
    }

    fn parse_add(&mut self) -> Result<Expr, RawError> {
        let mut left = self.parse_mul()?;
        while let Some(t) = self.peek() {
            let op = match t.tok {
                Tok::Op("+") => BinaryOp::Add,
                Tok::Op("-") => BinaryOp::Sub,
                _ => break,
            };
            self.pos += 1;
            let right = self.parse_mul()?;
            left = bin(op, left, right, t.offset);
        }
        Ok(left)
    }

    fn parse_mul(&mut self) -> Result<Expr, RawError> {
        let mut left = self.parse_unary()?;
        while let Some(t) = self.peek() {
            let op = match t.tok {
                Tok::Op("*") => BinaryOp::Mul,
                Tok::Op("/") => BinaryOp::Div,
                Tok::Op("%") => BinaryOp::Rem,
                _ => break,
            };
            self.pos += 1;
            let right = self.parse_unary()?;
            left = bin(op, left, right, t.offset);
        }
        Ok(left)
    }

    fn parse_unary(&mut self) -> Result<Expr, RawError> {
        let op = match self.peek() {
            Some(t) if t.tok == Tok::Op("-") => Some(UnaryOp::Neg),
            Some(t) if t.tok == Tok::Op("!") || is_keyword(&t.tok, "not") => Some(UnaryOp::Not),
            _ => None,
        };
        let Some(op) = op else {
            return self.parse_postfix();
        };
        self.pos += 1;
        self.depth += 1;
        if self.depth > MAX_EXPR_DEPTH {
            return Err(RawError::new(
                self.next_offset(),
                "expression is nested too deeply",
            ));
        }
        let operand = self.parse_unary();
        self.depth -= 1;
        let operand = operand?;
        // Fold `-5` so negative literals stay literals.
        if op == UnaryOp::Neg
            && let Expr::Literal(Value::Number(n)) = &operand
        {
            if let Some(i) = n.as_i64().and_then(i64::checked_neg) {
                return Ok(Expr::Literal(Value::from(i)));
            }
            if let Some(f) = n.as_f64().and_then(|f| Number::from_f64(-f)) {
                return Ok(Expr::Literal(Value::Number(f)));
            }
        }
        Ok(Expr::Unary {
            op,
            operand: Box::new(operand),
        })
    }

    fn parse_postfix(&mut self) -> Result<Expr, RawError> {
        let mut expr = self.parse_primary()?;
        // `.name` continues a path or reads a member; `.fn(args)` is a method call.
        while let (Some(dot), Some(name_tok)) = (self.peek(), self.peek_at(1)) {
            if dot.tok != Tok::Dot || dot.spaced {
                break;
            }
            let Tok::Ident { name, quoted } = &name_tok.tok else {
                break;
            };
            let is_call = !quoted
                && self
                    .peek_at(2)
                    .is_some_and(|t| t.tok == Tok::LParen && !t.spaced);
            self.pos += 2;
            if is_call {
                let func = lookup_fn(name, name_tok.offset)?;
                self.pos += 1; // `(`
                let mut args = vec![expr];
                args.extend(self.parse_args()?);
                check_arity(func, args.len(), name_tok.offset)?;
                expr = Expr::Call {
                    func,
                    args,
                    offset: name_tok.offset,
                };
            } else {
                expr = match expr {
                    Expr::Path(mut p) => {
                        p.segments.push(name.clone());
                        Expr::Path(p)
                    }
                    Expr::Member {
                        target,
                        mut segments,
                    } => {
                        segments.push(name.clone());
                        Expr::Member { target, segments }
                    }
                    other => Expr::Member {
                        target: Box::new(other),
                        segments: vec![name.clone()],
                    },
                };
            }
        }
        Ok(expr)
    }

    /// Arguments after `(`, through the closing `)`.
    fn parse_args(&mut self) -> Result<Vec<Expr>, RawError> {
        let mut args = Vec::new();
        if self.eat(&Tok::RParen) {
            return Ok(args);
        }
        loop {
            args.push(self.parse_expr()?);
            if self.eat(&Tok::Comma) {
                continue;
            }
            if self.eat(&Tok::RParen) {
                return Ok(args);
            }
            return Err(self.unexpected("`,` or `)`"));
        }
    }

    fn parse_primary(&mut self) -> Result<Expr, RawError> {
        let Some(t) = self.peek() else {
            return Err(self.unexpected("an expression"));
        };
        self.pos += 1;
        match &t.tok {
            Tok::Str(s) => Ok(Expr::Literal(Value::String(s.clone()))),
            Tok::Int(n) => Ok(Expr::Literal(Value::from(*n))),
            Tok::Float(f) => Ok(Expr::Literal(
                Number::from_f64(*f).map_or(Value::Null, Value::Number),
            )),
            Tok::LParen => {
                let e = self.parse_expr()?;
                if !self.eat(&Tok::RParen) {
                    return Err(self.unexpected("`)`"));
                }
                Ok(e)
            }
            Tok::LBracket => {
                let mut items = Vec::new();
                if self.eat(&Tok::RBracket) {
                    return Ok(Expr::Array(items));
                }
                loop {
                    items.push(self.parse_expr()?);
                    if self.eat(&Tok::Comma) {
                        continue;
                    }
                    if self.eat(&Tok::RBracket) {
                        return Ok(Expr::Array(items));
                    }
                    return Err(self.unexpected("`,` or `]`"));
                }
            }
            Tok::At(name) => {
                let base = match name.as_str() {
                    "index" => PathBase::Data(DataVar::Index),
                    "first" => PathBase::Data(DataVar::First),
                    "last" => PathBase::Data(DataVar::Last),
                    "key" => PathBase::Data(DataVar::Key),
                    "root" => PathBase::Root,
                    other => {
                        return Err(RawError::new(
                            t.offset,
                            format!(
                                "unknown data variable `@{other}`; expected @index, @first, @last, @key or @root"
                            ),
                        ));
                    }
                };
                Ok(Expr::Path(Path {
                    base,
                    segments: Vec::new(),
                }))
            }
            Tok::Dot => Ok(Expr::Path(Path {
                base: PathBase::Parent(0),
                segments: Vec::new(),
            })),
            Tok::DotSlash => {
                let segments = self.slash_segments()?;
                Ok(Expr::Path(Path {
                    base: PathBase::Parent(0),
                    segments,
                }))
            }
            Tok::ParentSlash => {
                let mut n = 1;
                while self.eat(&Tok::ParentSlash) {
                    n += 1;
                }
                let segments = if self.eat(&Tok::Dot) {
                    Vec::new()
                } else {
                    self.slash_segments()?
                };
                Ok(Expr::Path(Path {
                    base: PathBase::Parent(n),
                    segments,
                }))
            }
            Tok::Ident { name, quoted } => {
                if !quoted {
                    match name.as_str() {
                        "true" => return Ok(Expr::Literal(Value::Bool(true))),
                        "false" => return Ok(Expr::Literal(Value::Bool(false))),
                        "null" | "undefined" => return Ok(Expr::Literal(Value::Null)),
                        "this" => {
                            return Ok(Expr::Path(Path {
                                base: PathBase::Parent(0),
                                segments: Vec::new(),
                            }));
                        }
                        // Spec §2: the reference rejects `xEvent` in message content.
                        "xEvent" => {
                            return Err(RawError::new(
                                t.offset,
                                "`xEvent` is not available in message content; read event fields \
                                 as `context.journey.events.<eventId>.…`",
                            ));
                        }
                        _ => {}
                    }
                    if self
                        .peek()
                        .is_some_and(|n| n.tok == Tok::LParen && !n.spaced)
                    {
                        let func = lookup_fn(name, t.offset)?;
                        self.pos += 1;
                        let args = self.parse_args()?;
                        check_arity(func, args.len(), t.offset)?;
                        return Ok(Expr::Call {
                            func,
                            args,
                            offset: t.offset,
                        });
                    }
                }
                Ok(Expr::Path(Path {
                    base: PathBase::Auto,
                    segments: vec![name.clone()],
                }))
            }
            other => {
                self.pos -= 1;
                Err(RawError::new(
                    t.offset,
                    format!("expected an expression, found {}", describe(other)),
                ))
            }
        }
    }

    /// The first segment after `./` or `../` (later ones come through postfix `.name`).
    fn slash_segments(&mut self) -> Result<Vec<String>, RawError> {
        match self.peek() {
            Some(Token {
                tok: Tok::Ident { name, .. },
                ..
            }) => {
                self.pos += 1;
                Ok(vec![name.clone()])
            }
            _ => Err(self.unexpected("a name")),
        }
    }
}

fn bin(op: BinaryOp, left: Expr, right: Expr, offset: usize) -> Expr {
    Expr::Binary {
        op,
        left: Box::new(left),
        right: Box::new(right),
        offset,
    }
}

fn lookup_fn(name: &str, offset: usize) -> Result<&'static functions::FnDef, RawError> {
    functions::lookup(name).ok_or_else(|| {
        let hint = functions::suggest(name)
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        RawError::new(offset, format!("unknown function `{name}`{hint}"))
    })
}

fn check_arity(f: &functions::FnDef, n: usize, offset: usize) -> Result<(), RawError> {
    if n < f.min_args || n > f.max_args {
        let want = if f.min_args == f.max_args {
            format!("{}", f.min_args)
        } else if f.max_args == usize::MAX {
            format!("at least {}", f.min_args)
        } else {
            format!("{} to {}", f.min_args, f.max_args)
        };
        return Err(RawError::new(
            offset,
            format!("`{}` takes {want} argument(s), got {n}", f.name),
        ));
    }
    Ok(())
}

/// Parses a whole string as one expression (used for `{%= %}`, `{%#if %}`, tests).
pub(crate) fn parse_expression(src: &str, base: usize) -> Result<Expr, RawError> {
    let toks = tokenize(src, base)?;
    let mut p = ExprParser::new(&toks, base + src.len());
    let e = p.parse_expr()?;
    if !p.at_end() {
        return Err(p.unexpected("an operator or the end of the expression"));
    }
    Ok(e)
}

impl ExprParser<'_> {
    /// One operand (no binary operators): fragment arguments are space-separated.
    pub fn parse_unary_public(&mut self) -> Result<Expr, RawError> {
        self.parse_unary()
    }
}
