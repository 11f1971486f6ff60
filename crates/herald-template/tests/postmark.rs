//! Real-world templates (Postmark, MIT) rewritten to Herald's `context.` namespace.

use herald_template::{OutputMode, Template};
use serde_json::json;
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/postmark")
}

fn load(name: &str, file: &str) -> String {
    std::fs::read_to_string(fixtures().join(name).join(file))
        .unwrap_or_else(|e| panic!("reading {name}/{file}: {e}"))
}

fn compile(src: &str, what: &str) -> Template {
    Template::compile(src).unwrap_or_else(|e| panic!("{what} does not compile: {e:?}"))
}

#[test]
fn every_template_compiles() {
    let mut n = 0;
    let mut dirs: Vec<_> = std::fs::read_dir(fixtures())
        .expect("fixtures dir")
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .collect();
    dirs.sort_by_key(|e| e.file_name());
    for dir in dirs {
        for file in ["content.html", "content.txt"] {
            let name = dir.file_name().to_string_lossy().to_string();
            compile(&load(&name, file), &format!("{name}/{file}"));
            n += 1;
        }
    }
    assert_eq!(n, 22, "11 templates × (html, txt)");
}

fn receipt_data() -> serde_json::Value {
    json!({
        "profile": {},
        "context": {
            "name": "Mark & Mary",
            "purchase_date": "2024-11-01",
            "credit_card_brand": "Visa",
            "credit_card_last_four": "4242",
            "billing_url": "https://example.com/billing?a=1&b=2",
            "expiration_date": "2024-12-01",
            "receipt_id": "R-1001",
            "date": "2024-11-01",
            "receipt_details": [
                {"description": "Widget <Large>", "amount": "$10.00"},
                {"description": "Gadget \"Pro\"", "amount": "$20.50"},
                {"description": "Service & Support", "amount": "$5.00"}
            ],
            "total": "$35.50",
            "support_url": "https://example.com/support",
            "action_url": "https://example.com/receipt.pdf"
        }
    })
}

#[test]
fn receipt_html_renders_items_escaping_and_total() {
    let t = compile(&load("receipt", "content.html"), "receipt html");
    let out = t
        .render(&receipt_data(), OutputMode::Html)
        .expect("renders");
    assert!(out.contains("Hi Mark &amp; Mary,"));
    assert!(out.contains("<span class=\"f-fallback\">Widget &lt;Large&gt;</span>"));
    assert!(out.contains("<span class=\"f-fallback\">Gadget &quot;Pro&quot;</span>"));
    assert!(out.contains("<span class=\"f-fallback\">Service &amp; Support</span>"));
    for amount in ["$10.00", "$20.50", "$5.00"] {
        assert!(
            out.contains(&format!("<span class=\"f-fallback\">{amount}</span>")),
            "{amount}"
        );
    }
    assert_eq!(out.matches("class=\"purchase_item\"").count(), 3);
    assert!(out.contains(">$35.50</p>"));
    assert!(out.contains("href=\"https://example.com/billing?a=1&amp;b=2\""));
    assert!(!out.contains("{{"));
}

#[test]
fn receipt_text_renders_raw() {
    let t = compile(&load("receipt", "content.txt"), "receipt txt");
    let out = t
        .render(&receipt_data(), OutputMode::Text)
        .expect("renders");
    assert!(out.contains("Hi Mark & Mary,"));
    // Standalone `{{#each}}`/`{{/each}}` lines vanish; each item keeps its own lines.
    assert!(
        out.contains("\nWidget <Large>\n$10.00\n\n\nGadget \"Pro\"\n$20.50\n"),
        "{out}"
    );
    assert!(out.contains("Total\n\n$35.50"));
}

#[test]
fn receipt_variables() {
    let t = compile(&load("receipt", "content.html"), "receipt html");
    let vars: Vec<String> = t.variables().into_iter().collect();
    let expected = [
        "context.action_url",
        "context.billing_url",
        "context.credit_card_brand",
        "context.credit_card_last_four",
        "context.date",
        "context.expiration_date",
        "context.name",
        "context.purchase_date",
        "context.receipt_details",
        "context.receipt_details.amount",
        "context.receipt_details.description",
        "context.receipt_id",
        "context.support_url",
        "context.total",
    ];
    assert_eq!(vars, expected);
    let lists: Vec<String> = t.list_variables().into_iter().collect();
    assert_eq!(lists, ["context.receipt_details"]);
}

#[test]
fn list_variables_are_the_iterated_paths_only() {
    let t = compile(
        "{{#each context.a as |x|}}{{x.b}}{{#each x.c}}{{d}}{{/each}}{{/each}}{{#with context.w}}{{v}}{{/with}}{{#each topN(context.o, p, 2)}}{{q}}{{/each}}",
        "lists",
    );
    let lists: Vec<String> = t.list_variables().into_iter().collect();
    assert_eq!(lists, ["context.a", "context.a.c"]);
}

#[test]
fn comment_notification_nested_sections() {
    let t = compile(&load("comment-notification", "content.txt"), "comment txt");
    let data = json!({"context": {
        "body": "Looks good",
        "attachment_details": [
            {"attachment_name": "a.png", "attachment_url": "u1", "attachment_size": "1KB", "attachment_type": "png"},
            {"attachment_name": "b.pdf", "attachment_url": "u2", "attachment_size": "2KB", "attachment_type": "pdf"}
        ],
        "commenter_name": "Ann"
    }});
    let out = t.render(&data, OutputMode::Text).expect("renders");
    assert!(out.contains("a.png ( u1 ) (1KB png)"), "{out}");
    assert!(out.contains("b.pdf ( u2 ) (2KB pdf)"));
    assert!(out.contains("By Ann at "));
}
