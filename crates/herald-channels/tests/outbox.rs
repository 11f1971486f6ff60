//! The JSON-lines outboxes: one whole line per message, even under
//! concurrent senders.

use std::collections::HashSet;
use std::sync::Arc;

use herald_channels::{
    PushMessage, PushOutbox, PushPlatform, PushTransport, SmsMessage, SmsOutbox, SmsTransport,
};
use herald_domain::sms_encoding::SmsEncoding;
use serde_json::{Value, json};

fn lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("torn line {l:?}: {e}")))
        .collect()
}

#[tokio::test]
async fn concurrent_sms_lines_never_interleave() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Arc::new(SmsOutbox::open(dir.path()).unwrap());
    // Long texts so that a torn write would show.
    let text = format!("{} [€]", "x".repeat(4000));
    let sends: Vec<_> = (0..200)
        .map(|i| {
            let outbox = outbox.clone();
            let text = text.clone();
            tokio::spawn(async move {
                outbox
                    .send(&SmsMessage {
                        message_id: format!("m-{i}"),
                        to: "+33612345678".into(),
                        from: "Herald".into(),
                        text,
                    })
                    .await
            })
        })
        .collect();
    for s in sends {
        let r = s.await.unwrap().unwrap();
        assert_eq!(r.encoding, SmsEncoding::Gsm7);
        // 4,000 + 1 + 3 × 2 septets = 4,007, at 153 per part.
        assert_eq!(r.segments, 27);
    }
    outbox.outbox().sync().unwrap();
    let path = dir.path().join("outbox/sms.jsonl");
    let all = lines(&path);
    assert_eq!(all.len(), 200);
    let ids: HashSet<_> = all
        .iter()
        .map(|l| l["messageId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 200);
    let l = &all[0];
    assert_eq!(l["to"], "+33612345678");
    assert_eq!(l["from"], "Herald");
    assert_eq!(l["text"], text.as_str());
    assert_eq!(l["encoding"], "gsm7");
    assert_eq!(l["segments"], 27);
    assert!(l["at"].as_str().unwrap().ends_with('Z'));

    // Reopening appends, it does not truncate.
    drop(outbox);
    let again = SmsOutbox::open(dir.path()).unwrap();
    again
        .send(&SmsMessage {
            message_id: "m-last".into(),
            to: "+33612345678".into(),
            from: "Herald".into(),
            text: "你好".into(),
        })
        .await
        .unwrap();
    let all = lines(&path);
    assert_eq!(all.len(), 201);
    assert_eq!(all[200]["encoding"], "ucs2");
}

#[tokio::test]
async fn push_lines_carry_the_notification() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = PushOutbox::open(dir.path()).unwrap();
    outbox
        .send(&PushMessage {
            message_id: "p-1".into(),
            platform: PushPlatform::Apns,
            token: "abc123".into(),
            title: "Hi".into(),
            body: "There".into(),
            data: serde_json::from_value(json!({"k": "v"})).unwrap(),
            image: Some("https://cdn.example/i.png".into()),
        })
        .await
        .unwrap();
    let all = lines(&dir.path().join("outbox/push.jsonl"));
    assert_eq!(all.len(), 1);
    let l = &all[0];
    assert_eq!(
        (
            &l["messageId"],
            &l["platform"],
            &l["token"],
            &l["title"],
            &l["body"]
        ),
        (
            &json!("p-1"),
            &json!("apns"),
            &json!("abc123"),
            &json!("Hi"),
            &json!("There")
        )
    );
    assert_eq!(l["data"], json!({"k": "v"}));
    assert_eq!(l["image"], "https://cdn.example/i.png");
}
