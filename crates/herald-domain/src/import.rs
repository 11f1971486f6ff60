//! Bulk profile import: one NDJSON line or one CSV record (with its header)
//! becomes an [`ImportRow`] or the reason it is rejected.
//!
//! Pure: the server feeds bytes as they arrive ([`CsvSplitter`] splits CSV
//! records incrementally, quoted newlines included) and writes the rows in
//! batches.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Map, Value};

use crate::identity::{IdentityKind, normalize};
use crate::profile::Identity;

/// Namespaces known in a sandbox (standard and custom) with their kinds.
pub type Namespaces = BTreeMap<String, IdentityKind>;

/// Longest accepted NDJSON line or CSV record, in bytes.
pub const MAX_ROW_BYTES: usize = 1024 * 1024;

/// One profile to upsert: its (normalized, distinct) identities and the
/// attributes to merge-patch over what is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRow {
    /// 1-based line in the file where the row starts.
    pub line: u64,
    pub identities: Vec<Identity>,
    pub attributes: Value,
}

/// Checks and normalizes identities: each namespace known, each value
/// normalizing for its kind; duplicates dropped.
fn identities(
    given: impl IntoIterator<Item = (String, String)>,
    namespaces: &Namespaces,
) -> Result<Vec<Identity>, String> {
    let mut out: Vec<Identity> = Vec::new();
    let mut seen = HashSet::new();
    for (namespace, id) in given {
        let Some(kind) = namespaces.get(&namespace) else {
            return Err(format!("unknown identity namespace '{namespace}'"));
        };
        let id = normalize(*kind, &id).map_err(|e| format!("{namespace}: {e}"))?;
        if seen.insert((namespace.clone(), id.clone())) {
            out.push(Identity { namespace, id });
        }
    }
    if out.is_empty() {
        return Err("the row has no identity".into());
    }
    Ok(out)
}

/// One NDJSON line: `{"identities": [{namespace, id}], "attributes": {...}}`.
/// `Ok(None)` for a blank line.
pub fn parse_ndjson_line(
    line_no: u64,
    line: &[u8],
    namespaces: &Namespaces,
) -> Result<Option<ImportRow>, String> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let v: Value = serde_json::from_slice(line).map_err(|e| format!("invalid JSON: {e}"))?;
    let Value::Object(mut obj) = v else {
        return Err("the line must be a JSON object".into());
    };
    if let Some(k) = obj
        .keys()
        .find(|k| *k != "identities" && *k != "attributes")
    {
        return Err(format!(
            "unknown field '{k}' (expected identities and attributes)"
        ));
    }
    let attributes = match obj.remove("attributes") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(a @ Value::Object(_)) => a,
        Some(_) => return Err("attributes must be a JSON object".into()),
    };
    let Some(Value::Array(given)) = obj.remove("identities") else {
        return Err("identities must be an array of {namespace, id}".into());
    };
    let mut pairs = Vec::with_capacity(given.len());
    for (i, ident) in given.into_iter().enumerate() {
        match (
            ident.get("namespace").and_then(Value::as_str),
            ident.get("id").and_then(Value::as_str),
        ) {
            (Some(ns), Some(id)) => pairs.push((ns.to_string(), id.to_string())),
            _ => {
                return Err(format!(
                    "identities[{i}] must be an object with string namespace and id"
                ));
            }
        }
    }
    Ok(Some(ImportRow {
        line: line_no,
        identities: identities(pairs, namespaces)?,
        attributes,
    }))
}

#[derive(Debug, Clone, PartialEq)]
enum Column {
    Identity(String),
    /// An attribute path (`person.name.firstName` → its segments).
    Attribute(Vec<String>),
}

/// A CSV header: which columns are identities and which attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvHeader {
    columns: Vec<Column>,
}

impl CsvHeader {
    pub fn new(fields: &[String], namespaces: &Namespaces) -> Result<CsvHeader, String> {
        let mut columns = Vec::with_capacity(fields.len());
        let mut seen = HashSet::new();
        for (i, f) in fields.iter().enumerate() {
            let name = f.trim();
            if name.is_empty() {
                return Err(format!("column {} has no name", i + 1));
            }
            if !seen.insert(name) {
                return Err(format!("column '{name}' appears twice"));
            }
            if namespaces.contains_key(name) {
                columns.push(Column::Identity(name.to_string()));
            } else {
                let path: Vec<String> = name.split('.').map(str::to_string).collect();
                if path.iter().any(String::is_empty) {
                    return Err(format!("column '{name}' is not an attribute path"));
                }
                columns.push(Column::Attribute(path));
            }
        }
        if !columns.iter().any(|c| matches!(c, Column::Identity(_))) {
            return Err(format!(
                "the header names no identity namespace (known: {})",
                namespaces.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        // `a` and `a.b` cannot both be columns: `a` would be a value and an
        // object at once.
        let paths: Vec<&Vec<String>> = columns
            .iter()
            .filter_map(|c| match c {
                Column::Attribute(p) => Some(p),
                Column::Identity(_) => None,
            })
            .collect();
        for a in &paths {
            for b in &paths {
                if a.len() < b.len() && b.starts_with(a) {
                    return Err(format!(
                        "column '{}' is inside column '{}'",
                        b.join("."),
                        a.join(".")
                    ));
                }
            }
        }
        Ok(CsvHeader { columns })
    }

    /// One record under this header. Empty cells are skipped.
    pub fn row(
        &self,
        line_no: u64,
        fields: &[String],
        namespaces: &Namespaces,
    ) -> Result<Option<ImportRow>, String> {
        if fields.iter().all(|f| f.trim().is_empty()) {
            return Ok(None);
        }
        if fields.len() != self.columns.len() {
            return Err(format!(
                "the row has {} fields, the header {}",
                fields.len(),
                self.columns.len()
            ));
        }
        let mut pairs = Vec::new();
        let mut attributes = Map::new();
        for (col, cell) in self.columns.iter().zip(fields) {
            if cell.trim().is_empty() {
                continue;
            }
            match col {
                Column::Identity(ns) => pairs.push((ns.clone(), cell.clone())),
                Column::Attribute(path) => set_path(&mut attributes, path, cell),
            }
        }
        Ok(Some(ImportRow {
            line: line_no,
            identities: identities(pairs, namespaces)?,
            attributes: Value::Object(attributes),
        }))
    }
}

fn set_path(target: &mut Map<String, Value>, path: &[String], value: &str) {
    let (last, parents) = path.split_last().expect("paths are never empty");
    let mut at = target;
    for p in parents {
        let entry = at
            .entry(p.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        at = entry.as_object_mut().expect("just made an object");
    }
    at.insert(last.clone(), Value::String(value.to_string()));
}

/// One CSV record as it comes out of [`CsvSplitter`]: its first line and its
/// fields, or why it cannot be read.
pub type CsvRecord = (u64, Result<Vec<String>, String>);

/// Splits CSV bytes into records as they arrive, whatever the chunking.
pub struct CsvSplitter {
    reader: csv_core::Reader,
    out: Vec<u8>,
    out_len: usize,
    ends: Vec<usize>,
    ends_len: usize,
    /// The record being read is over [`MAX_ROW_BYTES`]: drop it.
    oversized: bool,
}

impl Default for CsvSplitter {
    fn default() -> Self {
        CsvSplitter {
            reader: csv_core::Reader::new(),
            out: vec![0; 4096],
            out_len: 0,
            ends: vec![0; 64],
            ends_len: 0,
            oversized: false,
        }
    }
}

impl CsvSplitter {
    /// Feeds one chunk; complete records go to `emit`.
    pub fn feed(&mut self, input: &[u8], emit: &mut impl FnMut(CsvRecord)) {
        self.run(input, emit);
    }

    /// The end of the input: the last record, if it had no line end.
    pub fn finish(&mut self, emit: &mut impl FnMut(CsvRecord)) {
        self.run(&[], emit);
    }

    fn run(&mut self, mut input: &[u8], emit: &mut impl FnMut(CsvRecord)) {
        use csv_core::ReadRecordResult::*;
        loop {
            let (res, nin, nout, nend) = self.reader.read_record(
                input,
                &mut self.out[self.out_len..],
                &mut self.ends[self.ends_len..],
            );
            let ended_by_newline = nin > 0 && input[nin - 1] == b'\n';
            input = &input[nin..];
            self.out_len += nout;
            self.ends_len += nend;
            match res {
                InputEmpty => return,
                OutputFull => {
                    if self.out.len() >= MAX_ROW_BYTES {
                        // Keep reading, into the same space, until the
                        // record ends.
                        self.oversized = true;
                        self.out_len = 0;
                    } else {
                        self.out.resize(self.out.len() * 2, 0);
                    }
                }
                OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
                Record => {
                    // The record's first line: where it ended, less the
                    // newlines inside its quoted fields (blank lines before
                    // it are skipped by the reader and counted by `line()`).
                    let end_line = self.reader.line() - u64::from(ended_by_newline);
                    let inner = if self.oversized {
                        0
                    } else {
                        self.out[..self.out_len]
                            .iter()
                            .filter(|b| **b == b'\n')
                            .count() as u64
                    };
                    let line = end_line.saturating_sub(inner).max(1);
                    let fields = if self.oversized {
                        Err(format!("the row is longer than {MAX_ROW_BYTES} bytes"))
                    } else {
                        self.fields()
                    };
                    self.out_len = 0;
                    self.ends_len = 0;
                    self.oversized = false;
                    emit((line, fields));
                }
                End => return,
            }
        }
    }

    fn fields(&self) -> Result<Vec<String>, String> {
        let mut start = 0;
        let mut out = Vec::with_capacity(self.ends_len);
        for &end in &self.ends[..self.ends_len] {
            let bytes = &self.out[start..end];
            out.push(
                std::str::from_utf8(bytes)
                    .map_err(|_| "the row is not valid UTF-8".to_string())?
                    .to_string(),
            );
            start = end;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn namespaces() -> Namespaces {
        let mut n: Namespaces = crate::identity::STANDARD
            .iter()
            .map(|(c, _, k)| (c.to_string(), *k))
            .collect();
        n.insert("loyaltyId".into(), IdentityKind::String);
        n
    }

    fn ndjson(line: &str) -> Result<Option<ImportRow>, String> {
        parse_ndjson_line(7, line.as_bytes(), &namespaces())
    }

    #[test]
    fn ndjson_line_becomes_a_row() {
        let row = ndjson(
            r#"{"identities": [{"namespace": "email", "id": "Ann@Example.COM"}, {"namespace": "loyaltyId", "id": " L1 "}, {"namespace": "email", "id": "ann@example.com"}], "attributes": {"person": {"name": {"firstName": "Ann"}}}}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(row.line, 7);
        assert_eq!(
            row.identities,
            vec![
                Identity {
                    namespace: "email".into(),
                    id: "Ann@example.com".into()
                },
                Identity {
                    namespace: "loyaltyId".into(),
                    id: "L1".into()
                },
                Identity {
                    namespace: "email".into(),
                    id: "ann@example.com".into()
                },
            ]
        );
        assert_eq!(row.attributes["person"]["name"]["firstName"], "Ann");
        assert_eq!(ndjson("   \r").unwrap(), None);
        let no_attrs = ndjson(r#"{"identities": [{"namespace": "crmId", "id": "C1"}]}"#)
            .unwrap()
            .unwrap();
        assert_eq!(no_attrs.attributes, json!({}));
    }

    #[test]
    fn bad_ndjson_lines_have_reasons() {
        for (line, want) in [
            ("{nope", "invalid JSON"),
            ("[1]", "JSON object"),
            (r#"{"attributes": {}}"#, "identities"),
            (r#"{"identities": []}"#, "no identity"),
            (
                r#"{"identities": [{"namespace": "fax", "id": "1"}]}"#,
                "unknown identity namespace 'fax'",
            ),
            (
                r#"{"identities": [{"namespace": "email", "id": "nope"}]}"#,
                "not an email address",
            ),
            (
                r#"{"identities": [{"namespace": "phone", "id": "12"}]}"#,
                "not a valid phone number",
            ),
            (
                r#"{"identities": [{"namespace": "email", "id": "a@example.com"}], "attributes": [1]}"#,
                "attributes must be a JSON object",
            ),
            (
                r#"{"identities": [{"namespace": "email"}]}"#,
                "identities[0]",
            ),
            (
                r#"{"identities": [{"namespace": "email", "id": "a@example.com"}], "x": 1}"#,
                "unknown field 'x'",
            ),
        ] {
            let e = ndjson(line).unwrap_err();
            assert!(e.contains(want), "{line}: {e}");
        }
    }

    fn split(chunks: &[&str]) -> Vec<CsvRecord> {
        let mut s = CsvSplitter::default();
        let mut out = Vec::new();
        for c in chunks {
            s.feed(c.as_bytes(), &mut |r| out.push(r));
        }
        s.finish(&mut |r| out.push(r));
        out
    }

    #[test]
    fn csv_records_split_across_chunks_with_line_numbers() {
        let whole = "email,person.name.firstName\na@example.com,\"Ann, \"\"A\"\"\"\nb@example.com,\"two\nlines\"\nc@example.com,Cy";
        let expect = vec![
            (1, Ok(vec!["email".into(), "person.name.firstName".into()])),
            (2, Ok(vec!["a@example.com".into(), "Ann, \"A\"".into()])),
            (3, Ok(vec!["b@example.com".into(), "two\nlines".into()])),
            (5, Ok(vec!["c@example.com".into(), "Cy".into()])),
        ];
        assert_eq!(split(&[whole]), expect);
        // Byte by byte gives the same records.
        let bytes: Vec<String> = whole.chars().map(|c| c.to_string()).collect();
        let refs: Vec<&str> = bytes.iter().map(String::as_str).collect();
        assert_eq!(split(&refs), expect);
        let crlf = split(&["email\r\na@example.com\r\n", "\r\nb@example.com\r\n"]);
        assert_eq!(crlf[1], (2, Ok(vec!["a@example.com".to_string()])));
        assert_eq!(crlf[2], (4, Ok(vec!["b@example.com".to_string()])));
        let crlf = split(&["email\r", "\na@example.com\r", "\n"]);
        assert_eq!(crlf[1], (2, Ok(vec!["a@example.com".to_string()])));
    }

    #[test]
    fn csv_rows_under_a_header() {
        let ns = namespaces();
        let header = CsvHeader::new(
            &[
                "email".into(),
                "loyaltyId".into(),
                "person.name.firstName".into(),
                "person.name.lastName".into(),
                "consents.marketing.email.val".into(),
            ],
            &ns,
        )
        .unwrap();
        let cells = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let row = header
            .row(2, &cells(&["A@EXAMPLE.com", "", "Ann", "", "y"]), &ns)
            .unwrap()
            .unwrap();
        assert_eq!(row.identities.len(), 1);
        assert_eq!(row.identities[0].id, "A@example.com");
        assert_eq!(
            row.attributes,
            json!({"person": {"name": {"firstName": "Ann"}}, "consents": {"marketing": {"email": {"val": "y"}}}})
        );
        assert!(
            header
                .row(3, &cells(&["bad", "", "", "", ""]), &ns)
                .unwrap_err()
                .contains("email")
        );
        assert!(
            header
                .row(4, &cells(&["", "", "Ann", "", ""]), &ns)
                .unwrap_err()
                .contains("no identity")
        );
        assert!(
            header
                .row(5, &cells(&["a@example.com"]), &ns)
                .unwrap_err()
                .contains("fields")
        );
        assert_eq!(header.row(6, &cells(&["", "", "", "", ""]), &ns), Ok(None));
    }

    #[test]
    fn bad_csv_headers() {
        let ns = namespaces();
        let h =
            |v: &[&str]| CsvHeader::new(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>(), &ns);
        assert!(h(&["name", "city"]).unwrap_err().contains("no identity"));
        assert!(h(&["email", "email"]).unwrap_err().contains("twice"));
        assert!(h(&["email", "a..b"]).unwrap_err().contains("path"));
        assert!(h(&["email", "a", "a.b"]).unwrap_err().contains("inside"));
    }
}
