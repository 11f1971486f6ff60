//! Rendering and compile benchmarks (see BENCHMARKS.md, "Template rendering").
//!
//! `cargo bench -p herald-template --bench render`
//!
//! - `receipt/*`: the Postmark receipt (HTML + text, five line items, eleven `context.`
//!   variables) rendered from its compiled form by Herald and, in the same run, by the
//!   `handlebars` crate from the same source text (the templates need no change: the
//!   data simply has its variables under a top-level `context` key).
//! - `compile/50-locales`: a campaign of 50 locales × (subject + HTML + text) compiled.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use herald_template::{OutputMode, Template};
use serde_json::{Value, json};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

fn fixture(file: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/postmark/receipt")
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn receipt_data() -> Value {
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
                {"description": "Service & Support", "amount": "$5.00"},
                {"description": "Extended warranty (2 years)", "amount": "$12.00"},
                {"description": "Gift wrap", "amount": "$3.00"}
            ],
            "total": "$50.50",
            "support_url": "https://example.com/support",
            "action_url": "https://example.com/receipt.pdf"
        }
    })
}

const SUBJECT: &str = "Your receipt {{context.receipt_id}} from {{context.date}}";

fn receipt(c: &mut Criterion) {
    let (html_src, text_src) = (fixture("content.html"), fixture("content.txt"));
    let data = receipt_data();

    let html = Template::compile(&html_src).expect("receipt html compiles");
    let text = Template::compile(&text_src).expect("receipt text compiles");

    let mut hb_html = handlebars::Handlebars::new();
    hb_html
        .register_template_string("receipt", &html_src)
        .expect("handlebars parses the html");
    // Text bodies are raw in Herald (Decision 2); the fair handlebars equivalent is a
    // registry without escaping.
    let mut hb_text = handlebars::Handlebars::new();
    hb_text.register_escape_fn(handlebars::no_escape);
    hb_text
        .register_template_string("receipt", &text_src)
        .expect("handlebars parses the text");

    // Both engines must do the same work: check the outputs once before timing.
    let ours = html.render(&data, OutputMode::Html).expect("renders");
    let theirs = hb_html
        .render("receipt", &data)
        .expect("handlebars renders");
    for out in [&ours, &theirs] {
        assert_eq!(out.matches("class=\"purchase_item\"").count(), 5);
        assert!(out.contains("Hi Mark &amp; Mary,"));
    }
    let ours_t = text.render(&data, OutputMode::Text).expect("renders");
    let theirs_t = hb_text
        .render("receipt", &data)
        .expect("handlebars renders");
    println!(
        "output bytes: herald html {} + text {}, handlebars html {} + text {}",
        ours.len(),
        ours_t.len(),
        theirs.len(),
        theirs_t.len()
    );

    let mut g = c.benchmark_group("receipt");
    g.throughput(Throughput::Elements(1));
    g.bench_function("herald/html+text", |b| {
        b.iter(|| {
            let h = html.render(black_box(&data), OutputMode::Html);
            let t = text.render(black_box(&data), OutputMode::Text);
            black_box((h, t))
        })
    });
    g.bench_function("handlebars/html+text", |b| {
        b.iter(|| {
            let h = hb_html.render("receipt", black_box(&data));
            let t = hb_text.render("receipt", black_box(&data));
            black_box((h, t))
        })
    });
    g.bench_function("herald/html", |b| {
        b.iter(|| black_box(html.render(black_box(&data), OutputMode::Html)))
    });
    g.bench_function("handlebars/html", |b| {
        b.iter(|| black_box(hb_html.render("receipt", black_box(&data))))
    });
    g.bench_function("herald/text", |b| {
        b.iter(|| black_box(text.render(black_box(&data), OutputMode::Text)))
    });
    g.bench_function("handlebars/text", |b| {
        b.iter(|| black_box(hb_text.render("receipt", black_box(&data))))
    });
    g.finish();
}

/// 50 locales, each with its own subject, HTML and text (a per-locale marker keeps the
/// sources distinct, as translated content would be).
fn campaign_sources() -> Vec<String> {
    let (html_src, text_src) = (fixture("content.html"), fixture("content.txt"));
    let mut out = Vec::with_capacity(150);
    for i in 0..50 {
        out.push(format!("[{i}] {SUBJECT}"));
        out.push(format!("<!-- locale {i} -->\n{html_src}"));
        out.push(format!("locale {i}\n{text_src}"));
    }
    out
}

fn compile(c: &mut Criterion) {
    let sources = campaign_sources();
    let mut g = c.benchmark_group("compile");
    g.throughput(Throughput::Elements(1));
    g.bench_function("50-locales", |b| {
        b.iter(|| {
            for s in &sources {
                black_box(Template::compile(black_box(s)).expect("compiles"));
            }
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = receipt, compile
}
criterion_main!(benches);
