//! `Template::variables()`: the root paths a template reads.
//!
//! Convention: paths are dot-joined from the data root. Inside `{{#each L}}`,
//! `{{#with L}}` or `{{#L}}`, a bare path `x.y` is listed as `L.x.y` (array items are not
//! indexed: `context.order.items.name`), unless it starts with a root namespace
//! (`profile`, `context`), which is listed as is. The block's own value `L` is listed too.
//! `let` variables, block params' index names and `@data` variables are not listed;
//! an item alias (`as |item|`) maps back to its list (`item.name` → `L.name`).
//! Paths under a computed value (a function result) are not listed, but the paths in
//! the function's arguments are.

use crate::ast::{Body, Expr, Node, Path, PathBase};
use std::collections::{BTreeSet, HashSet};

const ROOT_NAMESPACES: &[&str] = &["profile", "context"];

struct Frame {
    /// Root path of this context; None when computed (unknowable).
    base: Option<String>,
    item: Option<String>,
    index: Option<String>,
}

struct Collector<'a> {
    out: BTreeSet<String>,
    /// Paths `{{#each}}` iterates: arrays, as far as the template tells.
    lists: BTreeSet<String>,
    lets: HashSet<&'a str>,
    frames: Vec<Frame>,
}

/// What [`collect`] finds: every path read, and the ones iterated.
pub(crate) struct Found {
    pub paths: BTreeSet<String>,
    pub lists: BTreeSet<String>,
}

pub(crate) fn collect<'a>(bodies: impl Iterator<Item = &'a Body>) -> Found {
    let bodies: Vec<&Body> = bodies.collect();
    let mut c = Collector {
        out: BTreeSet::new(),
        lists: BTreeSet::new(),
        lets: HashSet::new(),
        frames: Vec::new(),
    };
    for b in &bodies {
        gather_lets(b, &mut c.lets);
    }
    c.frames.push(Frame {
        base: Some(String::new()),
        item: None,
        index: None,
    });
    for b in &bodies {
        c.body(b);
    }
    Found {
        paths: c.out,
        lists: c.lists,
    }
}

fn gather_lets<'a>(body: &'a Body, lets: &mut HashSet<&'a str>) {
    for n in body {
        match n {
            Node::Let { name, .. } => {
                lets.insert(name);
            }
            Node::If {
                branches,
                otherwise,
            } => {
                for b in branches {
                    gather_lets(&b.body, lets);
                }
                gather_lets(otherwise, lets);
            }
            Node::Each {
                body, otherwise, ..
            }
            | Node::With {
                body, otherwise, ..
            }
            | Node::Section {
                body, otherwise, ..
            } => {
                gather_lets(body, lets);
                gather_lets(otherwise, lets);
            }
            _ => {}
        }
    }
}

fn join(base: &str, segs: &[String]) -> String {
    let mut s = base.to_string();
    for seg in segs {
        if !s.is_empty() {
            s.push('.');
        }
        s.push_str(seg);
    }
    s
}

impl Collector<'_> {
    fn body(&mut self, body: &Body) {
        for n in body {
            self.node(n);
        }
    }

    fn node(&mut self, n: &Node) {
        match n {
            Node::Text(_) | Node::Partial { .. } => {}
            Node::Output { expr, .. } | Node::Let { value: expr, .. } => {
                self.expr(expr);
            }
            Node::Fragment { args, .. } => args.iter().for_each(|(_, e)| {
                self.expr(e);
            }),
            Node::If {
                branches,
                otherwise,
            } => {
                for b in branches {
                    self.expr(&b.cond);
                    self.body(&b.body);
                }
                self.body(otherwise);
            }
            Node::Each {
                list: value,
                params,
                body,
                otherwise,
            }
            | Node::With {
                value,
                params,
                body,
                otherwise,
            } => {
                let base = self.expr(value);
                if let (Node::Each { .. }, Some(list)) = (n, &base)
                    && !list.is_empty()
                {
                    self.lists.insert(list.clone());
                }
                self.frames.push(Frame {
                    base,
                    item: params.item.clone(),
                    index: params.index.clone(),
                });
                self.body(body);
                self.frames.pop();
                self.body(otherwise);
            }
            Node::Section {
                value,
                inverted,
                body,
                otherwise,
            } => {
                let base = self.expr(value);
                if *inverted {
                    self.body(body);
                } else {
                    self.frames.push(Frame {
                        base,
                        item: None,
                        index: None,
                    });
                    self.body(body);
                    self.frames.pop();
                }
                self.body(otherwise);
            }
        }
    }

    /// Records the paths `e` reads; returns `e`'s own root path when it is a plain path.
    fn expr(&mut self, e: &Expr) -> Option<String> {
        match e {
            Expr::Literal(_) => None,
            Expr::Array(items) => {
                items.iter().for_each(|i| {
                    self.expr(i);
                });
                None
            }
            Expr::Path(p) => {
                let path = self.resolve(p)?;
                if !path.is_empty() {
                    self.out.insert(path.clone());
                }
                Some(path)
            }
            Expr::Unary { operand, .. } => {
                self.expr(operand);
                None
            }
            Expr::Binary { left, right, .. } => {
                self.expr(left);
                self.expr(right);
                None
            }
            Expr::Call { func, args, .. } if func.per_item => {
                // `topN(orders, price, 3)`: `price` is read from each item.
                let list = args.first().and_then(|a| self.expr(a));
                if let (Some(list), Some(Expr::Path(p))) = (list, args.get(1))
                    && p.base == PathBase::Auto
                    && !list.is_empty()
                {
                    self.out.insert(join(&list, &p.segments));
                }
                args.iter().skip(2).for_each(|a| {
                    self.expr(a);
                });
                None
            }
            Expr::Call { args, .. } => {
                args.iter().for_each(|a| {
                    self.expr(a);
                });
                None
            }
            Expr::Member { target, .. } => {
                self.expr(target);
                None
            }
        }
    }

    fn resolve(&self, p: &Path) -> Option<String> {
        match &p.base {
            PathBase::Data(_) => None,
            PathBase::Root => Some(join("", &p.segments)),
            PathBase::Parent(n) => {
                let idx = self.frames.len().checked_sub(1 + n)?;
                let base = self.frames.get(idx)?.base.as_deref()?;
                Some(join(base, &p.segments))
            }
            PathBase::Auto => {
                let (first, rest) = p.segments.split_first()?;
                for f in self.frames.iter().rev() {
                    if f.item.as_deref() == Some(first.as_str()) {
                        return Some(join(f.base.as_deref()?, rest));
                    }
                    if f.index.as_deref() == Some(first.as_str()) {
                        return None;
                    }
                }
                if self.lets.contains(first.as_str()) {
                    return None;
                }
                if ROOT_NAMESPACES.contains(&first.as_str()) {
                    return Some(join("", &p.segments));
                }
                let base = self.frames.last()?.base.as_deref()?;
                Some(join(base, &p.segments))
            }
        }
    }
}
