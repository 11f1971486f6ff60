//! Error types: compile errors carry a position, render errors say which limit or rule tripped.

use std::fmt;

/// A compile (parse/validation) error, positioned 1-based in the template source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub line: u32,
    pub column: u32,
    pub message: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

impl std::error::Error for TemplateError {}

/// Why a render failed. Missing values are *not* errors (they render empty) unless the
/// render asked for [`crate::MissingValues::Fail`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RenderError {
    #[error("output exceeds the limit of {limit} bytes")]
    OutputTooLarge { limit: usize },
    #[error("loops ran more than the limit of {limit} iterations in total")]
    TooManyIterations { limit: usize },
    #[error("blocks are nested deeper than the limit of {limit}")]
    TooDeep { limit: usize },
    #[error("line {line}, column {column}: {message}")]
    Eval {
        line: u32,
        column: u32,
        message: String,
    },
    /// A computed value (a `let`, a concatenation, a function result) grew past the
    /// output limit, or nested deeper than the depth limit.
    #[error("a computed value exceeds the limit of {limit} bytes or is nested too deeply")]
    ValueTooLarge { limit: usize },
    /// Computed values copied more bytes in total than the render's work budget.
    #[error("the render copied more than its budget of {limit} bytes of computed values")]
    TooMuchWork { limit: usize },
    #[error("partial `{name}` is not defined")]
    UnknownPartial { name: String },
    #[error("fragment `{id}` is not defined")]
    UnknownFragment { id: String },
    /// More `{{fragment}}` tags rendered in one message than the limit (spec §4: 30).
    #[error("more than {limit} fragments in one message")]
    TooManyFragments { limit: usize },
    /// A fragment nested in fragments deeper than the limit (spec §4: one level).
    #[error("fragments are nested deeper than {limit} level(s)")]
    FragmentTooDeep { limit: usize },
    /// `missingValues: fail` (Decision 3): an output read a missing or null value.
    #[error("missing value: `{path}`")]
    MissingValue { path: String },
}

/// Byte offset → (line, column), both 1-based, column counted in characters.
pub(crate) fn line_col(source: &str, offset: usize) -> (u32, u32) {
    let offset = offset.min(source.len());
    let mut line = 1u32;
    let mut col = 1u32;
    for (i, ch) in source.char_indices() {
        if i >= offset {
            break;
        }
        if ch == '\n' {
            line += 1;
            col = 1;
        } else {
            col += 1;
        }
    }
    (line, col)
}

/// A compile error before it has been positioned (byte offset only).
#[derive(Debug, Clone)]
pub(crate) struct RawError {
    pub offset: usize,
    pub message: String,
}

impl RawError {
    pub fn new(offset: usize, message: impl Into<String>) -> Self {
        RawError {
            offset,
            message: message.into(),
        }
    }

    pub fn locate(self, source: &str) -> TemplateError {
        let (line, column) = line_col(source, self.offset);
        TemplateError {
            line,
            column,
            message: self.message,
        }
    }
}
