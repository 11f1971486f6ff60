//! Building an outgoing email as RFC 5322 bytes.

mod html_text;

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use mail_builder::MessageBuilder;
use mail_builder::encoders::base64::base64_encode;
use mail_builder::headers::address::Address;
use mail_builder::headers::date::Date;
use mail_builder::headers::message_id::MessageId;
use mail_builder::headers::raw::Raw;
use mail_builder::headers::text::Text;

pub use html_text::html_to_text;

/// Everything needed to render one email for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    pub from_address: String,
    pub from_name: Option<String>,
    pub reply_to: Option<String>,
    pub to: String,
    pub subject: String,
    /// Inbox preview text; rendered as a hidden div at the start of the HTML.
    pub preheader: Option<String>,
    pub html: Option<String>,
    /// Plain-text alternative; derived from `html` when `None`.
    pub text: Option<String>,
    /// Without angle brackets, e.g. `0190abc@mail.example.com`.
    pub message_id: String,
    pub date: DateTime<Utc>,
    /// Additional headers such as `List-Unsubscribe`. Names are validated;
    /// values are sanitised like every other data-driven header.
    pub extra_headers: Vec<(String, String)>,
    /// RFC 2369 `List-Unsubscribe` plus RFC 8058 `List-Unsubscribe-Post`.
    pub list_unsubscribe: Option<ListUnsubscribe>,
}

/// Where a recipient unsubscribes: an HTTPS URL that accepts the RFC 8058
/// one-click POST, and optionally an address (written as `<mailto:…>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListUnsubscribe {
    /// `https://…` (or `http://…` for local setups), e.g. `https://t.example.com/u/TOKEN`.
    pub url: String,
    /// A bare address such as `unsubscribe+TOKEN@example.com`.
    pub mailto: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("invalid {field} address {value:?}")]
    InvalidAddress { field: &'static str, value: String },
    #[error("invalid Message-ID {0:?} (expected local@domain without angle brackets)")]
    InvalidMessageId(String),
    #[error("invalid header name {0:?}")]
    InvalidHeaderName(String),
    #[error("header {0:?} is set by Herald itself and cannot be overridden")]
    ReservedHeader(String),
    #[error("invalid List-Unsubscribe {0}")]
    InvalidListUnsubscribe(String),
    #[error("email has neither an HTML nor a text body")]
    NoBody,
    #[error("failed to serialise message: {0}")]
    Io(#[from] std::io::Error),
}

/// Headers that `build_email` writes itself (or that would change who receives
/// the message); letting data set them would duplicate or subvert them.
const RESERVED_HEADERS: &[&str] = &[
    "from",
    "sender",
    "to",
    "cc",
    "bcc",
    "reply-to",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "content-disposition",
    "return-path",
    "delivered-to",
    "received",
];

/// Renders `email` as RFC 5322 bytes (CRLF line endings, 7-bit clean: non-ASCII
/// headers are RFC 2047 encoded and bodies quoted-printable/base64 encoded).
pub fn build_email(email: &OutgoingEmail) -> Result<Vec<u8>, BuildError> {
    validate_address("From", &email.from_address)?;
    validate_address("To", &email.to)?;
    if let Some(reply_to) = &email.reply_to {
        validate_address("Reply-To", reply_to)?;
    }
    validate_message_id(&email.message_id)?;

    let mut builder = MessageBuilder::new()
        .message_id(MessageId::new(email.message_id.as_str()))
        .date(Date::new(email.date.timestamp()))
        .header(
            "From",
            Raw::new(mailbox(
                display_name(email.from_name.as_deref()).as_deref(),
                &email.from_address,
            )?),
        )
        .to(Address::new_address(None::<&str>, email.to.as_str()));
    if let Some(reply_to) = &email.reply_to {
        builder = builder.reply_to(Address::new_address(None::<&str>, reply_to.as_str()));
    }
    builder = builder.subject(Text::new(sanitize_header_value(&email.subject)));

    if let Some(list) = &email.list_unsubscribe {
        // Both set would give two List-Unsubscribe headers.
        if let Some((name, _)) = email.extra_headers.iter().find(|(n, _)| {
            n.eq_ignore_ascii_case("list-unsubscribe")
                || n.eq_ignore_ascii_case("list-unsubscribe-post")
        }) {
            return Err(BuildError::ReservedHeader(name.clone()));
        }
        builder = builder
            .header("List-Unsubscribe", Raw::new(list_unsubscribe_value(list)?))
            .header(
                "List-Unsubscribe-Post",
                Raw::new("List-Unsubscribe=One-Click"),
            );
    }
    for (name, value) in &email.extra_headers {
        validate_header_name(name)?;
        builder = builder.header(name.as_str(), Text::new(sanitize_header_value(value)));
    }

    let text = match (&email.text, &email.html) {
        (Some(text), _) => Some(Cow::Borrowed(text.as_str())),
        (None, Some(html)) => Some(Cow::Owned(html_to_text(html))),
        (None, None) => None,
    };
    let html = email
        .html
        .as_deref()
        .map(|html| with_preheader(html, email.preheader.as_deref()));
    match (text, html) {
        (None, None) => return Err(BuildError::NoBody),
        (text, html) => {
            // mail-builder emits multipart/alternative with text first when both
            // are present, which is the order clients expect (last = preferred).
            if let Some(text) = text {
                builder = builder.text_body(text);
            }
            if let Some(html) = html {
                builder = builder.html_body(html);
            }
        }
    }

    Ok(builder.write_to_vec()?)
}

/// `<url>` or `<url>, <mailto:address>`; the value is checked, never
/// sanitised, because a changed URL would be a broken unsubscribe link.
fn list_unsubscribe_value(list: &ListUnsubscribe) -> Result<String, BuildError> {
    let invalid = |why: &str| BuildError::InvalidListUnsubscribe(why.to_owned());
    let url = &list.url;
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(invalid("URL: must be an http(s) URL"));
    }
    // '<' and '>' would end the angle-bracketed URI; whitespace and controls
    // (CR, LF above all) could end the header.
    let unsafe_char =
        |c: char| c.is_whitespace() || c.is_control() || !c.is_ascii() || matches!(c, '<' | '>');
    if url.chars().any(unsafe_char) {
        return Err(invalid(
            "URL: contains whitespace, control characters, non-ASCII or angle brackets",
        ));
    }
    // One URI per line must stay under the 998-octet line limit.
    if url.len() > 900 {
        return Err(invalid("URL: longer than 900 characters"));
    }
    let mut value = format!("<{url}>");
    if let Some(mailto) = &list.mailto {
        validate_address("List-Unsubscribe mailto", mailto)?;
        if !mailto.is_ascii() || mailto.len() > 320 {
            return Err(invalid(
                "mailto: must be an ASCII address of at most 320 characters",
            ));
        }
        // mail-builder's Raw folds at this space when the line is long.
        value = format!("{value}, <mailto:{mailto}>");
    }
    Ok(value)
}

/// Replaces CR, LF and other control characters (tab excepted) with spaces, so
/// that a value taken from data can never terminate its header line and start a
/// new header.
fn sanitize_header_value(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() && c != '\t' { ' ' } else { c })
        .collect()
}

fn display_name(name: Option<&str>) -> Option<String> {
    let name = sanitize_header_value(name?);
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// `name <address>` with the name as RFC 2047 encoded-words when it is not
/// plain ASCII. Written by hand because mail-builder wraps encoded-words in
/// double quotes, which RFC 2047 section 5 forbids and strict parsers keep
/// undecoded.
fn mailbox(name: Option<&str>, address: &str) -> Result<String, BuildError> {
    let Some(name) = name else {
        return Ok(format!("<{address}>"));
    };
    if name.chars().all(|c| c.is_ascii() && !c.is_ascii_control()) {
        let quoted = name.replace('\\', "\\\\").replace('"', "\\\"");
        return Ok(format!("\"{quoted}\" <{address}>"));
    }
    // Each encoded-word must stay within 75 characters: 12 bytes of
    // "=?utf-8?B??=" leave 63 for base64, i.e. 45 input bytes; chunks end on
    // character boundaries so every word decodes on its own.
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in name.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(encoded_word(&chunk)?);
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(encoded_word(&chunk)?);
    }
    Ok(format!("{} <{address}>", words.join(" ")))
}

fn encoded_word(text: &str) -> Result<String, BuildError> {
    let encoded = base64_encode(text.as_bytes())?;
    Ok(format!("=?utf-8?B?{}?=", String::from_utf8_lossy(&encoded)))
}

/// Minimal syntactic check: enough to keep the value from breaking out of the
/// `<...>` it is written into, not a full RFC 5321 validator.
fn validate_address(field: &'static str, value: &str) -> Result<(), BuildError> {
    let invalid = || BuildError::InvalidAddress {
        field,
        value: value.to_owned(),
    };
    let (local, domain) = value.split_once('@').ok_or_else(invalid)?;
    let bad_char = |c: char| {
        c.is_whitespace()
            || c.is_control()
            || matches!(
                c,
                '<' | '>' | '@' | ',' | ';' | '"' | '(' | ')' | '[' | ']' | '\\'
            )
    };
    if local.is_empty()
        || domain.is_empty()
        || local.chars().any(bad_char)
        || domain.chars().any(bad_char)
    {
        return Err(invalid());
    }
    Ok(())
}

fn validate_message_id(id: &str) -> Result<(), BuildError> {
    let ok = id.split_once('@').is_some_and(|(l, d)| {
        !l.is_empty()
            && !d.is_empty()
            && !d.contains('@')
            && id
                .chars()
                .all(|c| c.is_ascii_graphic() && !matches!(c, '<' | '>' | '"' | '\\'))
    });
    if ok {
        Ok(())
    } else {
        Err(BuildError::InvalidMessageId(id.to_owned()))
    }
}

/// RFC 5322 field-name: printable ASCII except ':'.
fn validate_header_name(name: &str) -> Result<(), BuildError> {
    if name.is_empty()
        || name.len() > 76
        || !name.bytes().all(|b| (33..=126).contains(&b) && b != b':')
    {
        return Err(BuildError::InvalidHeaderName(name.to_owned()));
    }
    if RESERVED_HEADERS
        .iter()
        .any(|reserved| reserved.eq_ignore_ascii_case(name))
    {
        return Err(BuildError::ReservedHeader(name.to_owned()));
    }
    Ok(())
}

/// Inserts the preheader as a hidden div right after `<body ...>` (or at the
/// very start when the HTML is a fragment without a body tag).
fn with_preheader<'a>(html: &'a str, preheader: Option<&str>) -> Cow<'a, str> {
    let Some(preheader) = preheader.filter(|p| !p.trim().is_empty()) else {
        return Cow::Borrowed(html);
    };
    let div = format!(
        "<div style=\"display:none;font-size:1px;color:transparent;line-height:1px;\
         max-height:0;max-width:0;opacity:0;overflow:hidden;mso-hide:all\">{}</div>",
        escape_html(preheader)
    );
    let at = find_body_content_start(html).unwrap_or(0);
    let mut out = String::with_capacity(html.len() + div.len());
    out.push_str(&html[..at]);
    out.push_str(&div);
    out.push_str(&html[at..]);
    Cow::Owned(out)
}

/// Byte offset just after the opening `<body ...>` tag, if any.
fn find_body_content_start(html: &str) -> Option<usize> {
    // ASCII lowercasing keeps byte offsets identical to the original.
    let lower = html.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = lower[from..].find("<body") {
        let start = from + pos;
        let after = lower.as_bytes().get(start + 5).copied();
        if matches!(after, Some(b'>' | b' ' | b'\t' | b'\r' | b'\n' | b'/')) {
            return lower[start..].find('>').map(|end| start + end + 1);
        }
        from = start + 5;
    }
    None
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_validation() {
        for ok in ["a@b", "first.last+tag@example.com", "ü@bücher.de"] {
            assert!(validate_address("To", ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "no-at",
            "@example.com",
            "a@",
            "a@b@c",
            "a b@c",
            "a@b\r\nBcc: x@y",
            "<a@b>",
            "a@b>",
            "a,b@c",
        ] {
            assert!(validate_address("To", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn header_name_validation() {
        assert!(validate_header_name("List-Unsubscribe").is_ok());
        assert!(validate_header_name("X-Campaign").is_ok());
        for bad in ["", "X Bad", "X:Bad", "X-\r\nBcc", "Ünicode"] {
            assert!(matches!(
                validate_header_name(bad),
                Err(BuildError::InvalidHeaderName(_))
            ));
        }
        for reserved in ["bcc", "Subject", "CONTENT-TYPE", "Message-ID"] {
            assert!(matches!(
                validate_header_name(reserved),
                Err(BuildError::ReservedHeader(_))
            ));
        }
    }

    #[test]
    fn message_id_validation() {
        assert!(validate_message_id("0190abc@mail.example.com").is_ok());
        for bad in ["<a@b>", "nobody", "a b@c", "a@b\r\n", "a@b@c"] {
            assert!(validate_message_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn preheader_goes_after_body_tag() {
        let html = "<html><head><title>t</title></head><BODY class=\"x\"><p>Hi</p></BODY></html>";
        let out = with_preheader(html, Some("Sale <today>"));
        let body_end = out.find("<BODY class=\"x\">").map(|i| i + 16);
        let div = out.find("<div style=\"display:none");
        assert_eq!(body_end, div);
        assert!(out.contains("Sale &lt;today&gt;</div><p>Hi</p>"));
        assert_eq!(
            with_preheader("<p>x</p>", Some("pre")).find("<div"),
            Some(0)
        );
        assert_eq!(with_preheader("<p>x</p>", None), "<p>x</p>");
        // "<bodyfoo" is not a body tag.
        assert_eq!(find_body_content_start("<bodyfoo>"), None);
    }

    #[test]
    fn mailbox_encodes_names_without_quotes() {
        let m = |n: Option<&str>| mailbox(n, "a@b.test").expect("mailbox");
        assert_eq!(m(None), "<a@b.test>");
        assert_eq!(m(Some("Ann \"Q\" B")), "\"Ann \\\"Q\\\" B\" <a@b.test>");
        assert_eq!(m(Some("ש")), "=?utf-8?B?16k=?= <a@b.test>");
        let long = m(Some(&"שלום ".repeat(20)));
        assert!(!long.contains('"'));
        assert!(long.split(' ').all(|w| w.len() <= 75), "{long}");
    }

    #[test]
    fn sanitize_replaces_line_breaks() {
        assert_eq!(
            sanitize_header_value("x\r\nBcc: v@e.com\n"),
            "x  Bcc: v@e.com "
        );
        assert_eq!(sanitize_header_value("tab\tok"), "tab\tok");
    }
}
