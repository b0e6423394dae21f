//! SARIF 2.1.0 (OASIS): one run, the detectors as rules, one result per finding with the page
//! as the artifact (the file path relative to the scanned directory, or the page URL, or
//! `confluence:page/ID`), the secret's `charOffset`/`charLength` in that artifact (counted in
//! Unicode code points, as `columnKind` says), and the fingerprint in `partialFingerprints`.
//! The secret is never put in a `snippet`.

use serde_json::{Value, json};

use crate::{Report, Severity, detectors};

use super::{TOOL_NAME, TOOL_VERSION};

/// SARIF's level for a severity.
fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

/// GitHub code scanning's numeric `security-severity` for a severity.
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
    }
}

/// The report as a SARIF 2.1.0 log.
pub fn sarif(report: &Report) -> String {
    let all = detectors();
    let rules: Vec<Value> = all
        .iter()
        .map(|d| {
            json!({
                "id": d.id,
                "name": d.id,
                "shortDescription": { "text": d.description },
                "defaultConfiguration": { "level": level(d.severity) },
                "properties": {
                    "tags": ["security", "secret", d.category.as_str()],
                    "security-severity": security_severity(d.severity),
                },
            })
        })
        .collect();
    let results: Vec<Value> = report
        .findings()
        .map(|(page, f)| {
            let physical = json!({
                "artifactLocation": { "uri": page.meta.artifact_uri() },
                "region": {
                    "charOffset": f.location.char_offset,
                    "charLength": f.location.char_length,
                },
            });
            let mut location = json!({ "physicalLocation": physical });
            if !f.location.element_path.is_empty() {
                location["logicalLocations"] = json!([{
                    "fullyQualifiedName": f.location.element_path,
                    "kind": "element",
                }]);
            }
            let page_text = match (&page.meta.page_id, &page.meta.title) {
                (Some(id), Some(t)) => format!(" on page {id} ({t})"),
                (Some(id), None) => format!(" on page {id}"),
                _ => String::new(),
            };
            let mut result = json!({
                "ruleId": f.detector,
                "ruleIndex": all.iter().position(|d| d.id == f.detector).unwrap_or(0),
                "level": level(f.severity),
                "message": { "text": format!("{} found{page_text} (redacted {})", f.detector, f.preview) },
                "locations": [location],
                "partialFingerprints": { "secretHash/v1": f.fingerprint },
                "properties": {
                    "severity": f.severity.as_str(),
                    "category": f.category.as_str(),
                    "elementPath": f.location.element_path,
                },
            });
            if let Some(v) = page.meta.version {
                result["properties"]["pageVersion"] = json!(v);
            }
            if let Some(a) = &page.meta.author {
                result["properties"]["pageAuthor"] = json!(a);
            }
            result
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": TOOL_NAME,
                "version": TOOL_VERSION,
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&log).unwrap_or_default()
}
