//! The links in messages: the open pixel (`/t/o/{token}`), click redirects
//! (`/t/c/{token}`) and unsubscribe (`/u/{token}`). No API key: a signed
//! token names the message, and a token that does not verify — tampered,
//! for another purpose, or signed by another install — is a 404 like any
//! unknown path, never a redirect.

use std::net::{IpAddr, SocketAddr};

use axum::Extension;
use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;

use herald_domain::engagement::{is_machine_open, truncate_ip};
use herald_domain::token::{TokenClaims, TokenPurpose};
use herald_store::{ConsentChange, ConsentOutcome, NewEvent, TrackedMessage};

use crate::AppState;
use crate::problem::Problem;

/// The smallest transparent GIF (43 bytes).
const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

fn not_found() -> Response {
    Problem::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        "no such link",
    )
    .into_response()
}

fn verify(state: &AppState, token: &str, purpose: TokenPurpose) -> Option<TokenClaims> {
    let claims = state.token_key.as_ref()?.verify(token).ok()?;
    (claims.purpose == purpose).then_some(claims)
}

/// The client's address: the peer, or — when the peer is a proxy on
/// loopback or a private network (a reverse proxy in front of Herald) — the
/// first `X-Forwarded-For` hop. A client on the internet cannot set its own.
fn client_ip(headers: &HeaderMap, peer: Option<SocketAddr>) -> Option<IpAddr> {
    let peer = peer.map(|p| p.ip());
    let proxied = match peer {
        None => true,
        Some(IpAddr::V4(v4)) => v4.is_loopback() || v4.is_private(),
        Some(IpAddr::V6(v6)) => v6.is_loopback() || v6.is_unique_local(),
    };
    if !proxied {
        return peer;
    }
    headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .and_then(|v| v.trim().parse().ok())
        .or(peer)
}

fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(512).collect())
}

async fn message(state: &AppState, claims: &TokenClaims) -> Result<TrackedMessage, Response> {
    match state.store.tracked_message(&claims.message_id).await {
        Ok(Some(m)) => Ok(m),
        Ok(None) => Err(not_found()),
        Err(e) => Err(Problem::from(e).into_response()),
    }
}

pub async fn open(
    State(state): State<AppState>,
    token: Result<Path<String>, PathRejection>,
    method: Method,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
) -> Response {
    let Ok(Path(token)) = token else {
        return not_found();
    };
    let token = token.trim_end_matches(".gif");
    let Some(claims) = verify(&state, token, TokenPurpose::Open) else {
        return not_found();
    };
    // A HEAD (a link checker) fetches no image: not an open.
    if method == Method::HEAD {
        return pixel();
    }
    let ip = client_ip(&headers, peer.map(|Extension(ConnectInfo(addr))| addr));
    let ua = user_agent(&headers);
    let machine = is_machine_open(ua.as_deref(), ip);
    let event = NewEvent {
        message_id: claims.message_id.clone(),
        at: Utc::now(),
        status: "opened".into(),
        reason: machine.then(|| "machine".into()),
        detail: None,
        data: Some(json!({"userAgent": ua, "ip": ip.map(truncate_ip)})),
    };
    if let Err(e) = state.store.record_events(vec![event]).await {
        return Problem::from(e).into_response();
    }
    tracing::debug!(message_id = %claims.message_id, machine, "open");
    pixel()
}

fn pixel() -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/gif")),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-store, no-cache, must-revalidate, private"),
            ),
        ],
        PIXEL,
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
pub struct ClickQuery {
    /// Never followed: a link that names its own target is refused unless
    /// it is the message's.
    url: Option<String>,
}

pub async fn click(
    State(state): State<AppState>,
    token: Result<Path<String>, PathRejection>,
    q: Result<Query<ClickQuery>, QueryRejection>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
) -> Response {
    let Ok(Path(token)) = token else {
        return not_found();
    };
    let Some(claims) = verify(&state, &token, TokenPurpose::Click) else {
        return not_found();
    };
    let m = match state
        .links
        .get(state.store.as_ref(), &claims.message_id)
        .await
    {
        Ok(Some(m)) => m,
        Ok(None) => return not_found(),
        Err(e) => return Problem::from(e).into_response(),
    };
    let Some(url) = claims.link.and_then(|i| m.links.get(i as usize)) else {
        return not_found();
    };
    let named = match q {
        Ok(Query(q)) => q.url,
        Err(_) => return not_found(),
    };
    if named.as_ref().is_some_and(|u| u != url) {
        return not_found();
    }
    // As a browser would send it: scheme and host lower-cased, spaces and
    // non-ASCII percent-encoded, so the Location header is valid.
    let Some(location) = url::Url::parse(url.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .and_then(|u| HeaderValue::from_str(u.as_str()).ok())
    else {
        return not_found();
    };
    let ip = client_ip(&headers, peer.map(|Extension(ConnectInfo(addr))| addr));
    let event = NewEvent {
        message_id: m.message_id.clone(),
        at: Utc::now(),
        status: "clicked".into(),
        reason: claims.link.map(|i| i.to_string()),
        detail: Some(url.clone()),
        data: Some(json!({
            "url": url,
            "userAgent": user_agent(&headers),
            "ip": ip.map(truncate_ip),
        })),
    };
    if let Err(e) = state.store.record_events(vec![event]).await {
        // The reader still gets where they were going.
        tracing::warn!(error = %e, message_id = %m.message_id, "click not recorded");
    }
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, location),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
        ],
    )
        .into_response()
}

fn page(title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"robots\" content=\"noindex\"><title>{title}</title>\
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}}\
button{{font-size:1rem;padding:.6rem 1rem;margin:.3rem 0;border-radius:.3rem;border:1px solid #888;background:#fff;cursor:pointer}}\
button.primary{{background:#222;color:#fff}}</style></head><body><h1>{title}</h1>{body}</body></html>"
    );
    (
        [
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
                ),
            ),
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        ],
        Html(html),
    )
        .into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The address shown on the page, partly hidden: the page is reachable by
/// anyone holding the link.
fn masked(address: Option<&str>) -> String {
    match address {
        Some(a) => match a.split_once('@') {
            Some((local, domain)) => {
                let first: String = local.chars().take(1).collect();
                format!("{first}…@{domain}")
            }
            None => {
                let n = a.chars().count();
                let tail: String = a.chars().skip(n.saturating_sub(2)).collect();
                format!("…{tail}")
            }
        },
        None => "this address".into(),
    }
}

pub async fn unsubscribe_page(
    State(state): State<AppState>,
    token: Result<Path<String>, PathRejection>,
) -> Response {
    let Ok(Path(token)) = token else {
        return not_found();
    };
    let Some(claims) = verify(&state, &token, TokenPurpose::Unsubscribe) else {
        return not_found();
    };
    let m = match message(&state, &claims).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let channel = m.channel.as_str();
    let who = escape(&masked(m.address.as_deref()));
    let token = escape(&token);
    page(
        "Unsubscribe",
        &format!(
            "<p>Stop marketing {channel} messages to <strong>{who}</strong>?</p>\
<form method=\"post\" action=\"/u/{token}\">\
<p><button class=\"primary\" name=\"action\" value=\"unsubscribe\">Unsubscribe from all marketing {channel}</button></p>\
<p><button name=\"action\" value=\"resubscribe\">Keep receiving them (resubscribe)</button></p>\
</form><p><small>Messages about your account and orders are not affected.</small></p>"
        ),
    )
}

/// RFC 8058 one-click (`List-Unsubscribe=One-Click`, sent by mailbox
/// providers without a person present), and the page's own form
/// (`action=unsubscribe|resubscribe`).
pub async fn unsubscribe(
    State(state): State<AppState>,
    token: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(Path(token)) = token else {
        return not_found();
    };
    let Some(claims) = verify(&state, &token, TokenPurpose::Unsubscribe) else {
        return not_found();
    };
    let fields: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let one_click = fields
        .iter()
        .any(|(k, v)| k == "List-Unsubscribe" && v == "One-Click");
    let action = fields
        .iter()
        .find(|(k, _)| k == "action")
        .map(|(_, v)| v.as_str());
    let unsubscribe = !matches!(action, Some("resubscribe"));
    let change = ConsentChange {
        message_id: claims.message_id.clone(),
        unsubscribe,
        at: Utc::now(),
        source: if one_click { "oneClick" } else { "page" }.into(),
    };
    let outcome = match state.store.change_consent(&change).await {
        Ok(o) => o,
        Err(e) => return Problem::from(e).into_response(),
    };
    if outcome == ConsentOutcome::NoSuchMessage {
        return not_found();
    }
    tracing::info!(message_id = %claims.message_id, unsubscribe, one_click, changed = (outcome == ConsentOutcome::Changed), "consent change");
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if one_click && !wants_html {
        return (StatusCode::OK, "unsubscribed\n").into_response();
    }
    let token = escape(&token);
    if unsubscribe {
        page(
            "You are unsubscribed",
            &format!(
                "<p>You will not receive marketing messages on this channel any more.</p>\
<form method=\"post\" action=\"/u/{token}\"><button name=\"action\" value=\"resubscribe\">Undo: resubscribe</button></form>"
            ),
        )
    } else if outcome == ConsentOutcome::Changed {
        page(
            "You are subscribed again",
            "<p>You will receive our marketing messages again.</p>",
        )
    } else {
        // Already subscribed — or kept out for another reason (a bounce,
        // a complaint) that a resubscribe does not lift.
        page(
            "Nothing changed",
            "<p>This address is already subscribed, or it cannot receive our messages \
(an earlier bounce or complaint). Contact us if you think this is wrong.</p>",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_is_believed_only_from_a_proxy_nearby() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("17.1.2.3, 10.0.0.1"),
        );
        let internet: SocketAddr = "203.0.113.9:443".parse().unwrap();
        let proxy: SocketAddr = "10.0.0.2:443".parse().unwrap();
        assert_eq!(client_ip(&h, Some(internet)), Some(internet.ip()));
        assert_eq!(client_ip(&h, Some(proxy)), "17.1.2.3".parse().ok());
        assert_eq!(client_ip(&HeaderMap::new(), Some(proxy)), Some(proxy.ip()));
    }

    #[test]
    fn the_page_masks_the_address() {
        assert_eq!(masked(Some("jane@example.com")), "j…@example.com");
        assert_eq!(masked(Some("+33612345678")), "…78");
        assert_eq!(masked(None), "this address");
    }
}
