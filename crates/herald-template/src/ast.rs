//! The compiled form of a template. Immutable after compile; shared through `Arc`.

use crate::functions::FnDef;
use serde_json::Value;

/// A sequence of nodes (a template body or a block branch).
pub(crate) type Body = Vec<Node>;

/// A compiled partial or fragment, with its own source so render errors inside it are
/// positioned in that source.
#[derive(Debug)]
pub(crate) struct Named {
    pub body: Body,
    pub source: String,
    /// How errors name it: "partial `x`" / "fragment `ajo:…`".
    pub label: String,
}

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Text(String),
    /// `{{x}}` / `{%= x %}` (escape = true) or `{{{x}}}` / `{{& x}}` (escape = false).
    /// Escaping only happens in `OutputMode::Html`.
    Output {
        expr: Expr,
        escape: bool,
    },
    /// `{{#if}}`/`{{#unless}}`/`{%#if%}`/`{%#unless%}` with their `else if` chain.
    If {
        branches: Vec<Branch>,
        otherwise: Body,
    },
    Each {
        list: Expr,
        params: BlockParams,
        body: Body,
        otherwise: Body,
    },
    With {
        value: Expr,
        params: BlockParams,
        body: Body,
        otherwise: Body,
    },
    /// Mustache-style `{{#path}}` (Handlebars' blockHelperMissing) or `{{^path}}`.
    Section {
        value: Expr,
        inverted: bool,
        body: Body,
        otherwise: Body,
    },
    /// `{% let name = value %}`: sets a message-global variable.
    Let {
        name: String,
        value: Expr,
    },
    /// `{{> name}}`; `indent` is the whitespace before a standalone partial tag.
    Partial {
        name: String,
        indent: String,
    },
    /// `{{fragment id='…' …}}`: parsed, not yet rendered.
    Fragment {
        id: String,
        args: Vec<(String, Expr)>,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Branch {
    /// true for `unless`: the body renders when the condition is falsy.
    pub negate: bool,
    pub cond: Expr,
    pub body: Body,
}

/// `as |item index|` names for `each`/`with`.
#[derive(Debug, Clone, Default)]
pub(crate) struct BlockParams {
    pub item: Option<String>,
    pub index: Option<String>,
}

/// Where a path starts looking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PathBase {
    /// Bare name: block params, then `let` variables, then the context stack
    /// innermost-first (Mustache/Handlebars-compat resolution, ending at the root).
    Auto,
    /// `this`, `.`, `./`: the current context only. `Parent(n)` is `../` n times.
    Parent(usize),
    /// `@root`.
    Root,
    /// `@index`, `@first`, `@last`, `@key`.
    Data(DataVar),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DataVar {
    Index,
    First,
    Last,
    Key,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Path {
    pub base: PathBase,
    pub segments: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnaryOp {
    Neg,
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinaryOp {
    Mul,
    Div,
    Rem,
    Add,
    Sub,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
    And,
    Or,
    /// `a ?: b`
    Default,
}

#[derive(Debug, Clone)]
pub(crate) enum Expr {
    Literal(Value),
    Array(Vec<Expr>),
    Path(Path),
    Unary {
        op: UnaryOp,
        operand: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
        offset: usize,
    },
    /// A function call; `a.f(b)` is stored as `f(a, b)`.
    Call {
        func: &'static FnDef,
        args: Vec<Expr>,
        offset: usize,
    },
    /// Property access on a computed value: `head(x).name`.
    Member {
        target: Box<Expr>,
        segments: Vec<String>,
    },
}
