//! Tree-walking renderer over `serde_json::Value`.

use crate::ast::{
    BinaryOp, BlockParams, Body, DataVar, Expr, Named, Node, Path, PathBase, UnaryOp,
};
use crate::error::{RenderError, line_col};
use crate::escape::{escape_html_into, sanitize_header};
use crate::value::{Arith, arith, compare, equals, to_text, truthy, write_text};
use crate::{Limits, OutputMode};
use serde_json::Value;
use std::borrow::Cow;
use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::HashMap;

/// One context frame. Frames live on the Rust stack and link to their parent, so a
/// loop over a computed list can borrow from a local without cloning items.
pub(crate) struct Scope<'a> {
    value: &'a Value,
    parent: Option<&'a Scope<'a>>,
    item_name: Option<&'a str>,
    index_name: Option<&'a str>,
    /// Loop position (index, length) and the key when iterating an object.
    index: Option<(usize, usize)>,
    key: Option<&'a str>,
}

impl<'a> Scope<'a> {
    pub fn root(value: &'a Value) -> Self {
        Scope {
            value,
            parent: None,
            item_name: None,
            index_name: None,
            index: None,
            key: None,
        }
    }

    fn child(&'a self, value: &'a Value) -> Scope<'a> {
        Scope {
            value,
            parent: Some(self),
            item_name: None,
            index_name: None,
            index: None,
            key: None,
        }
    }
}

pub(crate) struct Renderer<'t> {
    pub mode: OutputMode,
    pub limits: &'t Limits,
    pub out: String,
    pub iterations: usize,
    pub depth: usize,
    /// `let` variables with their size (reading one copies it, which counts as work).
    pub vars: HashMap<String, (Value, usize)>,
    /// Bytes of computed values copied so far (see [`WORK_FACTOR`]). A `Cell` because
    /// lookups, which only borrow the renderer, copy variables too.
    pub work: Cell<usize>,
    pub partials: &'t HashMap<String, Named>,
    pub fragments: &'t HashMap<String, Named>,
    /// `{{fragment}}` tags rendered so far, and how many enclose the current node.
    pub fragments_rendered: usize,
    pub fragment_depth: usize,
    /// The source being rendered (the template's, or the current partial's or
    /// fragment's), for error positions; `origin` names the partial or fragment.
    pub source: &'t str,
    pub origin: Option<&'t str>,
    pub root: &'t Value,
    pub ctx: crate::functions::Ctx,
    /// `missingValues: fail`: a missing/null value read by an output tag is an error.
    pub fail_missing: bool,
}

impl<'t> Renderer<'t> {
    pub fn finish(self) -> String {
        match self.mode {
            OutputMode::Header => sanitize_header(&self.out),
            _ => self.out,
        }
    }

    fn check_output(&self) -> Result<(), RenderError> {
        if self.out.len() > self.limits.max_output_bytes {
            return Err(RenderError::OutputTooLarge {
                limit: self.limits.max_output_bytes,
            });
        }
        Ok(())
    }

    fn enter(&mut self) -> Result<(), RenderError> {
        self.depth += 1;
        if self.depth > self.limits.max_depth {
            return Err(RenderError::TooDeep {
                limit: self.limits.max_depth,
            });
        }
        Ok(())
    }

    fn tick(&mut self) -> Result<(), RenderError> {
        self.iterations += 1;
        if self.iterations > self.limits.max_loop_iterations {
            return Err(RenderError::TooManyIterations {
                limit: self.limits.max_loop_iterations,
            });
        }
        self.charge(0)
    }

    /// Adds `bytes` of copying to the work budget.
    fn charge(&self, bytes: usize) -> Result<(), RenderError> {
        let work = self.work.get().saturating_add(bytes);
        self.work.set(work);
        let budget = self.limits.max_output_bytes.saturating_mul(WORK_FACTOR);
        if work > budget {
            return Err(RenderError::TooMuchWork { limit: budget });
        }
        Ok(())
    }

    /// A value the template computed: at most `max_output_bytes` big and `max_depth`
    /// deep (so doubling a variable in a loop stops early, and dropping or printing a
    /// value never recurses too deep). Returns its size, already charged as work.
    fn check_value(&self, v: &Value) -> Result<usize, RenderError> {
        let cap = self.limits.max_output_bytes;
        let size = value_size(v, cap, self.limits.max_depth)
            .ok_or(RenderError::ValueTooLarge { limit: cap })?;
        self.charge(size)?;
        Ok(size)
    }

    fn eval_error(&self, offset: usize, message: String) -> RenderError {
        let (line, column) = line_col(self.source, offset);
        let message = match self.origin {
            Some(origin) => format!("in {origin}: {message}"),
            None => message,
        };
        RenderError::Eval {
            line,
            column,
            message,
        }
    }

    /// Renders a partial's or fragment's body with error positions in its own source.
    fn render_named(&mut self, named: &'t Named, scope: &Scope<'_>) -> Result<(), RenderError> {
        let outer = (self.source, self.origin);
        self.source = &named.source;
        self.origin = Some(&named.label);
        let result = self.render_body(&named.body, scope);
        (self.source, self.origin) = outer;
        result
    }

    fn write_value(&mut self, v: &Value, escape: bool) {
        if escape {
            match v {
                Value::String(s) => escape_html_into(s, &mut self.out),
                other => escape_html_into(&to_text(other), &mut self.out),
            }
        } else {
            write_text(v, &mut self.out);
        }
    }

    /// [`Self::lookup`] for the plain case, without building a `Cow`: a bare path that
    /// is not a block parameter or `let` variable and walks only objects (and numeric
    /// indexes). `Some(None)` is missing; `None` means "not plain, use `lookup`".
    #[inline]
    fn lookup_ref<'s>(&self, p: &Path, scope: &'s Scope<'s>) -> Option<Option<&'s Value>> {
        if p.base != PathBase::Auto {
            return None;
        }
        let (first, rest) = p.segments.split_first()?;
        if !self.vars.is_empty() && self.vars.contains_key(first) {
            return None;
        }
        // Same order as `lookup`: block params of every frame win over the data.
        let mut s = Some(scope);
        while let Some(sc) = s {
            if sc.item_name == Some(first.as_str()) || sc.index_name == Some(first.as_str()) {
                return None;
            }
            s = sc.parent;
        }
        let mut s = Some(scope);
        while let Some(sc) = s {
            if let Value::Object(m) = sc.value
                && let Some(v) = field(m, first)
            {
                return descend_ref(v, rest);
            }
            s = sc.parent;
        }
        Some(None)
    }

    pub fn render_body(&mut self, body: &'t Body, scope: &Scope<'_>) -> Result<(), RenderError> {
        for node in body {
            self.render_node(node, scope)?;
        }
        Ok(())
    }

    fn render_node(&mut self, node: &'t Node, scope: &Scope<'_>) -> Result<(), RenderError> {
        match node {
            Node::Text(t) => {
                self.out.push_str(t);
                self.check_output()
            }
            Node::Output { expr, escape } => {
                let escape = *escape && self.mode == OutputMode::Html;
                // The common `{{path}}` that resolves to a value in the data: borrowed,
                // no copy, and none of the general evaluator's large frames.
                if let Expr::Path(p) = expr
                    && !self.fail_missing
                {
                    match self.lookup_ref(p, scope) {
                        Some(Some(v)) => self.write_value(v, escape),
                        Some(None) => {}
                        None => {
                            if let Some(v) = self.lookup(p, scope) {
                                self.write_value(&v, escape);
                            }
                        }
                    }
                    return self.check_output();
                }
                let v = self.eval_strict(expr, scope, self.fail_missing)?;
                self.write_value(&v, escape);
                self.check_output()
            }
            Node::Let { name, value } => {
                let v = self.eval(value, scope)?.into_owned();
                let size = self.check_value(&v)?;
                self.vars.insert(name.clone(), (v, size));
                Ok(())
            }
            Node::If {
                branches,
                otherwise,
            } => {
                self.enter()?;
                let mut chosen = otherwise;
                for b in branches {
                    if truthy(&*self.eval(&b.cond, scope)?) != b.negate {
                        chosen = &b.body;
                        break;
                    }
                }
                self.render_body(chosen, scope)?;
                self.depth -= 1;
                Ok(())
            }
            Node::Each {
                list,
                params,
                body,
                otherwise,
            } => {
                self.enter()?;
                let v = self.eval(list, scope)?;
                let ran = self.iterate(&v, params, body, scope)?;
                if !ran {
                    self.render_body(otherwise, scope)?;
                }
                self.depth -= 1;
                Ok(())
            }
            Node::With {
                value,
                params,
                body,
                otherwise,
            } => {
                self.enter()?;
                let v = self.eval(value, scope)?;
                if truthy(&v) {
                    let mut child = scope.child(&v);
                    child.item_name = params.item.as_deref();
                    self.render_body(body, &child)?;
                } else {
                    self.render_body(otherwise, scope)?;
                }
                self.depth -= 1;
                Ok(())
            }
            Node::Section {
                value,
                inverted,
                body,
                otherwise,
            } => {
                self.enter()?;
                let v = self.eval(value, scope)?;
                if *inverted {
                    let chosen = if truthy(&v) { otherwise } else { body };
                    self.render_body(chosen, scope)?;
                } else {
                    // Handlebars' blockHelperMissing: lists iterate, `true` keeps the
                    // context, other truthy values become the context.
                    match &*v {
                        Value::Array(_) => {
                            if !self.iterate(&v, &BlockParams::default(), body, scope)? {
                                self.render_body(otherwise, scope)?;
                            }
                        }
                        Value::Bool(true) => self.render_body(body, scope)?,
                        other if truthy(other) => self.render_body(body, &scope.child(other))?,
                        _ => self.render_body(otherwise, scope)?,
                    }
                }
                self.depth -= 1;
                Ok(())
            }
            Node::Partial { name, indent } => {
                let partials = self.partials;
                let Some(partial) = partials.get(name) else {
                    return Err(RenderError::UnknownPartial { name: name.clone() });
                };
                self.enter()?;
                let outer = std::mem::take(&mut self.out);
                let result = self.render_named(partial, scope);
                let inner = std::mem::replace(&mut self.out, outer);
                result?;
                if indent.is_empty() {
                    self.out.push_str(&inner);
                } else {
                    // Handlebars indents every rendered line of a standalone partial.
                    let mut rest = inner.as_str();
                    while !rest.is_empty() {
                        let end = rest.find('\n').map_or(rest.len(), |i| i + 1);
                        self.out.push_str(indent);
                        self.out.push_str(&rest[..end]);
                        rest = &rest[end..];
                    }
                }
                self.depth -= 1;
                self.check_output()
            }
            Node::Fragment { id, args } => self.render_fragment(id, args, scope),
        }
    }

    /// `{{fragment id='…' [mode='inline'] [render=false] [name=value …]}}` (spec §4):
    /// the fragment sees and sets the message-global `let` variables; the other
    /// arguments are evaluated here and set as variables before it runs (field
    /// overrides); it renders against the root data, since loop variables cannot be
    /// passed to a fragment; `render=false` keeps only its variables.
    fn render_fragment(
        &mut self,
        id: &str,
        args: &'t [(String, Expr)],
        scope: &Scope<'_>,
    ) -> Result<(), RenderError> {
        let fragments = self.fragments;
        let Some(fragment) = fragments.get(id) else {
            return Err(RenderError::UnknownFragment { id: id.to_string() });
        };
        self.fragments_rendered += 1;
        if self.fragments_rendered > MAX_FRAGMENTS {
            return Err(RenderError::TooManyFragments {
                limit: MAX_FRAGMENTS,
            });
        }
        if self.fragment_depth > MAX_FRAGMENT_NESTING {
            return Err(RenderError::FragmentTooDeep {
                limit: MAX_FRAGMENT_NESTING,
            });
        }
        let mut show = true;
        for (name, expr) in args {
            let v = self.eval(expr, scope)?.into_owned();
            match name.as_str() {
                "mode" => {}
                "render" => show = truthy(&v) && v != Value::String("false".into()),
                _ => {
                    let size = self.check_value(&v)?;
                    self.vars.insert(name.clone(), (v, size));
                }
            }
        }
        self.enter()?;
        self.fragment_depth += 1;
        let root = Scope::root(self.root);
        let result = if show {
            self.render_named(fragment, &root)
        } else {
            // Run it for its variables only; its output is dropped.
            let outer = std::mem::take(&mut self.out);
            let r = self.render_named(fragment, &root);
            self.out = outer;
            r
        };
        self.fragment_depth -= 1;
        self.depth -= 1;
        result
    }

    /// Runs `body` once per element (arrays) or value (objects); false if nothing ran.
    fn iterate(
        &mut self,
        v: &Value,
        params: &BlockParams,
        body: &'t Body,
        scope: &Scope<'_>,
    ) -> Result<bool, RenderError> {
        match v {
            Value::Array(items) if !items.is_empty() => {
                let len = items.len();
                for (i, item) in items.iter().enumerate() {
                    self.tick()?;
                    let mut child = scope.child(item);
                    child.item_name = params.item.as_deref();
                    child.index_name = params.index.as_deref();
                    child.index = Some((i, len));
                    self.render_body(body, &child)?;
                }
                Ok(true)
            }
            Value::Object(map) if !map.is_empty() => {
                let len = map.len();
                for (i, (k, item)) in map.iter().enumerate() {
                    self.tick()?;
                    let mut child = scope.child(item);
                    child.item_name = params.item.as_deref();
                    child.index_name = params.index.as_deref();
                    child.index = Some((i, len));
                    child.key = Some(k);
                    self.render_body(body, &child)?;
                }
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    pub fn eval<'s>(&self, e: &Expr, scope: &'s Scope<'s>) -> Result<Cow<'s, Value>, RenderError> {
        self.eval_strict(e, scope, false)
    }

    /// With `strict`, a path that is missing or null is [`RenderError::MissingValue`]
    /// (`missingValues: fail`). Strictness flows into operands that need a value
    /// (arithmetic, concatenation, function arguments) but not into the left of `?:`,
    /// comparisons, logic, or functions that handle nulls themselves (`isNull`…).
    fn eval_strict<'s>(
        &self,
        e: &Expr,
        scope: &'s Scope<'s>,
        strict: bool,
    ) -> Result<Cow<'s, Value>, RenderError> {
        // Paths are most of what templates evaluate; keeping them out of the big match
        // keeps this frame small (the match's frame is several hundred bytes).
        if let Expr::Path(p) = e {
            let v = self.lookup(p, scope).unwrap_or(Cow::Owned(Value::Null));
            if strict && v.is_null() {
                return Err(RenderError::MissingValue { path: path_text(p) });
            }
            return Ok(v);
        }
        self.eval_compound(e, scope, strict)
    }

    #[inline(never)]
    fn eval_compound<'s>(
        &self,
        e: &Expr,
        scope: &'s Scope<'s>,
        strict: bool,
    ) -> Result<Cow<'s, Value>, RenderError> {
        Ok(match e {
            Expr::Literal(v) => Cow::Owned(v.clone()),
            Expr::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for it in items {
                    out.push(self.eval(it, scope)?.into_owned());
                }
                let v = Value::Array(out);
                self.check_value(&v)?;
                Cow::Owned(v)
            }
            Expr::Path(p) => {
                let v = self.lookup(p, scope).unwrap_or(Cow::Owned(Value::Null));
                if strict && v.is_null() {
                    return Err(RenderError::MissingValue { path: path_text(p) });
                }
                v
            }
            Expr::Member { target, segments } => {
                let t = self.eval_strict(target, scope, strict)?;
                let v = descend(&t, segments).map_or(Value::Null, Cow::into_owned);
                if strict && v.is_null() {
                    return Err(RenderError::MissingValue {
                        path: format!("(…).{}", segments.join(".")),
                    });
                }
                Cow::Owned(v)
            }
            Expr::Unary { op, operand } => {
                let v = self.eval_strict(operand, scope, strict && *op == UnaryOp::Neg)?;
                Cow::Owned(match op {
                    UnaryOp::Not => Value::Bool(!truthy(&v)),
                    UnaryOp::Neg => arith(Arith::Sub, &Value::from(0), &v).unwrap_or(Value::Null),
                })
            }
            Expr::Binary {
                op,
                left,
                right,
                offset,
            } => Cow::Owned(self.binary(*op, left, right, *offset, scope, strict)?),
            Expr::Call { func, args, offset } => {
                let strict = strict && !func.null_ok;
                let mut vals = Vec::with_capacity(args.len());
                for (i, a) in args.iter().enumerate() {
                    if func.per_item && i == 1 {
                        vals.push(self.per_item(a, vals.first(), scope)?);
                    } else {
                        vals.push(self.eval_strict(a, scope, strict)?.into_owned());
                    }
                }
                // Arguments were copied out of the data or variables: that is work.
                for v in &vals {
                    self.charge(value_size(v, usize::MAX, usize::MAX).unwrap_or(usize::MAX))?;
                }
                let v = func
                    .invoke(&self.ctx, &vals)
                    .map_err(|m| self.eval_error(*offset, format!("{}: {m}", func.name)))?;
                self.check_value(&v)?;
                Cow::Owned(v)
            }
        })
    }

    /// The field of `topN(list, field, n)` evaluated on each item: a bare path reads
    /// from the item only (a string literal names such a path); anything else is
    /// evaluated with the item as the innermost context.
    fn per_item(
        &self,
        field: &Expr,
        list: Option<&Value>,
        scope: &Scope<'_>,
    ) -> Result<Value, RenderError> {
        let Some(Value::Array(items)) = list else {
            return Ok(Value::Array(Vec::new()));
        };
        let mut keys = Vec::with_capacity(items.len());
        for item in items {
            let key = match field {
                Expr::Path(Path {
                    base: PathBase::Auto,
                    segments,
                }) => descend(item, segments).map_or(Value::Null, Cow::into_owned),
                Expr::Literal(Value::String(s)) => {
                    let segs: Vec<String> = s.split('.').map(str::to_string).collect();
                    descend(item, &segs).map_or(Value::Null, Cow::into_owned)
                }
                other => self.eval(other, &scope.child(item))?.into_owned(),
            };
            keys.push(key);
        }
        Ok(Value::Array(keys))
    }

    fn binary(
        &self,
        op: BinaryOp,
        l: &Expr,
        r: &Expr,
        offset: usize,
        scope: &Scope<'_>,
        strict: bool,
    ) -> Result<Value, RenderError> {
        // Only arithmetic and concatenation need values; `?:`, comparisons and logic
        // are null-tolerant by design.
        let needs = strict
            && matches!(
                op,
                BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem
            );
        let lv = self.eval_strict(l, scope, needs)?;
        // Short-circuit forms first.
        match op {
            BinaryOp::And => return Ok(Value::Bool(truthy(&lv) && truthy(&*self.eval(r, scope)?))),
            BinaryOp::Or => return Ok(Value::Bool(truthy(&lv) || truthy(&*self.eval(r, scope)?))),
            BinaryOp::Default => {
                let empty =
                    matches!(&*lv, Value::Null) || matches!(&*lv, Value::String(s) if s.is_empty());
                return Ok(if empty {
                    self.eval_strict(r, scope, strict)?.into_owned()
                } else {
                    lv.into_owned()
                });
            }
            _ => {}
        }
        let rv = self.eval_strict(r, scope, needs)?;
        let (a, b) = (&*lv, &*rv);
        let cmp = |want: &[Ordering]| Value::Bool(compare(a, b).is_some_and(|o| want.contains(&o)));
        let arithmetic = |k: Arith| arith(k, a, b).map_err(|m| self.eval_error(offset, m));
        Ok(match op {
            BinaryOp::Eq => Value::Bool(equals(a, b)),
            BinaryOp::Ne => Value::Bool(!equals(a, b)),
            BinaryOp::Lt => cmp(&[Ordering::Less]),
            BinaryOp::Le => cmp(&[Ordering::Less, Ordering::Equal]),
            BinaryOp::Gt => cmp(&[Ordering::Greater]),
            BinaryOp::Ge => cmp(&[Ordering::Greater, Ordering::Equal]),
            BinaryOp::In => {
                Value::Bool(matches!(b, Value::Array(xs) if xs.iter().any(|x| equals(x, a))))
            }
            BinaryOp::NotIn => Value::Bool(
                !a.is_null() && matches!(b, Value::Array(xs) if !xs.iter().any(|x| equals(x, a))),
            ),
            // `+` concatenates when either side is a string (null joins as "").
            BinaryOp::Add if a.is_string() || b.is_string() => {
                let v = Value::String(to_text(a) + &to_text(b));
                self.check_value(&v)?;
                v
            }
            BinaryOp::Add => arithmetic(Arith::Add)?,
            BinaryOp::Sub => arithmetic(Arith::Sub)?,
            BinaryOp::Mul => arithmetic(Arith::Mul)?,
            BinaryOp::Div => arithmetic(Arith::Div)?,
            BinaryOp::Rem => arithmetic(Arith::Rem)?,
            BinaryOp::And | BinaryOp::Or | BinaryOp::Default => Value::Null,
        })
    }

    fn lookup<'s>(&self, p: &Path, scope: &'s Scope<'s>) -> Option<Cow<'s, Value>> {
        match &p.base {
            PathBase::Root => descend(self.root, &p.segments).map(|c| Cow::Owned(c.into_owned())),
            PathBase::Parent(n) => {
                let mut s = scope;
                for _ in 0..*n {
                    s = s.parent?;
                }
                descend(s.value, &p.segments)
            }
            PathBase::Data(d) => {
                let mut s = Some(scope);
                while let Some(sc) = s {
                    if let Some((i, len)) = sc.index {
                        let v = match d {
                            DataVar::Index => Value::from(i),
                            DataVar::First => Value::Bool(i == 0),
                            DataVar::Last => Value::Bool(i + 1 == len),
                            DataVar::Key => {
                                sc.key.map_or(Value::Null, |k| Value::String(k.to_string()))
                            }
                        };
                        return descend_cow(Cow::Owned(v), &p.segments);
                    }
                    s = sc.parent;
                }
                None
            }
            PathBase::Auto => {
                let (first, rest) = p.segments.split_first()?;
                // 1. block params (`as |item index|`), innermost first.
                let mut s = Some(scope);
                while let Some(sc) = s {
                    if sc.item_name == Some(first.as_str()) {
                        return descend(sc.value, rest);
                    }
                    if sc.index_name == Some(first.as_str()) {
                        let idx = match (sc.key, sc.index) {
                            (Some(k), _) => Value::String(k.to_string()),
                            (None, Some((i, _))) => Value::from(i),
                            (None, None) => Value::Null,
                        };
                        return descend_cow(Cow::Owned(idx), rest);
                    }
                    s = sc.parent;
                }
                // 2. `let` variables (message-global).
                if let Some((v, size)) = self.vars.get(first) {
                    self.work.set(self.work.get().saturating_add(*size));
                    return descend_cow(Cow::Owned(v.clone()), rest);
                }
                // 3. the context stack, innermost first, ending at the root. Only the
                //    first segment searches; the rest descends from where it was found.
                let mut s = Some(scope);
                while let Some(sc) = s {
                    if let Value::Object(m) = sc.value
                        && let Some(v) = field(m, first)
                    {
                        return descend(v, rest);
                    }
                    s = sc.parent;
                }
                None
            }
        }
    }
}

/// Spec §4: at most 30 fragments per delivery, and one level of nesting (a fragment
/// may use a fragment, which may not use another).
const MAX_FRAGMENTS: usize = 30;
const MAX_FRAGMENT_NESTING: usize = 1;

/// The work budget is this many times `max_output_bytes` (256 MiB by default): far
/// above what real templates copy (a variable passed to a function is counted when
/// read and again as an argument), and a fraction of a second of copying at most.
const WORK_FACTOR: usize = 256;

/// Approximate bytes of `v` (strings by length, other nodes 8), or `None` once it is
/// over `cap` or nested deeper than `max_depth`. Iterative, so a deep value cannot
/// overflow the stack here.
fn value_size(v: &Value, cap: usize, max_depth: usize) -> Option<usize> {
    let mut size = 0usize;
    let mut stack = vec![(v, 0usize)];
    while let Some((v, depth)) = stack.pop() {
        if depth > max_depth {
            return None;
        }
        size = size.saturating_add(8);
        match v {
            Value::String(s) => size = size.saturating_add(s.len()),
            Value::Array(items) => stack.extend(items.iter().map(|i| (i, depth + 1))),
            Value::Object(m) => {
                for (k, item) in m {
                    size = size.saturating_add(k.len());
                    stack.push((item, depth + 1));
                }
            }
            _ => {}
        }
        if size > cap {
            return None;
        }
    }
    Some(size)
}

/// A path as written: `profile.name`, `this.x`, `../x`, `@root.x`, `@index`.
fn path_text(p: &Path) -> String {
    let segs = p.segments.join(".");
    match &p.base {
        PathBase::Auto => segs,
        PathBase::Root => format!("@root.{segs}"),
        PathBase::Parent(0) if segs.is_empty() => "this".into(),
        PathBase::Parent(0) => format!("this.{segs}"),
        PathBase::Parent(n) => format!("{}{segs}", "../".repeat(*n)),
        PathBase::Data(d) => {
            let name = match d {
                DataVar::Index => "@index",
                DataVar::First => "@first",
                DataVar::Last => "@last",
                DataVar::Key => "@key",
            };
            if segs.is_empty() {
                name.into()
            } else {
                format!("{name}.{segs}")
            }
        }
    }
}

fn descend_cow<'s>(v: Cow<'s, Value>, segs: &[String]) -> Option<Cow<'s, Value>> {
    match v {
        Cow::Borrowed(b) => descend(b, segs),
        Cow::Owned(o) => descend(&o, segs).map(|c| Cow::Owned(c.into_owned())),
    }
}

/// A member of an object. Profile and context objects are small, and for a few dozen
/// entries comparing keys in order beats hashing the name with SipHash.
#[inline]
fn field<'v>(m: &'v serde_json::Map<String, Value>, key: &str) -> Option<&'v Value> {
    if m.len() <= 32 {
        // Length and first byte first: most keys differ there, without a memcmp call.
        let kb = key.as_bytes();
        m.iter()
            .find(|(k, _)| {
                let b = k.as_bytes();
                b.len() == kb.len() && b.first() == kb.first() && b == kb
            })
            .map(|(_, v)| v)
    } else {
        m.get(key)
    }
}

/// [`descend`] through objects and numeric indexes only; `None` when it meets an
/// array it would have to project over or measure (`length`).
#[inline]
fn descend_ref<'s>(v: &'s Value, segs: &[String]) -> Option<Option<&'s Value>> {
    let mut cur = v;
    for seg in segs {
        cur = match cur {
            Value::Object(m) => match field(m, seg) {
                Some(v) => v,
                None => return Some(None),
            },
            Value::Array(items) => match seg.parse::<usize>() {
                Ok(i) => match items.get(i) {
                    Some(v) => v,
                    None => return Some(None),
                },
                Err(_) => return None,
            },
            // `"…".length` is the string's length: the general `descend` handles it.
            Value::String(_) if seg == "length" => return None,
            _ => return Some(None),
        };
    }
    Some(Some(cur))
}

/// Walks `segs` down from `v`. On an array, a numeric segment indexes, `length` is the
/// size, and any other name projects over the items (`orders.price` → list of prices).
pub(crate) fn descend<'s>(v: &'s Value, segs: &[String]) -> Option<Cow<'s, Value>> {
    let mut cur = v;
    for (i, seg) in segs.iter().enumerate() {
        cur = match cur {
            Value::Object(m) => field(m, seg)?,
            Value::Array(items) => {
                if let Ok(idx) = seg.parse::<usize>() {
                    items.get(idx)?
                } else if seg == "length" {
                    return descend_cow(Cow::Owned(Value::from(items.len())), &segs[i + 1..]);
                } else {
                    let mut out = Vec::new();
                    for item in items {
                        match descend(item, &segs[i..]) {
                            Some(Cow::Borrowed(Value::Array(inner))) => {
                                out.extend(inner.iter().cloned())
                            }
                            Some(Cow::Owned(Value::Array(inner))) => out.extend(inner),
                            Some(Cow::Borrowed(Value::Null))
                            | Some(Cow::Owned(Value::Null))
                            | None => {}
                            Some(other) => out.push(other.into_owned()),
                        }
                    }
                    return Some(Cow::Owned(Value::Array(out)));
                }
            }
            // JavaScript's `"…".length`, which Handlebars templates use (in characters,
            // as the `length` function counts).
            Value::String(s) if seg == "length" => {
                return descend_cow(Cow::Owned(Value::from(s.chars().count())), &segs[i + 1..]);
            }
            _ => return None,
        };
    }
    Some(Cow::Borrowed(cur))
}
