//! Issue 8's end-to-end test: `arkbridge scan` finds the secrets pasted on the demo space's
//! "Legacy DB notes" page, `arkbridge vault --apply` moves them into CyberArk and puts their
//! references on the page as a minimal edit, and a rescan is clean. Also a `--path` scan of
//! exported files in SARIF, and `--fail-on` for CI.

mod support;

use support::*;

const TABLE_PASSWORD: &str = "Winter2024!Payments";
const AWS_SECRET: &str = "q8Vb3nR2x7KpLm4TzW9cYf6HdJ1sGe5UoAiQw0Ex";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn scan_vault_and_rescan_the_demo_space() {
    let root = test_root();
    let r = root.path();
    let sim = start_sim(r, &seed_with("Scan-Planted-Secret-31", ""));
    let config = sim.config_path.to_str().unwrap();
    let page = page_id_by_title(&sim, "Legacy DB notes");
    let before = rt()
        .block_on(confluence(&sim).get_page(&page))
        .unwrap()
        .body_storage;
    assert!(before.contains(TABLE_PASSWORD) && before.contains(AWS_SECRET));

    // The scan finds both, prints only masked previews, and fails CI at --fail-on high.
    let out = arkbridge(
        r,
        "scan",
        &[
            "scan",
            "--config",
            config,
            "--space",
            "OPS",
            "--format",
            "json",
            "--fail-on",
            "high",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    let on_page: Vec<&serde_json::Value> = findings
        .iter()
        .filter(|f| f["page"]["page_id"] == page.as_str())
        .collect();
    let detectors: Vec<&str> = on_page
        .iter()
        .map(|f| f["finding"]["detector"].as_str().unwrap())
        .collect();
    assert!(detectors.contains(&"table-password"), "{detectors:?}");
    assert!(
        detectors.contains(&"aws-secret-access-key"),
        "{detectors:?}"
    );
    assert!(on_page.iter().all(|f| f["new"] == true));
    let ids: Vec<String> = on_page
        .iter()
        .filter(|f| {
            matches!(
                f["finding"]["detector"].as_str(),
                Some("table-password" | "aws-secret-access-key")
            )
        })
        .map(|f| f["id"].to_string())
        .collect();
    assert_eq!(ids.len(), 2, "{on_page:?}");

    // A second scan knows them: nothing new.
    let out = arkbridge(
        r,
        "rescan-unchanged",
        &[
            "scan", "--config", config, "--space", "OPS", "--since", "last",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // The plan changes nothing.
    let mut vault = vec!["vault"];
    vault.extend(ids.iter().map(String::as_str));
    vault.extend([
        "--config",
        config,
        "--safe",
        "Vaulted-Secrets",
        "--platform",
        "GenericSecret",
        "--as",
        "alice@example.com",
        "--json",
    ]);
    let out = arkbridge(r, "vault-plan", &vault);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        plan["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["outcome"] == "planned")
    );
    let unchanged = rt().block_on(confluence(&sim).get_page(&page)).unwrap();
    assert_eq!(unchanged.body_storage, before);

    // --apply moves them.
    vault.push("--apply");
    let out = arkbridge(r, "vault-apply", &vault);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let done: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = done["items"].as_array().unwrap();
    assert!(items.iter().all(|i| i["outcome"] == "vaulted"), "{items:?}");
    let reference_of = |detector: &str| {
        items.iter().find(|i| i["detector"] == detector).unwrap()["reference"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let table_ref = reference_of("table-password");
    let aws_ref = reference_of("aws-secret-access-key");

    // The page now holds the references where the values were, and nothing else changed.
    let after = rt().block_on(confluence(&sim).get_page(&page)).unwrap();
    let expected = before
        .replacen(TABLE_PASSWORD, &table_ref, 1)
        .replacen(AWS_SECRET, &aws_ref, 1);
    assert_eq!(after.body_storage, expected);

    // CyberArk hands the new accounts out through the CCP (vault compared the values before
    // editing the page; the CPM may since have changed them, as vault asked it to).
    let ccp = arkbridge_cyberark::CcpClient::new(&sim.config.cyberark.ccp).unwrap();
    for reference in [&table_ref, &aws_ref] {
        let object = reference.rsplit('/').next().unwrap();
        let query = arkbridge_cyberark::CcpQuery::for_account("Vaulted-Secrets", object);
        let account = rt().block_on(ccp.get(&query)).unwrap();
        assert!(!secrecy::ExposeSecret::expose_secret(account.content()).is_empty());
    }

    // The rescan is clean: the references are ours, not findings.
    let out = arkbridge(
        r,
        "rescan",
        &[
            "scan",
            "--config",
            config,
            "--page",
            &page,
            "--format",
            "json",
            "--fail-on",
            "low",
        ],
    );
    let rescan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        rescan["findings"],
        serde_json::json!([]),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // No value reached a file of the bridge or a log.
    for value in [TABLE_PASSWORD, AWS_SECRET] {
        let dirs = [r.join("logs"), r.join("tmp"), sim.config.data_dir.clone()];
        let dirs: Vec<&std::path::Path> = dirs.iter().map(|d| d.as_path()).collect();
        assert_eq!(
            files_containing(&dirs, value.as_bytes()),
            Vec::<std::path::PathBuf>::new()
        );
    }
}

#[test]
fn path_scan_writes_sarif_with_file_offsets() {
    let root = test_root();
    let r = root.path();
    let export = r.join("export");
    std::fs::create_dir_all(export.join("OPS")).unwrap();
    let page = format!(
        "<p>DB</p><table><tbody><tr><th><p>User</p></th><th><p>Password</p></th></tr>\
         <tr><td><p>admin</p></td><td><p>{TABLE_PASSWORD}</p></td></tr></tbody></table>"
    );
    std::fs::write(export.join("OPS/legacy.xhtml"), &page).unwrap();
    std::fs::write(export.join("OPS/notes.txt"), TABLE_PASSWORD).unwrap();
    let sarif_path = r.join("out.sarif");
    let out = arkbridge(
        r,
        "scan-path",
        &[
            "scan",
            "--path",
            export.to_str().unwrap(),
            "--format",
            "sarif",
            "--output",
            sarif_path.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let sarif_text = std::fs::read_to_string(&sarif_path).unwrap();
    assert!(!sarif_text.contains(TABLE_PASSWORD));
    let sarif: serde_json::Value = serde_json::from_str(&sarif_text).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(
        results.len(),
        1,
        "only the .xhtml file is read: {results:?}"
    );
    let location = &results[0]["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], "OPS/legacy.xhtml");
    let offset = location["region"]["charOffset"].as_u64().unwrap() as usize;
    let length = location["region"]["charLength"].as_u64().unwrap() as usize;
    let highlighted: String = page.chars().skip(offset).take(length).collect();
    assert_eq!(highlighted, TABLE_PASSWORD);
}

/// A value removed from a page stays in its history and is found with `--history`; a password
/// in a footer comment is found with `--comments`; `--since` a date after the last edit reads no
/// page, and `--since last` only pages changed since the previous scan.
#[test]
fn history_comments_and_incremental_scans() {
    let root = test_root();
    let r = root.path();
    let sim = start_sim(r, &seed_with("Scan-Planted-Secret-32", ""));
    let config = sim.config_path.to_str().unwrap();
    let page = page_id_by_title(&sim, "Legacy DB notes");
    let c = confluence(&sim);
    let rt = rt();
    // Someone removes the table password from the page (a new version).
    let current = rt.block_on(c.get_page(&page)).unwrap();
    let cleaned = current
        .body_storage
        .replacen(TABLE_PASSWORD, "ask the DBA", 1);
    rt.block_on(c.update_page(&current, &cleaned, "remove the password"))
        .unwrap();
    // And someone else posts one in a comment.
    rt.block_on(c.create_footer_comment(&page, "<p>the password is Hunter2-Zebra!77</p>"))
        .unwrap();

    let scan = |name: &str, extra: &[&str]| {
        let mut args = vec![
            "scan", "--config", config, "--page", &page, "--format", "json",
        ];
        args.extend(extra);
        let out = arkbridge(r, name, &args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["finding"]["detector"].as_str().unwrap().to_string(),
                    f["page"]["title"].as_str().unwrap().to_string(),
                )
            })
            .collect::<Vec<_>>()
    };
    let plain = scan("scan-current", &[]);
    assert!(
        plain.iter().all(|(d, _)| d != "table-password"),
        "{plain:?}"
    );
    let history = scan("scan-history", &["--history"]);
    assert!(
        history
            .iter()
            .any(|(d, t)| d == "table-password" && t.contains("(version 1)")),
        "{history:?}"
    );
    let comments = scan("scan-comments", &["--comments"]);
    assert!(
        comments.iter().any(|(_, t)| t.contains("(comment ")),
        "{comments:?}"
    );

    // Space scans: a date in the future reads nothing; `last` reads the space once, then only
    // what changed since.
    let space_scan = |name: &str, since: &str| {
        let out = arkbridge(
            r,
            name,
            &[
                "scan", "--config", config, "--space", "OPS", "--since", since, "--format", "json",
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["documents"].as_u64().unwrap()
    };
    assert_eq!(space_scan("since-future", "2999-01-01"), 0);
    assert!(space_scan("since-last-1", "last") >= 5);
    let pages = rt
        .block_on(c.find_pages("Runbook conventions", None))
        .unwrap();
    let p = &pages[0];
    let later = rt.block_on(c.update_page(p, &format!("{}<p>edited</p>", p.body_storage), "edit"));
    later.unwrap();
    // Pages changed within the minute of the last scan are read again (CQL has minutes), so
    // the second incremental scan reads the edited page and at most the ones of that minute.
    let second = space_scan("since-last-2", "last");
    assert!(second >= 1, "{second}");
}
