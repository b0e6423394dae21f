//! Issue 9's browser test: the web UI of `arkbridge demo` (the README's first command, with
//! `--no-browser`, a planted secret in its seed, and the UI's URL read from `web-ui.json`) in
//! real headless Chromium through playwright-core (`tests/browser/web_ui.mjs`, with
//! `/usr/bin/chromium` or `$CHROMIUM`), one scenario after the other:
//!   1. alice signs in at the simulated provider, runs `restart` and watches its masked output
//!      arrive live; the run's comment is then on the page in the Confluence simulator;
//!   2. bob signs in and sees the denial of `restart` with every reason `policy explain` gives;
//!   3. alice edits the block through the Confluence simulator's API, which voids its approval;
//!      carol approves the edited block, which the approvals view then shows approved, and the
//!      engine lets alice run it again.
//!
//! Screenshots of each step are kept under `target/browser-screenshots/` (CI artifacts); they
//! and every log are searched for the secret values. Chromium and npm are required, not
//! optional: without them the test fails and says how to install them (`.ci/run` does).

mod browser_support;
mod support;

use std::path::Path;

use browser_support::{Browser, Demo, confluence, confluence_as, current_secret, start_demo};
use support::{arkbridge, files_containing, rt, seed_with, test_root};

const PLANTED: &str = "Browser-E2E-Secret-5!";
/// What the test's edit of the `restart` block adds to its last line.
const EDIT_MARK: &str = "payments-api restarted (checked)";
/// alice's Confluence API token in the test's seed: she edits the block, as its author would.
const ALICE_TOKEN: &str = "alice-browser-test-token";

/// The demo seed with the planted secret and a Confluence API token for alice. Its `restart`
/// script pauses before its last line, as a real restart waits for the service, so that the
/// output reaches the browser in parts while the run goes on (the test itself never waits for
/// time to pass).
fn demo_seed() -> String {
    let seed = seed_with(PLANTED, "");
    let last = "      echo \"payments-api restarted\"]]>";
    let alice = "  - email: alice@example.com\n    displayName: Alice Martin\n";
    let changed = seed
        .replacen(last, &format!("      sleep 1\n{last}"), 1)
        .replacen(alice, &format!("{alice}    apiToken: {ALICE_TOKEN}\n"), 1);
    assert_eq!(
        changed.len(),
        seed.len() + "      sleep 1\n".len() + "    apiToken: \n".len() + ALICE_TOKEN.len(),
        "the demo seed's layout changed"
    );
    changed
}

/// `arkbridge policy explain` of `restart` for `user`, on the demo's development config.
fn explain(root: &Path, demo: &Demo, name: &str, user: &str, page_id: &str) -> serde_json::Value {
    let config = demo.dir.join("arkbridge.toml");
    let out = arkbridge(
        root,
        name,
        &[
            "policy",
            "explain",
            "--config",
            config.to_str().unwrap(),
            "--user",
            user,
            "--page",
            page_id,
            "--block",
            "restart",
            "--json",
        ],
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "policy explain printed no decision ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Whether the decision's `rule` passed.
fn rule_passed(decision: &serde_json::Value, rule: &str) -> bool {
    decision["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == rule)
        .unwrap_or_else(|| panic!("no rule {rule} in {decision}"))["passed"]
        == true
}

#[test]
fn the_demo_web_ui_in_headless_chromium_runs_with_live_masked_output_explains_a_denial_and_approves_an_edit()
 {
    let root = test_root();
    let r = root.path();
    let browser = Browser::install(r);
    let demo = start_demo(r, &demo_seed());
    let confluence = confluence(&demo);
    let restart = rt()
        .block_on(confluence.find_pages("Restart payments API", None))
        .unwrap()
        .remove(0)
        .id;
    // The demo's own run as alice used the planted secret and rotated it: the browser's run
    // gets the value CyberArk holds now.
    let in_use = current_secret(&demo);
    assert_ne!(in_use, PLANTED, "the demo's run rotated the secret");
    let secrets = [PLANTED, in_use.as_str()];

    // 1. alice runs `restart` and watches its masked output arrive live.
    let alice = browser.scenario(&demo, "alice", "alice@example.com", &restart, &secrets, &[]);
    let run_id = alice["run_id"]
        .as_str()
        .expect("the scenario names its run");
    assert!(alice["live_updates"].as_u64().unwrap() >= 2, "{alice}");
    // The run's result is on the page in the Confluence simulator, masked.
    let comments = rt().block_on(confluence.footer_comments(&restart)).unwrap();
    let comment = comments
        .iter()
        .find(|c| c.body_storage.contains(run_id))
        .unwrap_or_else(|| panic!("no comment of run {run_id} on the page: {comments:?}"));
    assert!(
        comment.body_storage.contains("SUCCEEDED")
            && comment.body_storage.contains("DB_PASSWORD=*****")
            && comment.body_storage.contains("payments-api restarted"),
        "{}",
        comment.body_storage
    );
    let rotated = current_secret(&demo);
    assert_ne!(rotated, in_use, "alice's browser run rotated the secret");

    // 2. bob sees the denial, with each reason the policy gives for it.
    let bob = browser.scenario(&demo, "bob", "bob@example.com", &restart, &secrets, &[]);
    let shown: Vec<&str> = bob["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    let decision = explain(r, &demo, "explain-bob", "bob@example.com", &restart);
    assert_eq!(decision["allowed"], false, "{decision}");
    // Each reason of each rule that failed is shown, marked as the rule that denied it.
    let failed: Vec<(&str, &str)> = decision["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|rule| rule["passed"] == false)
        .flat_map(|rule| {
            let name = rule["rule"].as_str().unwrap();
            let reasons = rule["reasons"].as_array().unwrap();
            reasons.iter().map(move |r| (name, r.as_str().unwrap()))
        })
        .collect();
    assert!(!failed.is_empty(), "{decision}");
    for (rule, reason) in &failed {
        assert!(
            shown
                .iter()
                .any(|s| s.ends_with(reason) && s.contains(rule) && s.contains("DENIED")),
            "the browser does not show {rule}'s {reason:?}: {shown:?}"
        );
    }

    // 3. alice edits the block in Confluence, which voids its approval; carol approves the
    // edited block in the browser, and the engine then lets alice run it again.
    let edited = rt()
        .block_on(
            confluence_as(&demo, "alice@example.com", ALICE_TOKEN).edit_page(
                &restart,
                "check the restart",
                |body| {
                    let line = "echo \"payments-api restarted\"";
                    if body.contains(line) {
                        Ok(body.replacen(line, &format!("echo \"{EDIT_MARK}\""), 1))
                    } else {
                        Err(format!("no {line} in the page"))
                    }
                },
            ),
        )
        .unwrap();
    assert!(edited.changed);
    let before = explain(
        r,
        &demo,
        "explain-alice-edited",
        "alice@example.com",
        &restart,
    );
    assert!(
        !rule_passed(&before, "approval"),
        "the edit voided the approval: {before}"
    );
    let carol = browser.scenario(
        &demo,
        "carol",
        "carol@example.com",
        &restart,
        &secrets,
        &[("EDIT_MARK", EDIT_MARK)],
    );
    let after = explain(
        r,
        &demo,
        "explain-alice-approved",
        "alice@example.com",
        &restart,
    );
    assert!(
        rule_passed(&after, "approval"),
        "carol's approval counts: {after}"
    );
    assert_eq!(after["allowed"], true, "{after}");
    let approved = carol["approved"].as_str().unwrap();
    assert!(
        after.to_string().contains(&approved[..12]),
        "the approved digest {approved} is the block's: {after}"
    );

    browser.assert_screenshots(&[
        "1-alice-output-live",
        "2-alice-run-finished",
        "3-bob-denied",
        "4-carol-approval-pending",
        "5-carol-approved",
    ]);
    // No secret value reached a log or a screenshot.
    for secret in [PLANTED, &in_use, &rotated] {
        let hits = files_containing(&[&r.join("logs"), &browser.shots], secret.as_bytes());
        assert!(hits.is_empty(), "a secret value is in {hits:?}");
    }
}
