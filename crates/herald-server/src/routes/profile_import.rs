//! `POST /v1/profiles:import`: NDJSON or CSV, streamed.
//!
//! The body is read chunk by chunk and split into lines (NDJSON) or records
//! (CSV, quoted newlines included) as it arrives; rows are parsed and
//! checked by `herald_domain::import` and handed in batches to a writer task
//! that upserts each batch in one store transaction while the next batch is
//! parsed. Memory stays bounded by two batches whatever the body's size.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::{Extension, Json};
use chrono::Utc;
use futures::StreamExt;
use serde::Serialize;
use tokio::sync::mpsc;
use utoipa::ToSchema;

use herald_domain::import::{
    CsvHeader, CsvSplitter, ImportRow, MAX_ROW_BYTES, Namespaces, parse_ndjson_line,
};
use herald_store::Store;

use crate::AppState;
use crate::auth::{Caller, SCOPE_MANAGE};
use crate::problem::{ApiResult, Problem};
use crate::routes::identity_namespaces::namespaces;

/// Rows per store transaction.
pub const BATCH_ROWS: usize = 1000;
/// `errors[]` keeps this many entries; `rejected` counts them all.
pub const MAX_ERRORS: usize = 1000;

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct ImportError {
    /// 1-based line in the file (the CSV header is line 1).
    pub line: u64,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, ToSchema, Default)]
pub struct ImportSummary {
    pub created: u64,
    pub updated: u64,
    pub rejected: u64,
    /// The first rejected rows (at most 1,000), in line order.
    pub errors: Vec<ImportError>,
}

impl ImportSummary {
    fn reject(&mut self, line: u64, message: String) {
        self.rejected += 1;
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(ImportError { line, message });
        }
    }
}

enum Format {
    Ndjson {
        pending: Vec<u8>,
        /// The line being read is over the limit: skip to its end.
        oversized: bool,
        line: u64,
    },
    Csv {
        splitter: Box<CsvSplitter>,
        header: Option<CsvHeader>,
    },
}

/// Rows parsed so far, waiting for a full batch.
struct Parser {
    format: Format,
    namespaces: Namespaces,
    batch: Vec<ImportRow>,
    summary: ImportSummary,
    /// A CSV header that cannot be used: the whole request fails.
    fatal: Option<String>,
}

impl Parser {
    fn feed(&mut self, chunk: &[u8]) {
        match &mut self.format {
            Format::Ndjson {
                pending,
                oversized,
                line,
            } => {
                let mut rest = chunk;
                while let Some(nl) = rest.iter().position(|b| *b == b'\n') {
                    let piece = &rest[..nl];
                    rest = &rest[nl + 1..];
                    *line += 1;
                    if *oversized {
                        *oversized = false;
                        pending.clear();
                        self.summary.reject(
                            *line,
                            format!("the line is longer than {MAX_ROW_BYTES} bytes"),
                        );
                        continue;
                    }
                    let outcome = if pending.is_empty() {
                        parse_ndjson_line(*line, piece, &self.namespaces)
                    } else {
                        pending.extend_from_slice(piece);
                        let r = parse_ndjson_line(*line, pending, &self.namespaces);
                        pending.clear();
                        r
                    };
                    match outcome {
                        Ok(Some(row)) => self.batch.push(row),
                        Ok(None) => {}
                        Err(e) => self.summary.reject(*line, e),
                    }
                }
                if !*oversized {
                    pending.extend_from_slice(rest);
                    if pending.len() > MAX_ROW_BYTES {
                        *oversized = true;
                        pending.clear();
                    }
                }
            }
            Format::Csv { splitter, header } => {
                let mut records = Vec::new();
                splitter.feed(chunk, &mut |r| records.push(r));
                for (line, fields) in records {
                    Self::csv_record(
                        header,
                        &self.namespaces,
                        &mut self.batch,
                        &mut self.summary,
                        &mut self.fatal,
                        line,
                        fields,
                    );
                }
            }
        }
    }

    fn finish(&mut self) {
        match &mut self.format {
            Format::Ndjson {
                pending,
                oversized,
                line,
            } => {
                if *oversized {
                    self.summary.reject(
                        *line + 1,
                        format!("the line is longer than {MAX_ROW_BYTES} bytes"),
                    );
                } else if !pending.is_empty() {
                    match parse_ndjson_line(*line + 1, pending, &self.namespaces) {
                        Ok(Some(row)) => self.batch.push(row),
                        Ok(None) => {}
                        Err(e) => self.summary.reject(*line + 1, e),
                    }
                }
                pending.clear();
            }
            Format::Csv { splitter, header } => {
                let mut records = Vec::new();
                splitter.finish(&mut |r| records.push(r));
                for (line, fields) in records {
                    Self::csv_record(
                        header,
                        &self.namespaces,
                        &mut self.batch,
                        &mut self.summary,
                        &mut self.fatal,
                        line,
                        fields,
                    );
                }
            }
        }
    }

    fn csv_record(
        header: &mut Option<CsvHeader>,
        namespaces: &Namespaces,
        batch: &mut Vec<ImportRow>,
        summary: &mut ImportSummary,
        fatal: &mut Option<String>,
        line: u64,
        fields: Result<Vec<String>, String>,
    ) {
        if fatal.is_some() {
            return;
        }
        match header {
            None => match fields.and_then(|f| CsvHeader::new(&f, namespaces)) {
                Ok(h) => *header = Some(h),
                Err(e) => *fatal = Some(format!("line {line}: the CSV header is invalid: {e}")),
            },
            Some(h) => match fields.and_then(|f| h.row(line, &f, namespaces)) {
                Ok(Some(row)) => batch.push(row),
                Ok(None) => {}
                Err(e) => summary.reject(line, e),
            },
        }
    }
}

fn format_of(headers: &HeaderMap) -> Result<Format, Problem> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/x-ndjson" | "application/ndjson" | "application/jsonl" => Ok(Format::Ndjson {
            pending: Vec::new(),
            oversized: false,
            line: 0,
        }),
        "text/csv" => Ok(Format::Csv {
            splitter: Box::default(),
            header: None,
        }),
        _ => Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            format!(
                "the body must be application/x-ndjson or text/csv, not '{}'",
                if ct.is_empty() { "(none)" } else { ct }
            ),
        )),
    }
}

/// Upserts the batches it receives, one transaction each.
async fn write_batches(
    store: std::sync::Arc<dyn Store>,
    sandbox: String,
    mut rx: mpsc::Receiver<Vec<ImportRow>>,
) -> Result<ImportSummary, herald_store::StoreError> {
    let mut s = ImportSummary::default();
    while let Some(rows) = rx.recv().await {
        let done = store.import_profiles(&sandbox, rows, Utc::now()).await?;
        s.created += done.created;
        s.updated += done.updated;
        for (line, message) in done.rejected {
            s.reject(line, message);
        }
    }
    Ok(s)
}

#[utoipa::path(post, path = "/v1/profiles:import", tag = "profiles",
    request_body(content = String, content_type = "application/x-ndjson", description = "One {\"identities\": [{namespace, id}], \"attributes\": {...}} per line; or text/csv with a header row (a column named after a namespace is an identity, any other an attribute path such as person.name.firstName)"),
    responses((status = 200, body = ImportSummary), (status = 400, body = Problem), (status = 415, body = Problem)))]
pub async fn import(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<ImportSummary>> {
    caller.require(SCOPE_MANAGE)?;
    let format = format_of(&headers)?;
    let mut parser = Parser {
        format,
        namespaces: namespaces(&state, &caller.sandbox).await?,
        batch: Vec::with_capacity(BATCH_ROWS),
        summary: ImportSummary::default(),
        fatal: None,
    };
    let (tx, rx) = mpsc::channel::<Vec<ImportRow>>(2);
    let writer = tokio::spawn(write_batches(
        state.store.clone(),
        caller.sandbox.clone(),
        rx,
    ));
    let mut stream = body.into_data_stream();
    let mut read_error = None;
    let mut writer_gone = false;
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                read_error = Some(e.to_string());
                break;
            }
        };
        parser.feed(&chunk);
        if parser.fatal.is_some() {
            break;
        }
        if parser.batch.len() >= BATCH_ROWS {
            let full = std::mem::replace(&mut parser.batch, Vec::with_capacity(BATCH_ROWS));
            if tx.send(full).await.is_err() {
                writer_gone = true;
                break;
            }
        }
    }
    if read_error.is_none() && parser.fatal.is_none() && !writer_gone {
        parser.finish();
        // Every full batch went as it filled; what is left is one at most
        // (a CSV's last chunk may complete several, so send in batch-size
        // pieces).
        let rest = std::mem::take(&mut parser.batch);
        for piece in rest.chunks(BATCH_ROWS) {
            if tx.send(piece.to_vec()).await.is_err() {
                break;
            }
        }
    }
    drop(tx);
    let written = writer
        .await
        .map_err(|e| Problem::internal(format!("import writer: {e}")))?
        .map_err(Problem::from)?;
    if let Some(e) = read_error {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "unreadable-body",
            "The body could not be read",
            format!("the body broke off after the rows already imported: {e}"),
        ));
    }
    if let Some(e) = parser.fatal {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-csv-header",
            "The CSV header is invalid",
            e,
        ));
    }
    let mut summary = parser.summary;
    summary.created = written.created;
    summary.updated = written.updated;
    summary.rejected += written.rejected;
    summary.errors.extend(written.errors);
    summary.errors.sort_by_key(|e| e.line);
    summary.errors.truncate(MAX_ERRORS);
    Ok(Json(summary))
}
