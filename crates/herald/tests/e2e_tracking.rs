//! Opens, clicks and unsubscribes through real HTTP requests against the
//! real binary, from the links of emails it actually wrote to its Maildir
//! outbox (parsed with mail-parser); then the report of that scripted
//! scenario, number by number, in JSON and CSV.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use mail_parser::MessageParser;
use serde_json::{Value, json};

use support::*;

const HTML: &str = r#"<html><body><p>Hi {{profile.person.name.firstName}},</p>
<p><a href="https://shop.example/sale?u={{profile.person.name.firstName}}&amp;src=mail">Sale</a></p>
<p><a href="https://shop.example/help">Help</a> · <a data-herald-track="off" href="https://shop.example/untracked">Plain</a></p>
<p><A HREF="HTTPS://SHOP.EXAMPLE/UPPER">Upper</A> <a href="https://shop.example/family/{{profile.person.name.lastName}}?x=1">Family</a></p>
<p><a href="{{unsubscribeUrl}}">Unsubscribe</a></p></body></html>"#;

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// The HTML part, and the `List-Unsubscribe` URL, of the email sent to `to`.
fn email_to(herald: &Herald, to: &str) -> (String, String) {
    let raws = read_maildir_new(&herald.outbox_maildir());
    for raw in raws {
        let m = MessageParser::default()
            .parse(&raw)
            .expect("a MIME message");
        let addressed = m
            .to()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .is_some_and(|a| a == to);
        if addressed {
            let html = m.body_html(0).expect("an HTML part").into_owned();
            let lu = m
                .header_raw("List-Unsubscribe")
                .expect("List-Unsubscribe")
                .to_owned();
            let url = lu
                .split(['<', '>'])
                .find(|s| s.starts_with("http"))
                .expect("an http List-Unsubscribe URL")
                .to_owned();
            return (html, url);
        }
    }
    panic!("no email to {to} in the outbox");
}

/// The `href`s and `src`s of the HTML, entity-decoded.
fn attr_values(html: &str, attr: &str) -> Vec<String> {
    let needle = format!("{attr}=\"");
    // Attribute names are case-insensitive (`HREF=`); ASCII lower-casing
    // keeps byte offsets.
    let lower = html.to_ascii_lowercase();
    lower
        .match_indices(&needle)
        .filter_map(|(i, _)| {
            let rest = &html[i + needle.len()..];
            rest.find('"').map(|end| rest[..end].replace("&amp;", "&"))
        })
        .collect()
}

async fn counters(herald: &Herald, path: &str) -> Value {
    herald.get(path).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opens_clicks_and_unsubscribes_are_tracked_and_reported() {
    let herald = Herald::start(HeraldOptions::outbox()).await;
    let cfg = herald.create_list_unsubscribe_configuration().await;
    let campaign = herald
        .post(
            "/v1/campaigns",
            &json!({
                "name": "Tracked receipts",
                "category": "transactional",
                "action": {"channel": "email", "channelConfigurationId": cfg,
                           "tracking": {"opens": true, "clicks": true}},
                "content": {"email": {"subject": "Hello", "html": HTML}},
                "audience": {"identityNamespace": "email", "createNewProfiles": true}
            }),
            201,
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    herald.activate(&campaign).await;
    // One address suppressed (a bounce earlier): excluded even for
    // transactional mail.
    herald
        .post(
            "/v1/suppressions",
            &json!({"channel": "email", "address": "dora@bounce.test", "reason": "hardBounce"}),
            201,
        )
        .await;
    let recipient = |email: &str, name: &str| {
        json!({"type": "aep", "userId": email, "namespace": "email",
               "profile": {"person": {"name": {"firstName": name, "lastName": "O'Neil <&>"}}}})
    };
    let exec = herald
        .fire_unitary(
            &campaign,
            "tracked-1",
            vec![
                recipient("ann@shop.test", "Ann"),
                recipient("bob@shop.test", "Bob"),
                recipient("cy@other.test", "Cy"),
                recipient("dora@bounce.test", "Dora"),
            ],
            json!({}),
        )
        .await;
    let execution_id = exec["executionId"].as_str().unwrap().to_owned();
    let done = herald.wait_final(&execution_id).await;
    let ids: BTreeMap<String, String> = done["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["userId"].as_str().unwrap_or_default().to_owned(),
                m["messageId"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(ids.len(), 4, "{done:#}");

    let client = no_redirects();
    let get = |url: String, ua: &'static str| {
        let client = client.clone();
        async move {
            client
                .get(&url)
                .header("user-agent", ua)
                .send()
                .await
                .expect("GET")
        }
    };
    const READER: &str =
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Thunderbird/128.0";

    // --- Ann: two opens (one unique), a machine open, three clicks on two
    //     links (the personalized one twice).
    let (ann_html, _) = email_to(&herald, "ann@shop.test");
    let hrefs = attr_values(&ann_html, "href");
    let base = herald.base_url();
    let tracked: Vec<&String> = hrefs.iter().filter(|h| h.contains("/t/c/")).collect();
    assert_eq!(tracked.len(), 4, "four tracked links: {hrefs:?}");
    assert!(
        hrefs.iter().any(|h| h == "https://shop.example/untracked"),
        "{hrefs:?}"
    );
    assert!(
        hrefs.iter().any(|h| h.starts_with(&format!("{base}/u/"))),
        "unsubscribeUrl: {hrefs:?}"
    );
    let pixel = attr_values(&ann_html, "src")
        .into_iter()
        .find(|s| s.contains("/t/o/"))
        .expect("an open pixel");
    for ua in [READER, READER, "Mozilla/5.0"] {
        let r = get(pixel.clone(), ua).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "image/gif");
        assert_eq!(r.bytes().await.unwrap().len(), 43, "a 1×1 GIF");
    }
    // A link checker's HEAD fetches no image: not an open.
    let r = client.head(&pixel).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = get(tracked[0].clone(), READER).await;
    assert_eq!(r.status(), 302);
    assert_eq!(
        r.headers()["location"],
        "https://shop.example/sale?u=Ann&src=mail",
        "the personalized URL, exactly"
    );
    get(tracked[0].clone(), READER).await;
    let r = get(tracked[1].clone(), READER).await;
    assert_eq!(r.headers()["location"], "https://shop.example/help");

    // --- Tampering: a changed token, a foreign URL, a token of another
    //     purpose: all 404, never a redirect.
    let mut forged = tracked[1].clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    for url in [
        forged,
        format!("{}?url=https://evil.example/", tracked[1]),
        pixel.replace("/t/o/", "/t/c/"),
        format!("{base}/t/c/not-a-token"),
    ] {
        let r = get(url.clone(), READER).await;
        assert_eq!(r.status(), 404, "{url}");
        assert!(r.headers().get("location").is_none());
    }

    // --- Bob: one open, one click; then RFC 8058 one-click unsubscribe,
    //     twice (counted once).
    let (bob_html, bob_unsub) = email_to(&herald, "bob@shop.test");
    let bob_pixel = attr_values(&bob_html, "src")
        .into_iter()
        .find(|s| s.contains("/t/o/"))
        .unwrap();
    get(bob_pixel, READER).await;
    let bob_links: Vec<String> = attr_values(&bob_html, "href")
        .into_iter()
        .filter(|h| h.contains("/t/c/"))
        .collect();
    let r = get(bob_links[0].clone(), READER).await;
    assert_eq!(
        r.headers()["location"],
        "https://shop.example/sale?u=Bob&src=mail"
    );
    let page = get(bob_unsub.clone(), READER).await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("resubscribe") && page.contains("<form"),
        "{page}"
    );
    for _ in 0..2 {
        let r = client
            .post(&bob_unsub)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let profile = herald.get("/v1/profiles/email/bob@shop.test").await;
    assert_eq!(
        profile["attributes"]["consents"]["marketing"]["email"]["val"], "n",
        "unsubscribing sets the consent: {profile}"
    );
    let r = client.post(&bob_unsub).send().await.unwrap();
    assert_eq!(
        r.status(),
        200,
        "the page's form without a body unsubscribes too"
    );
    let r = client
        .post(format!("{bob_unsub}x"))
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "a tampered unsubscribe token");

    // --- Cy: no pixel (images off), two clicks: an upper-case link, and
    //     one personalized with characters the HTML escaped. A click
    //     implies an open.
    let (cy_html, _) = email_to(&herald, "cy@other.test");
    let cy_links: Vec<String> = attr_values(&cy_html, "href")
        .into_iter()
        .filter(|h| h.contains("/t/c/"))
        .collect();
    let r = get(cy_links[2].clone(), READER).await;
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], "https://shop.example/UPPER");
    let r = get(cy_links[3].clone(), READER).await;
    assert_eq!(r.status(), 302);
    assert_eq!(
        r.headers()["location"],
        "https://shop.example/family/O'Neil%20%3C&%3E?x=1",
        "decoded as the browser would, then percent-encoded"
    );

    // --- The timeline of Ann's message.
    let timeline = herald
        .get(&format!("/v1/messages/{}/events", ids["ann@shop.test"]))
        .await;
    let kinds: Vec<&str> = timeline["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "queued", "sent", "opened", "opened", "opened", "clicked", "clicked", "clicked"
        ],
        "{timeline:#}"
    );
    let machine = &timeline["events"][4];
    assert_eq!(machine["reason"], "machine", "{machine}");
    assert_eq!(machine["data"]["ip"], "127.0.0.0", "the last octet dropped");

    // --- The report, every number.
    let expect = json!({
        "targeted": 4, "sent": 3, "delivered": 0, "retries": 0,
        "excluded": {"total": 1, "byReason": {"emailSuppressed": 1}},
        "bounced": {"hard": 0, "soft": 0},
        "errors": {"total": 0, "byReason": {}},
        "opens": 3, "uniqueOpens": 3, "machineOpens": 1,
        "clicks": 6, "uniqueClicks": 3,
        "ctr": 1.0, "ctor": 1.0,
        "unsubscribes": 1, "complaints": 0,
        "byStatus": {"queued": 0, "sending": 0, "sent": 3, "delivered": 0, "failed": 0,
                     "bounced": 0, "excluded": 1, "unknown": 0},
        "byDomain": [{"domain": "shop.test", "sent": 2, "delivered": 0, "bounced": 0},
                     {"domain": "other.test", "sent": 1, "delivered": 0, "bounced": 0}],
        "byLink": [
            {"url": "https://shop.example/sale?u=Ann&src=mail", "version": 1, "index": 0, "clicks": 3, "uniqueClicks": 2},
            {"url": "https://shop.example/help", "version": 1, "index": 1, "clicks": 1, "uniqueClicks": 1},
            {"url": "HTTPS://SHOP.EXAMPLE/UPPER", "version": 1, "index": 2, "clicks": 1, "uniqueClicks": 1},
            {"url": "https://shop.example/family/O'Neil <&>?x=1", "version": 1, "index": 3, "clicks": 1, "uniqueClicks": 1}],
    });
    for window in ["all", "24h"] {
        let report = counters(
            &herald,
            &format!("/v1/campaigns/{campaign}/report?window={window}"),
        )
        .await;
        for (k, v) in expect.as_object().unwrap() {
            assert_eq!(&report[k], v, "{window}: {k} in {report:#}");
        }
        assert_eq!(report["window"], window);
        let exec_report = counters(
            &herald,
            &format!("/v1/executions/{execution_id}/report?window={window}"),
        )
        .await;
        for (k, v) in expect.as_object().unwrap() {
            assert_eq!(&exec_report[k], v, "execution {window}: {k}");
        }
    }
    // A window that ends before anything happened counts nothing but the
    // current statuses.
    let before = counters(
        &herald,
        &format!("/v1/campaigns/{campaign}/report?to=2020-01-01T00:00:00Z"),
    )
    .await;
    assert_eq!(before["targeted"], 0, "{before}");
    assert_eq!(before["opens"], 0);

    // The CSV says the same.
    let csv = herald
        .http
        .get(format!(
            "{}/v1/campaigns/{campaign}/report.csv?window=all",
            herald.base_url()
        ))
        .bearer_auth(API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = csv.text().await.unwrap();
    for line in [
        "section,name,value",
        "total,targeted,4",
        "total,sent,3",
        "total,opens,3",
        "total,uniqueOpens,3",
        "total,clicks,6",
        "total,uniqueClicks,3",
        "total,unsubscribes,1",
        "excludedByReason,emailSuppressed,1",
        "byDomain.sent,shop.test,2",
        "byLink.clicks,https://shop.example/help,1",
    ] {
        assert!(csv.lines().any(|l| l == line), "{line} in\n{csv}");
    }

    // A time series by minute holds every event once.
    let series = counters(
        &herald,
        &format!("/v1/campaigns/{campaign}/report?bucket=minute"),
    )
    .await;
    let points = series["series"]["points"].as_array().expect("points");
    let sum = |k: &str| points.iter().map(|p| p[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!(
        (sum("sent"), sum("opens"), sum("clicks")),
        (3, 3, 6),
        "{series:#}"
    );
    // Charts: well-formed SVG holding the series and the bars.
    let svg = |q: &str| {
        let url = format!(
            "{}/v1/campaigns/{campaign}/report.svg?{q}",
            herald.base_url()
        );
        let http = herald.http.clone();
        async move {
            let r = http.get(url).bearer_auth(API_KEY).send().await.unwrap();
            assert_eq!(r.status(), 200);
            assert!(
                r.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("image/svg+xml")
            );
            r.text().await.unwrap()
        }
    };
    let timeline = svg("metric=timeline&bucket=minute").await;
    let doc = roxmltree::Document::parse(&timeline).expect("the SVG is XML");
    let series: BTreeMap<String, String> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("series"))
        .map(|n| {
            (
                n.attribute("data-series").unwrap_or_default().to_owned(),
                n.attribute("data-total").unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        series.get("sent").map(String::as_str),
        Some("3"),
        "{series:?}"
    );
    assert_eq!(
        series.get("opens").map(String::as_str),
        Some("3"),
        "{series:?}"
    );
    assert_eq!(
        series.get("clicks").map(String::as_str),
        Some("6"),
        "{series:?}"
    );
    assert!(series.contains_key("delivered"), "{series:?}");
    let texts: String = doc.descendants().filter_map(|n| n.text()).collect();
    assert!(texts.contains("UTC"), "a time axis in UTC: {texts}");
    let bars = svg("metric=exclusions").await;
    let doc = roxmltree::Document::parse(&bars).expect("the SVG is XML");
    let bar: Vec<(&str, &str)> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("bar"))
        .map(|n| {
            (
                n.attribute("data-label").unwrap_or_default(),
                n.attribute("data-value").unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(bar, [("emailSuppressed", "1")]);
    let (status, body) = herald
        .request(
            reqwest::Method::GET,
            &format!("/v1/campaigns/{campaign}/report.svg?metric=sent,bogus"),
            None,
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["pointer"], "/metric");

    // Buckets stop at `to`: an hour from a full hour is one bucket.
    let hour = chrono::Utc::now().format("%Y-%m-%dT%H:00:00Z").to_string();
    let next = (chrono::Utc::now() + chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:00:00Z")
        .to_string();
    let one = counters(
        &herald,
        &format!("/v1/campaigns/{campaign}/report?from={hour}&to={next}&bucket=hour"),
    )
    .await;
    assert_eq!(
        one["series"]["points"].as_array().map(Vec::len),
        Some(1),
        "{one}"
    );
    assert_eq!(one["window"], "custom");
    // A window and from/to together are a contradiction.
    let (status, body) = herald
        .request(
            reqwest::Method::GET,
            &format!("/v1/campaigns/{campaign}/report?window=24h&from={hour}"),
            None,
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["pointer"], "/from");
    // Bad parameters name the field.
    let (status, body) = herald
        .request(
            reqwest::Method::GET,
            &format!("/v1/campaigns/{campaign}/report?bucket=week&from=yesterday"),
            None,
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let pointers: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["pointer"].as_str())
        .collect();
    assert!(
        pointers.contains(&"/bucket") && pointers.contains(&"/from"),
        "{body}"
    );
}
