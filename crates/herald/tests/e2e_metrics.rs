//! `/metrics` end to end: the real binary sends one email to its Maildir outbox, then the
//! scrape is parsed as Prometheus text (a strict line parser below: quoted label values
//! with escapes, histograms checked for cumulative buckets) and each operator metric
//! family is checked for presence, labels and plausible values.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;

use support::{Herald, HeraldOptions};

/// One sample line: `name{k="v",…} value`.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

struct Scrape {
    samples: Vec<Sample>,
    /// `# TYPE name kind`.
    types: BTreeMap<String, String>,
}

/// Parses the text exposition format; panics on any line that is not a comment, a blank
/// line or a well-formed sample.
fn parse(text: &str) -> Scrape {
    let mut samples = Vec::new();
    let mut types = BTreeMap::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with("# HELP ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE line");
            types.insert(name.to_owned(), kind.to_owned());
            continue;
        }
        samples.push(parse_sample(line).unwrap_or_else(|| panic!("bad sample line: {line}")));
    }
    Scrape { samples, types }
}

fn parse_sample(line: &str) -> Option<Sample> {
    let name_end = line.find(['{', ' '])?;
    let name = &line[..name_end];
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    {
        return None;
    }
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(mut r) = rest.strip_prefix('{') {
        loop {
            if let Some(after) = r.strip_prefix('}') {
                r = after;
                break;
            }
            let eq = r.find('=')?;
            let key = r[..eq].trim_start_matches(',').to_owned();
            let mut chars = r[eq + 1..].strip_prefix('"')?.char_indices();
            let mut value = String::new();
            let close = loop {
                let (i, c) = chars.next()?;
                match c {
                    '"' => break i,
                    '\\' => match chars.next()?.1 {
                        'n' => value.push('\n'),
                        c => value.push(c),
                    },
                    c => value.push(c),
                }
            };
            r = &r[eq + 1 + 1 + close + 1..];
            labels.insert(key, value);
            r = r.strip_prefix(',').unwrap_or(r);
        }
        rest = r;
    }
    let value = match rest.trim() {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

async fn scrape(herald: &Herald) -> (String, Scrape) {
    let text = herald
        .http
        .get(format!("{}/metrics", herald.base_url()))
        .send()
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics body");
    let parsed = parse(&text);
    (text, parsed)
}

fn find<'a>(s: &'a Scrape, name: &str, labels: &[(&str, &str)]) -> Vec<&'a Sample> {
    s.samples
        .iter()
        .filter(|x| {
            x.name == name
                && labels
                    .iter()
                    .all(|(k, v)| x.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect()
}

/// The `_count` of the one histogram series of `name` with `labels`, after checking that
/// its buckets are cumulative and end in `+Inf` with that count.
fn histogram_count(s: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    assert_eq!(
        s.types.get(name).map(String::as_str),
        Some("histogram"),
        "{name}"
    );
    let count = find(s, &format!("{name}_count"), labels);
    assert_eq!(count.len(), 1, "{name} {labels:?}: {count:?}");
    let mut buckets: Vec<(f64, f64)> = find(s, &format!("{name}_bucket"), labels)
        .iter()
        .filter(|b| {
            // The same series: no labels beyond the asked ones and `le`.
            b.labels.len() == count[0].labels.len() + 1
        })
        .map(|b| {
            (
                b.labels["le"]
                    .replace("+Inf", "inf")
                    .parse::<f64>()
                    .unwrap(),
                b.value,
            )
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(buckets.len() > 5, "{name}: {buckets:?}");
    assert!(
        buckets.windows(2).all(|w| w[0].1 <= w[1].1),
        "{name}: {buckets:?}"
    );
    let last = buckets.last().unwrap();
    assert!(
        last.0.is_infinite() && last.1 == count[0].value,
        "{name}: {buckets:?}"
    );
    count[0].value
}

#[test]
fn the_line_parser_reads_braces_and_escapes_in_label_values() {
    let s = parse("# TYPE x counter\nx{route=\"/v1/{id}\",q=\"a\\\"b\\\\c\"} 3\ny 1.5\n");
    assert_eq!(s.samples[0].labels["route"], "/v1/{id}");
    assert_eq!(s.samples[0].labels["q"], "a\"b\\c");
    assert_eq!(s.samples[0].value, 3.0);
    assert_eq!(s.samples[1].value, 1.5);
}

#[tokio::test]
async fn metrics_cover_http_delivery_queue_and_webhooks() {
    let herald = Herald::start(HeraldOptions::outbox()).await;
    let campaign = herald
        .live_campaign("Hello {{profile.person.name.firstName}}", "<p>Hi</p>", "Hi")
        .await;
    let exec = herald
        .fire_unitary(
            &campaign,
            "metrics-1",
            vec![
                json!({"type": "aep", "namespace": "email", "userId": "ann@example.com",
                        "profile": {"person": {"name": {"firstName": "Ann"}}}}),
            ],
            json!({}),
        )
        .await;
    let execution_id = exec["executionId"].as_str().unwrap().to_owned();
    let done = herald.wait_final(&execution_id).await;
    assert_eq!(done["messages"][0]["status"], "sent", "{done}");
    // A 404 of an unknown campaign: its route is the template, not the id.
    let (status, _) = herald
        .request(reqwest::Method::GET, "/v1/campaigns/no-such-campaign", None)
        .await;
    assert_eq!(status, 404);
    let (status, _) = herald
        .request(reqwest::Method::GET, "/no/such/path/12345", None)
        .await;
    assert_eq!(status, 404);

    // The queue gauges are refreshed every 5 s: wait for a refresh after the send (an
    // earlier one may have caught the message queued or sending).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let (text, s) = loop {
        let (text, s) = scrape(&herald).await;
        let gauges = find(&s, "herald_queue_depth", &[]);
        if gauges.len() == 6 && gauges.iter().all(|g| g.value == 0.0) {
            break (text, s);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no empty-queue gauges in\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };

    // HTTP latency by route template, method and status class.
    const HTTP: &str = "herald_http_request_duration_seconds";
    let unitary = [
        ("route", "/ajo/im/executions/unitary"),
        ("method", "POST"),
        ("status", "2xx"),
    ];
    assert_eq!(histogram_count(&s, HTTP, &unitary), 1.0, "{text}");
    let by_id = [
        ("route", "/v1/campaigns/{id}"),
        ("method", "GET"),
        ("status", "4xx"),
    ];
    assert_eq!(histogram_count(&s, HTTP, &by_id), 1.0, "{text}");
    let unmatched = [("route", "unmatched"), ("method", "GET"), ("status", "4xx")];
    assert_eq!(histogram_count(&s, HTTP, &unmatched), 1.0, "{text}");
    assert!(
        !text.contains("no-such-campaign") && !text.contains("12345"),
        "raw paths leak:\n{text}"
    );
    // The test polled the execution until it was final: at least once.
    let polls = [
        ("route", "/v1/executions/{id}"),
        ("method", "GET"),
        ("status", "2xx"),
    ];
    assert!(histogram_count(&s, HTTP, &polls) >= 1.0, "{text}");
    let sum = find(&s, &format!("{HTTP}_sum"), &unitary);
    assert!(sum[0].value > 0.0 && sum[0].value < 10.0, "{text}");

    // The transport call, the accept → sent latency.
    let email = [("channel", "email")];
    assert_eq!(
        histogram_count(&s, "herald_send_duration_seconds", &email),
        1.0
    );
    let lane = [("channel", "email"), ("lane", "transactional")];
    assert_eq!(
        histogram_count(&s, "herald_message_latency_seconds", &lane),
        1.0
    );
    let sum = find(&s, "herald_message_latency_seconds_sum", &lane);
    assert!(sum[0].value > 0.0 && sum[0].value < 30.0, "{text}");

    // Provider replies by class, messages by status.
    assert_eq!(s.types["herald_provider_replies_total"], "counter");
    let replies = find(
        &s,
        "herald_provider_replies_total",
        &[("channel", "email"), ("class", "success")],
    );
    assert!(replies.len() == 1 && replies[0].value == 1.0, "{text}");
    assert!(
        find(
            &s,
            "herald_provider_replies_total",
            &[("class", "transient")]
        )
        .is_empty()
    );
    let sent = find(
        &s,
        "herald_messages_total",
        &[("channel", "email"), ("status", "sent")],
    );
    assert!(sent.len() == 1 && sent[0].value == 1.0, "{text}");

    // Queue depth per lane and state; the one message is sent, so all 0.
    assert_eq!(s.types["herald_queue_depth"], "gauge");
    for lane in ["transactional", "marketing"] {
        for state in ["queued", "due", "sending"] {
            let g = find(
                &s,
                "herald_queue_depth",
                &[("lane", lane), ("state", state)],
            );
            assert!(g.len() == 1 && g[0].value == 0.0, "{lane}/{state}:\n{text}");
        }
    }
}

/// A webhook whose receiver refuses every call is counted in
/// `herald_webhook_failures_total{kind="status"}`.
#[tokio::test]
async fn webhook_failures_are_counted() {
    // A receiver that answers 500 to everything.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = vec![0u8; 65536];
                let _ = sock.read(&mut buf).await;
                let _ = sock
                    .write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    let herald = Herald::start(HeraldOptions::outbox()).await;
    herald
        .post(
            "/v1/webhooks",
            &json!({"name": "refusing", "url": format!("http://{addr}/hook"),
                    "channels": ["email"], "allowPrivateNetwork": true, "auth": {"type": "none"}}),
            201,
        )
        .await;
    let cfg = herald.create_email_configuration().await;
    let v = herald
        .post(
            "/v1/campaigns",
            &json!({
                "name": "Webhooked", "category": "transactional", "webhooksEnabled": true,
                "action": {"channel": "email", "channelConfigurationId": cfg},
                "content": {"email": {"subject": "Hi", "html": "<p>Hi</p>", "text": "Hi"}},
                "audience": {"identityNamespace": "email", "createNewProfiles": true}
            }),
            201,
        )
        .await;
    let campaign = v["id"].as_str().unwrap().to_owned();
    herald.activate(&campaign).await;
    herald
        .fire_unitary(
            &campaign,
            "metrics-hook",
            vec![json!({"type": "aep", "namespace": "email", "userId": "bo@example.com"})],
            json!({}),
        )
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (text, s) = scrape(&herald).await;
        let failures = find(&s, "herald_webhook_failures_total", &[("kind", "status")]);
        if failures.first().is_some_and(|f| f.value >= 1.0) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no webhook failure counted:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
