//! The text, JSON, SARIF and HTML outputs: their structure, page metadata, escaping, and that
//! no secret reaches any of them or any Debug print.

mod support;

use arkbridge_scanner::{PageMeta, Report, Severity, report};
use serde_json::Value;

const SECRET: &str = "ghp_R8x2LqP0vN5mZt7KcW3yHs9dFj1Ga4Ub6Ee0";
const PASSWORD: &str = "Hx7!mQ2z<9";

fn sample() -> Report {
    let scanner = support::scanner();
    let page = format!(
        "<p>Grüße: <code>{SECRET}</code></p><table><tbody><tr><th>User</th><th>Password</th></tr><tr><td>sa</td><td>{}</td></tr></tbody></table>",
        PASSWORD.replace('<', "&lt;")
    );
    let from_file = scanner.scan(
        PageMeta {
            path: Some("space/ops/page-1.xhtml".into()),
            title: Some("<script>alert(1)</script> & notes".into()),
            page_id: Some("123".into()),
            version: Some(7),
            author: Some("Ann \"O'Brien\"".into()),
            ..PageMeta::default()
        },
        &page,
    );
    let from_site = scanner.scan(
        PageMeta {
            page_id: Some("456".into()),
            url: Some("https://wiki.example.com/pages/viewpage.action?pageId=456".into()),
            ..PageMeta::default()
        },
        &format!("<p>token: {SECRET}</p>"),
    );
    let bare = scanner.scan(
        PageMeta {
            page_id: Some("789".into()),
            ..PageMeta::default()
        },
        "<p>nothing here</p>",
    );
    Report {
        pages: vec![from_file, from_site, bare],
    }
}

fn no_secret_in(s: &str) {
    assert!(!s.contains(&SECRET[4..]), "secret leaked");
    assert!(!s.contains("Hx7!mQ2z"), "password leaked");
}

#[test]
fn sarif_has_the_required_structure_and_file_relative_regions() {
    let r = sample();
    let out = report::sarif(&r);
    no_secret_in(&out);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["version"], "2.1.0");
    assert_eq!(
        v["$schema"],
        "https://json.schemastore.org/sarif-2.1.0.json"
    );
    let run = &v["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "arkbridge-scanner");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    for res in results {
        let id = res["ruleId"].as_str().unwrap();
        assert_eq!(ids[res["ruleIndex"].as_u64().unwrap() as usize], id);
        assert!(matches!(
            res["level"].as_str(),
            Some("error" | "warning" | "note")
        ));
        assert!(
            res["message"]["text"]
                .as_str()
                .unwrap()
                .contains("redacted")
        );
        assert!(
            res["partialFingerprints"]["secretHash/v1"]
                .as_str()
                .unwrap()
                .starts_with("hmac-sha256:")
        );
    }
    // The region is the secret's place in the file it names.
    let first = &results[0]["locations"][0]["physicalLocation"];
    assert_eq!(first["artifactLocation"]["uri"], "space/ops/page-1.xhtml");
    let off = first["region"]["charOffset"].as_u64().unwrap() as usize;
    let len = first["region"]["charLength"].as_u64().unwrap() as usize;
    let page = format!("<p>Grüße: <code>{SECRET}</code></p>");
    let chars: String = page.chars().skip(off).take(len).collect();
    assert_eq!(chars, SECRET);
    let site = &results[2]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"];
    assert_eq!(
        site,
        "https://wiki.example.com/pages/viewpage.action?pageId=456"
    );
    assert_eq!(
        PageMeta {
            page_id: Some("9".into()),
            ..PageMeta::default()
        }
        .artifact_uri(),
        "confluence:page/9"
    );
}

#[test]
fn json_round_trips_the_pages_and_metadata() {
    let r = sample();
    let out = report::json(&r);
    no_secret_in(&out);
    let v: Value = serde_json::from_str(&out).unwrap();
    let pages: Vec<arkbridge_scanner::PageScan> =
        serde_json::from_value(v["pages"].clone()).unwrap();
    assert_eq!(pages, r.pages);
    assert_eq!(v["pages"][0]["meta"]["version"], 7);
    assert_eq!(v["pages"][0]["findings"][0]["severity"], "critical");
    assert_eq!(
        v["pages"][0]["findings"][1]["category"],
        "confluence-password"
    );
}

#[test]
fn text_lists_each_finding_and_a_summary() {
    let out = report::text(&sample());
    no_secret_in(&out);
    assert_eq!(out.lines().count(), 4);
    assert!(out.contains("[critical] github-token at p/code"), "{out}");
    assert!(out.contains("table/tbody/tr[2]/td[2]"), "{out}");
    assert!(out.ends_with("3 findings on 3 pages\n"), "{out}");
}

#[test]
fn html_is_self_contained_and_escapes_page_text() {
    let out = report::html(&sample());
    no_secret_in(&out);
    assert!(out.starts_with("<!DOCTYPE html>"));
    assert!(!out.contains("<script>"));
    assert!(out.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; notes"));
    assert!(out.contains("Ann &quot;O&#39;Brien&quot;"));
    assert!(!out.contains("src=") && !out.contains("http-equiv"));
    let empty = report::html(&Report::default());
    assert!(empty.contains("No secrets found."));
}

#[test]
fn debug_prints_hold_no_secret() {
    let r = sample();
    no_secret_in(&format!("{r:?}"));
    no_secret_in(&format!("{:?}", support::scanner()));
    let page = format!("<p>{SECRET}</p>");
    no_secret_in(&format!(
        "{:?}",
        arkbridge_scanner::text_view(&page).unwrap()
    ));
}

#[test]
fn max_severity_drives_fail_on() {
    let r = sample();
    assert_eq!(r.max_severity(), Some(Severity::Critical));
    assert_eq!(Report::default().max_severity(), None);
    assert_eq!(Severity::parse("HIGH"), Some(Severity::High));
    assert!(Severity::Medium < Severity::High);
}
