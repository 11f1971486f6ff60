//! The machine-readable parts of DSNs and feedback reports: groups of
//! RFC 822-style `Name: value` fields separated by blank lines (RFC 3464
//! §2.1, RFC 5965 §3.1). Folded lines are unfolded; names compare
//! case-insensitively; the first occurrence of a name wins.

/// One group of fields, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldGroup {
    fields: Vec<(String, String)>,
}

impl FieldGroup {
    /// The value of `name` (case-insensitive), trimmed.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// The value after the `type;` of a typed field (`rfc822; jane@x`,
    /// `dns; mx.example.com`, `smtp; 550 …`), or the whole value when it has
    /// no type.
    pub fn typed(&self, name: &str) -> Option<&str> {
        self.get(name)
            .map(|v| v.split_once(';').map_or(v, |(_, rest)| rest.trim()))
            .filter(|v| !v.is_empty())
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The fields as one normalised text (names lower-cased, one per
    /// line): what tells two reports apart.
    pub fn canonical(&self) -> String {
        let mut out = String::new();
        for (n, v) in &self.fields {
            out.push_str(&n.to_ascii_lowercase());
            out.push(':');
            out.push_str(v);
            out.push('\n');
        }
        out
    }
}

/// Splits `text` into its field groups; empty groups are dropped.
pub fn parse_groups(text: &str) -> Vec<FieldGroup> {
    let mut groups = Vec::new();
    let mut current = FieldGroup::default();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            if !current.is_empty() {
                groups.push(std::mem::take(&mut current));
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            // A folded continuation of the previous field.
            if let Some((_, v)) = current.fields.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            current
                .fields
                .push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    if !current.is_empty() {
        groups.push(current);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_folding_and_types() {
        let g = parse_groups(
            "Reporting-MTA: dns; mx.example.com\r\n\r\nFinal-Recipient: rfc822; jane@example.com\r\n\
             Diagnostic-Code: smtp; 550 5.1.1 <jane@example.com>:\r\n  user unknown\r\n\r\n\r\n",
        );
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].typed("reporting-mta"), Some("mx.example.com"));
        assert_eq!(g[1].typed("Final-Recipient"), Some("jane@example.com"));
        assert_eq!(
            g[1].typed("diagnostic-code"),
            Some("550 5.1.1 <jane@example.com>: user unknown")
        );
        assert_eq!(g[1].get("Status"), None);
        assert!(
            g[1].canonical()
                .starts_with("final-recipient:rfc822; jane@")
        );
    }
}
