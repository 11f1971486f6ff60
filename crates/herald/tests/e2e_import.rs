//! End to end: `herald import profiles FILE` against a real `herald serve`.

mod support;

use std::process::Command;

use serde_json::json;

use support::{API_KEY, Herald, HeraldOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_imports_a_csv_and_writes_the_rejected_rows() {
    let herald = Herald::start(HeraldOptions::outbox()).await;
    herald
        .post(
            "/v1/identity-namespaces",
            &json!({"code": "loyaltyId", "name": "Loyalty card"}),
            201,
        )
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("people.csv");
    std::fs::write(
        &file,
        "email,phone,loyaltyId,person.name.firstName,person.name.lastName,consents.marketing.email.val\n\
         ann@example.com,+33 6 12 34 56 78,L-1,Ann,Martin,y\n\
         not-an-email,,,Bad,Row,y\n\
         bob@Example.COM,+44 20 7946 0958,,Bob,Smith,n\n\
         carol@example.com,12,,Carol,Jones,y\n\
         ,,,Nobody,Here,n\n",
    )
    .expect("write csv");
    let rejected = dir.path().join("people.rejected");

    let out = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["import", "profiles"])
        .arg(&file)
        .args(["--url", &herald.base_url(), "--api-key", API_KEY])
        .arg("--rejected")
        .arg(&rejected)
        .env_remove("HERALD_CONFIG")
        .output()
        .expect("run herald import");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains("created 2, updated 0, rejected 3"),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );

    // The good rows landed, normalized.
    let ann = herald.get("/v1/profiles/phone/+33612345678").await;
    assert_eq!(ann["attributes"]["person"]["name"]["lastName"], "Martin");
    assert_eq!(ann["identities"].as_array().unwrap().len(), 3);
    let bob = herald.get("/v1/profiles/email/bob@example.com").await;
    assert_eq!(
        bob["attributes"]["consents"]["marketing"]["email"]["val"],
        "n"
    );
    let (status, _) = herald
        .request(
            reqwest::Method::GET,
            "/v1/profiles/email/carol@example.com",
            None,
        )
        .await;
    assert_eq!(status, 404, "a rejected row writes nothing");

    // The rejected file: line, reason and the original row, in line order.
    let text = std::fs::read_to_string(&rejected).expect("rejected file");
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[0][0], "3");
    assert!(lines[0][1].contains("not an email address"), "{text}");
    assert_eq!(lines[0][2], "not-an-email,,,Bad,Row,y");
    assert_eq!(lines[1][0], "5");
    assert!(lines[1][1].contains("phone"), "{text}");
    assert_eq!(lines[1][2], "carol@example.com,12,,Carol,Jones,y");
    assert_eq!(lines[2][0], "6");
    assert!(lines[2][1].contains("no identity"), "{text}");

    // NDJSON by extension, the default rejected path, the key from the env.
    let nd = dir.path().join("more.ndjson");
    std::fs::write(
        &nd,
        "{\"identities\": [{\"namespace\": \"email\", \"id\": \"ann@example.com\"}], \"attributes\": {\"preferredLanguage\": \"fr-FR\"}}\n\
         {\"identities\": [{\"namespace\": \"fax\", \"id\": \"1\"}]}\n",
    )
    .expect("write ndjson");
    let out = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["import", "profiles"])
        .arg(&nd)
        .args(["--url", &herald.base_url()])
        .env("HERALD_API_KEY", API_KEY)
        .env_remove("HERALD_CONFIG")
        .output()
        .expect("run herald import");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("created 0, updated 1, rejected 1"),
        "{stdout}"
    );
    let text = std::fs::read_to_string(dir.path().join("more.ndjson.rejected"))
        .expect("default rejected file");
    assert!(
        text.starts_with("2\tunknown identity namespace 'fax'\t{"),
        "{text}"
    );
    let ann = herald.get("/v1/profiles/loyaltyId/L-1").await;
    assert_eq!(ann["attributes"]["preferredLanguage"], "fr-FR");
    assert_eq!(ann["attributes"]["person"]["name"]["firstName"], "Ann");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_creates_a_static_audience_from_a_file() {
    let herald = Herald::start(HeraldOptions::outbox()).await;
    for email in ["ann@example.com", "bob@example.com"] {
        let (status, body) = herald
            .request(
                reqwest::Method::PUT,
                &format!("/v1/profiles/email/{email}"),
                Some(&json!({"attributes": {"person": {"name": {"firstName": "A"}}}})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("vip.txt");
    std::fs::write(
        &file,
        "ann@example.com\n\nemail,bob@EXAMPLE.COM\nghost@example.com\n",
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["import", "audience"])
        .arg(&file)
        .args([
            "--name",
            "VIP",
            "--url",
            &herald.base_url(),
            "--api-key",
            API_KEY,
        ])
        .output()
        .expect("run herald import audience");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("3 members"), "{stdout}");
    let id = stdout
        .split_whitespace()
        .nth(1)
        .expect("audience id")
        .to_string();
    let e = herald.get(&format!("/v1/audiences/{id}/estimate")).await;
    // ghost@ has no profile; bob's domain case is normalized.
    assert_eq!(e["count"], 2, "{e}");

    std::fs::write(&file, "ann@example.com\nnot-an-email\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["import", "audience"])
        .arg(&file)
        .args([
            "--name",
            "Bad",
            "--url",
            &herald.base_url(),
            "--api-key",
            API_KEY,
        ])
        .output()
        .expect("run herald import audience");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("line 2"), "{stderr}");
}
