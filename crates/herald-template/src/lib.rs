//! Herald's personalization engine: parse once, render many. Pure: no I/O.
//!
//! The dialect (see `shared/spec/personalization.md`) has two layers:
//! Handlebars (`{{path}}`, `{{{raw}}}`, `{{#if}}`, `{{#unless}}`, `{{#each}}`, `{{#with}}`,
//! Mustache sections, comments, `~`) and PQL tags (`{%= expr %}`, `{%#if%}`, `{% let %}`).
//!
//! Expression fragments (`{{fragment id='…'}}`) come with the template
//! ([`Template::compile_with_fragments`]) and render in place.
//!
//! Pipeline: `lexer` (text vs tags) → `parser` (tags, whitespace rules, block tree)
//! with `expr` for expressions → `ast` (immutable, shared via `Arc`) → `render`.

mod ast;
mod datetime;
mod error;
mod escape;
mod expr;
mod functions;
mod lexer;
mod parser;
mod render;
mod value;
mod variables;

pub use error::{RenderError, TemplateError};
pub use escape::{escape_html, sanitize_header};

use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How output tags are escaped; chosen per field (Decision 2), not per tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// `{{x}}` and `{%= x %}` HTML-escape; `{{{x}}}` / `{{& x}}` are raw.
    Html,
    /// Everything raw (text body, SMS, push).
    Text,
    /// Raw, and every CR or LF in the final output becomes a space.
    Header,
}

/// Per-render caps (Decision 11). Hitting one is a [`RenderError`], never a hang.
/// Fragments have fixed caps from the spec (30 per message, one nesting level).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Also caps any single computed value (a `let`, a concatenation, a function
    /// result: [`RenderError::ValueTooLarge`]), and 256 times it caps the bytes of
    /// computed values copied in one render ([`RenderError::TooMuchWork`]).
    pub max_output_bytes: usize,
    /// Total loop iterations across the whole render (nested loops multiply).
    pub max_loop_iterations: usize,
    /// Block, partial and fragment nesting depth at render time; also the deepest
    /// array or object a template may build.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_output_bytes: 1 << 20,
            max_loop_iterations: 100_000,
            max_depth: 64,
        }
    }
}

/// What a missing or null value does in an output (Decision 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissingValues {
    /// Renders as the empty string (the default).
    #[default]
    Empty,
    /// `missingValues: "fail"`: reading a missing or null value in an output tag (or
    /// as an argument a function needs) is [`RenderError::MissingValue`]. `?:`,
    /// `isNull`/`isNotNull` and conditions never fail.
    Fail,
}

/// Everything a render can be told besides the data and the output mode.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RenderOptions {
    pub limits: Limits,
    /// The clock for `getCurrentZonedDateTime`, `currentTimeInMillis`, `age…`; `None`
    /// reads the system clock once at the start of the render.
    pub now: Option<chrono::DateTime<chrono::Utc>>,
    pub missing_values: MissingValues,
}

/// A compiled template: immutable, `Send + Sync`, cheap to clone.
#[derive(Debug, Clone)]
pub struct Template {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    source: String,
    body: ast::Body,
    partials: HashMap<String, ast::Named>,
    fragments: HashMap<String, ast::Named>,
    /// The length of the last output, so the next render allocates its buffer once
    /// instead of growing (and copying) it a dozen times.
    size_hint: AtomicUsize,
}

impl Template {
    /// Compiles `source`, reporting every error found (not just the first).
    pub fn compile(source: &str) -> Result<Template, Vec<TemplateError>> {
        Self::compile_with_partials(source, &HashMap::new())
    }

    /// Compiles a URL field (a link's `href`, spec §6): the reference turns helper
    /// functions, `let`, `each`/`if`/`with` blocks and audience membership off there
    /// for security, so each is a compile error; plain `{{path}}` and `{%= path %}`
    /// outputs (with `?:` fallbacks) remain.
    pub fn compile_url_field(source: &str) -> Result<Template, Vec<TemplateError>> {
        let restricted: Vec<TemplateError> = parser::url_field_errors(source)
            .into_iter()
            .map(|e| e.locate(source))
            .collect();
        match Self::compile(source) {
            Ok(t) if restricted.is_empty() => Ok(t),
            Ok(_) => Err(restricted),
            Err(mut errors) => {
                errors.extend(restricted);
                errors.sort_by_key(|e| (e.line, e.column));
                Err(errors)
            }
        }
    }

    /// Compiles with named partials for `{{> name}}`. Errors inside a partial are
    /// positioned within that partial's source and prefixed with its name.
    pub fn compile_with_partials(
        source: &str,
        partials: &HashMap<String, String>,
    ) -> Result<Template, Vec<TemplateError>> {
        Self::compile_with_fragments(source, partials, &HashMap::new())
    }

    /// Compiles with partials and with the expression fragments that
    /// `{{fragment id='…'}}` tags name, keyed by their full id (`ajo:<fragment>/<variant>`).
    /// Errors inside a fragment are positioned within its source and prefixed with its id.
    pub fn compile_with_fragments(
        source: &str,
        partials: &HashMap<String, String>,
        fragments: &HashMap<String, String>,
    ) -> Result<Template, Vec<TemplateError>> {
        let (body, raw) = parser::parse(source);
        let mut errors: Vec<TemplateError> = raw.into_iter().map(|e| e.locate(source)).collect();
        let partials = compile_named(partials, "partial", &mut errors);
        let fragments = compile_named(fragments, "fragment", &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Template {
            inner: Arc::new(Inner {
                source: source.to_string(),
                body,
                partials,
                fragments,
                size_hint: AtomicUsize::new(source.len()),
            }),
        })
    }

    /// Renders with [`Limits::default`].
    pub fn render(&self, data: &Value, mode: OutputMode) -> Result<String, RenderError> {
        self.render_with_limits(data, mode, &Limits::default())
    }

    /// Renders against `data`, the root object (e.g. `{"profile": …, "context": …}`).
    pub fn render_with_limits(
        &self,
        data: &Value,
        mode: OutputMode,
        limits: &Limits,
    ) -> Result<String, RenderError> {
        self.render_inner(data, mode, limits, None, MissingValues::Empty)
    }

    /// Renders with explicit options: limits, an injected clock, missing-value policy.
    pub fn render_with_options(
        &self,
        data: &Value,
        mode: OutputMode,
        options: &RenderOptions,
    ) -> Result<String, RenderError> {
        self.render_inner(
            data,
            mode,
            &options.limits,
            options.now,
            options.missing_values,
        )
    }

    fn render_inner(
        &self,
        data: &Value,
        mode: OutputMode,
        limits: &Limits,
        now: Option<chrono::DateTime<chrono::Utc>>,
        missing: MissingValues,
    ) -> Result<String, RenderError> {
        let mut r = render::Renderer {
            ctx: functions::Ctx {
                now: now.unwrap_or_else(chrono::Utc::now),
            },
            fail_missing: missing == MissingValues::Fail,
            mode,
            limits,
            out: {
                let hint = self.inner.size_hint.load(Ordering::Relaxed);
                String::with_capacity(hint.saturating_add(hint / 8).min(limits.max_output_bytes))
            },
            iterations: 0,
            depth: 0,
            vars: HashMap::new(),
            work: std::cell::Cell::new(0),
            partials: &self.inner.partials,
            fragments: &self.inner.fragments,
            fragments_rendered: 0,
            fragment_depth: 0,
            source: &self.inner.source,
            origin: None,
            root: data,
        };
        let scope = render::Scope::root(data);
        r.render_body(&self.inner.body, &scope)?;
        self.inner.size_hint.store(r.out.len(), Ordering::Relaxed);
        Ok(r.finish())
    }

    /// Every root path the template reads; see the convention in `variables.rs`:
    /// inside `{{#each context.items}}`, `{{name}}` is listed as `context.items.name`.
    pub fn variables(&self) -> BTreeSet<String> {
        self.found().paths
    }

    /// The paths among [`Template::variables`] that `{{#each}}` iterates, so
    /// callers (the cURL helper) know to show them as arrays.
    pub fn list_variables(&self) -> BTreeSet<String> {
        self.found().lists
    }

    fn found(&self) -> variables::Found {
        variables::collect(
            std::iter::once(&self.inner.body)
                .chain(self.inner.partials.values().map(|n| &n.body))
                .chain(self.inner.fragments.values().map(|n| &n.body)),
        )
    }

    /// The source this template was compiled from.
    pub fn source(&self) -> &str {
        &self.inner.source
    }
}

/// Compiles named sources (partials or fragments) in name order, so errors come out in
/// a stable order, each prefixed with what it belongs to.
fn compile_named(
    sources: &HashMap<String, String>,
    kind: &str,
    errors: &mut Vec<TemplateError>,
) -> HashMap<String, ast::Named> {
    let mut names: Vec<&String> = sources.keys().collect();
    names.sort();
    let mut compiled = HashMap::with_capacity(names.len());
    for name in names {
        let Some(src) = sources.get(name) else {
            continue;
        };
        let (body, raw) = parser::parse(src);
        errors.extend(raw.into_iter().map(|e| {
            let mut t = e.locate(src);
            t.message = format!("in {kind} `{name}`: {}", t.message);
            t
        }));
        compiled.insert(
            name.clone(),
            ast::Named {
                body,
                source: src.clone(),
                label: format!("{kind} `{name}`"),
            },
        );
    }
    compiled
}

#[cfg(test)]
mod tests;
