//! The campaign report (API.md "Report shape") from its counters.
//!
//! The store keeps one counter per (metric, dimension) — see migration
//! 0011 — and this module turns them into the report's numbers. Every field
//! is present, 0 when nothing was counted.

use std::collections::BTreeMap;

use serde::Serialize;

/// One counter as the store sums it over the report's window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterRow<'a> {
    pub metric: &'a str,
    pub dim: &'a str,
    pub n: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub targeted: u64,
    /// Handed to the transport and accepted.
    pub sent: u64,
    /// Confirmed by the destination (a delivery status notification).
    pub delivered: u64,
    /// Retries of transient failures, and resends by hand.
    pub retries: u64,
    pub resent: u64,
    pub excluded: Breakdown,
    pub bounced: Bounces,
    pub errors: Breakdown,
    pub opens: u64,
    /// Messages opened: the pixel loaded, or a link clicked (a click implies
    /// an open, so `ctor` is at most 1).
    pub unique_opens: u64,
    /// Opens by privacy proxies and scanners: not in `opens` or
    /// `uniqueOpens`.
    pub machine_opens: u64,
    pub clicks: u64,
    pub unique_clicks: u64,
    /// Unique clicks / sent.
    pub ctr: f64,
    /// Unique clicks / unique opens.
    pub ctor: f64,
    pub unsubscribes: u64,
    pub resubscribes: u64,
    pub complaints: u64,
    pub by_status: BTreeMap<String, u64>,
    pub by_domain: Vec<DomainRow>,
    pub by_link: Vec<LinkRow>,
    pub by_locale: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Breakdown {
    pub total: u64,
    pub by_reason: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bounces {
    pub hard: u64,
    pub soft: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DomainRow {
    pub domain: String,
    pub sent: u64,
    pub delivered: u64,
    pub bounced: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkRow {
    /// The link's URL as in its first click (a personalized link differs
    /// per recipient and is counted as one).
    pub url: String,
    /// The campaign version and the link's position in its content.
    pub version: u64,
    pub index: u64,
    pub clicks: u64,
    pub unique_clicks: u64,
}

/// Every status a message can be in, so `byStatus` always has them all.
const STATUSES: [&str; 8] = [
    "queued",
    "sending",
    "sent",
    "delivered",
    "failed",
    "bounced",
    "excluded",
    "unknown",
];

/// The row of a `version:index` link dimension.
fn link_row(dim: &str, links: &BTreeMap<String, String>) -> LinkRow {
    let (version, index) = dim.split_once(':').unwrap_or(("0", dim));
    LinkRow {
        url: links.get(dim).cloned().unwrap_or_default(),
        version: version.parse().unwrap_or(0),
        index: index.parse().unwrap_or(0),
        ..LinkRow::default()
    }
}

fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        return 0.0;
    }
    ((num as f64 / den as f64) * 10_000.0).round() / 10_000.0
}

impl Report {
    /// `links` names the click counters' links (`version:index` → URL).
    pub fn from_counters<'a>(
        counters: impl IntoIterator<Item = CounterRow<'a>>,
        statuses: &BTreeMap<String, u64>,
        links: &BTreeMap<String, String>,
    ) -> Report {
        let mut r = Report::default();
        let mut domains: BTreeMap<&str, DomainRow> = BTreeMap::new();
        let mut link_rows: BTreeMap<&str, LinkRow> = BTreeMap::new();
        for c in counters {
            let n = c.n;
            match c.metric {
                "targeted" => {
                    r.targeted += n;
                    if !c.dim.is_empty() {
                        *r.by_locale.entry(c.dim.to_owned()).or_default() += n;
                    }
                }
                "resent" => r.resent += n,
                "sent" | "delivered" | "bounced.hard" | "bounced.soft" => {
                    let row = domains.entry(c.dim).or_insert_with(|| DomainRow {
                        domain: c.dim.to_owned(),
                        ..DomainRow::default()
                    });
                    match c.metric {
                        "sent" => {
                            r.sent += n;
                            row.sent += n;
                        }
                        "delivered" => {
                            r.delivered += n;
                            row.delivered += n;
                        }
                        "bounced.hard" => {
                            r.bounced.hard += n;
                            row.bounced += n;
                        }
                        // A soft bounce may still be delivered: not a
                        // domain's bounce.
                        _ => r.bounced.soft += n,
                    }
                }
                "failed" => {
                    r.errors.total += n;
                    *r.errors.by_reason.entry(c.dim.to_owned()).or_default() += n;
                }
                "unknown" => {
                    r.errors.total += n;
                    *r.errors.by_reason.entry("unknown".into()).or_default() += n;
                }
                "excluded" => {
                    r.excluded.total += n;
                    *r.excluded.by_reason.entry(c.dim.to_owned()).or_default() += n;
                }
                "retry" => r.retries += n,
                "opened" => r.opens += n,
                "opened.unique" => r.unique_opens += n,
                "opened.machine" => r.machine_opens += n,
                "clicked" => {
                    r.clicks += n;
                    link_rows
                        .entry(c.dim)
                        .or_insert_with(|| link_row(c.dim, links))
                        .clicks += n;
                }
                "clicked.unique" => {
                    link_rows
                        .entry(c.dim)
                        .or_insert_with(|| link_row(c.dim, links))
                        .unique_clicks += n;
                }
                "clicked.message" => r.unique_clicks += n,
                "unsubscribed" => r.unsubscribes += n,
                "resubscribed" => r.resubscribes += n,
                "complained" => r.complaints += n,
                _ => {}
            }
        }
        r.retries += r.resent;
        r.ctr = ratio(r.unique_clicks, r.sent);
        r.ctor = ratio(r.unique_clicks, r.unique_opens);
        r.by_status = STATUSES
            .iter()
            .map(|s| ((*s).to_owned(), statuses.get(*s).copied().unwrap_or(0)))
            .collect();
        // Busiest first: the head of the list is what a reader looks for.
        r.by_domain = domains
            .into_values()
            .filter(|d| !d.domain.is_empty())
            .collect();
        r.by_domain
            .sort_by(|a, b| b.sent.cmp(&a.sent).then(a.domain.cmp(&b.domain)));
        r.by_link = link_rows.into_values().collect();
        r.by_link.sort_by(|a, b| {
            b.clicks
                .cmp(&a.clicks)
                .then(a.version.cmp(&b.version))
                .then(a.index.cmp(&b.index))
        });
        r
    }

    /// The report as CSV rows: `section,name,value`, one per number, the
    /// breakdowns as `section,key` pairs (RFC 4180 quoting).
    pub fn to_csv(&self) -> String {
        let mut out = String::from("section,name,value\n");
        let mut row = |section: &str, name: &str, value: String| {
            out.push_str(&csv_field(section));
            out.push(',');
            out.push_str(&csv_field(name));
            out.push(',');
            out.push_str(&value);
            out.push('\n');
        };
        for (name, v) in [
            ("targeted", self.targeted),
            ("sent", self.sent),
            ("delivered", self.delivered),
            ("retries", self.retries),
            ("resent", self.resent),
            ("excluded", self.excluded.total),
            ("bouncedHard", self.bounced.hard),
            ("bouncedSoft", self.bounced.soft),
            ("errors", self.errors.total),
            ("opens", self.opens),
            ("uniqueOpens", self.unique_opens),
            ("machineOpens", self.machine_opens),
            ("clicks", self.clicks),
            ("uniqueClicks", self.unique_clicks),
            ("unsubscribes", self.unsubscribes),
            ("resubscribes", self.resubscribes),
            ("complaints", self.complaints),
        ] {
            row("total", name, v.to_string());
        }
        row("total", "ctr", self.ctr.to_string());
        row("total", "ctor", self.ctor.to_string());
        for (k, v) in &self.excluded.by_reason {
            row("excludedByReason", k, v.to_string());
        }
        for (k, v) in &self.errors.by_reason {
            row("errorsByReason", k, v.to_string());
        }
        for (k, v) in &self.by_status {
            row("byStatus", k, v.to_string());
        }
        for d in &self.by_domain {
            row("byDomain.sent", &d.domain, d.sent.to_string());
            row("byDomain.delivered", &d.domain, d.delivered.to_string());
            row("byDomain.bounced", &d.domain, d.bounced.to_string());
        }
        for l in &self.by_link {
            row("byLink.clicks", &l.url, l.clicks.to_string());
            row("byLink.uniqueClicks", &l.url, l.unique_clicks.to_string());
        }
        for (k, v) in &self.by_locale {
            row("byLocale", k, v.to_string());
        }
        out
    }
}

/// RFC 4180: quote a field holding a comma, quote or line break; a leading
/// `=`, `+`, `-` or `@` is prefixed with `'` so a spreadsheet never runs a
/// URL or reason as a formula.
pub fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(metric: &'static str, dim: &'static str, n: u64) -> CounterRow<'static> {
        CounterRow { metric, dim, n }
    }

    #[test]
    fn the_api_example_adds_up() {
        let counters = vec![
            c("targeted", "en-US", 96),
            c("targeted", "fr-FR", 24),
            c("excluded", "emailNoConsent", 12),
            c("excluded", "emailSuppressed", 8),
            c("sent", "example.com", 40),
            c("sent", "example.org", 60),
            c("bounced.hard", "example.com", 2),
            c("bounced.soft", "example.org", 1),
            c("retry", "", 4),
            c("opened", "", 60),
            c("opened.unique", "", 41),
            c("opened.machine", "", 9),
            c("clicked", "1:0", 20),
            c("clicked.unique", "1:0", 15),
            c("clicked", "1:1", 10),
            c("clicked.unique", "1:1", 9),
            c("clicked.message", "", 22),
            c("unsubscribed", "email", 1),
        ];
        let statuses = BTreeMap::from([("sent".to_string(), 97), ("excluded".to_string(), 20)]);
        let links = BTreeMap::from([
            ("1:0".to_string(), "https://a.example/".to_string()),
            ("1:1".to_string(), "https://b.example/".to_string()),
        ]);
        let r = Report::from_counters(counters, &statuses, &links);
        assert_eq!((r.targeted, r.sent, r.retries), (120, 100, 4));
        assert_eq!(r.excluded.total, 20);
        assert_eq!((r.bounced.hard, r.bounced.soft), (2, 1));
        assert_eq!((r.opens, r.unique_opens, r.machine_opens), (60, 41, 9));
        assert_eq!((r.clicks, r.unique_clicks), (30, 22));
        assert_eq!(r.ctr, 0.22);
        assert_eq!(r.ctor, 0.5366);
        assert_eq!(r.by_status["queued"], 0);
        assert_eq!(r.by_domain[0].domain, "example.org");
        assert_eq!(r.by_link[0].url, "https://a.example/");
        assert_eq!((r.by_link[1].version, r.by_link[1].index), (1, 1));
        assert_eq!(r.by_locale["fr-FR"], 24);
        let csv = r.to_csv();
        assert!(csv.contains("total,uniqueClicks,22\n"), "{csv}");
        assert!(
            csv.contains("byLink.clicks,https://a.example/,20\n"),
            "{csv}"
        );
    }

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }
}
