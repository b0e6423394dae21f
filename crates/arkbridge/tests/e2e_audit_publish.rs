//! Checkpoints from `[audit]` through the real binary against `arkbridge sim`: a run's end signs
//! a checkpoint with the key CyberArk holds and publishes it on a Confluence page;
//! `audit checkpoint` needs no key option; and `audit verify --from-checkpoint` accepts the
//! page property exactly as Confluence returns it.

mod support;

use secrecy::ExposeSecret;
use support::*;

const KEY_NAME: &str = "audit.example.com/arkbridge";

/// The demo seed with the checkpoint key as an account of the bridge's own safe.
fn seed_with_key(private: &str) -> String {
    let marker = "  - name: Integrations\n    description: Credentials the bridge itself uses\n    accounts:\n";
    assert!(
        arkbridge_sim::DEMO_SEED.contains(marker),
        "the demo seed's layout changed"
    );
    arkbridge_sim::DEMO_SEED.replace(
        marker,
        &format!(
            "{marker}      - name: audit-checkpoint-key\n        platformId: CyberArk\n        \
             address: localhost\n        userName: arkbridge-audit\n        \
             automaticManagementEnabled: false\n        secret: \"{private}\"\n"
        ),
    )
}

#[test]
fn a_run_end_and_audit_checkpoint_publish_what_verify_accepts() {
    let root = test_root();
    let r = root.path();
    let (private, public) = arkbridge_audit::keys::generate(KEY_NAME).unwrap();
    let sim = start_sim(r, &seed_with_key(private.expose_secret()));
    let health = page_id_by_title(&sim, "Payments DB health");
    let publish = page_id_by_title(&sim, "Restart payments API");

    // The simulator's config with the [audit] section filled in.
    let mut audit_config = sim.config.clone();
    audit_config.audit.signing_key = Some(arkbridge_core::config::ConfigSecret::Reference(
        "cyberark://Integrations/audit-checkpoint-key"
            .parse()
            .unwrap(),
    ));
    audit_config.audit.key_id = format!("{KEY_NAME}+{:08x}", public.key_id);
    audit_config.audit.checkpoint_interval_minutes = 15;
    audit_config.audit.publish_page = Some(publish.clone());
    let config_path = sim.dir.join("arkbridge-audit.toml");
    std::fs::write(&config_path, audit_config.to_toml()).unwrap();
    let config = config_path.to_str().unwrap();
    let pubkey = r.join("audit.pub");
    std::fs::write(&pubkey, format!("{public}\n")).unwrap();

    let out = arkbridge(
        r,
        "run-health",
        &[
            "run",
            &health,
            "--config",
            config,
            "--as",
            "alice@example.com",
            "--json",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rt = rt();
    let property = || {
        rt.block_on(confluence(&sim).page_property(&publish, arkbridge_audit::PROPERTY_KEY))
            .unwrap()
            .expect("the checkpoint property is set")
    };
    // The run's end signed checkpoint 1 and put it on the page.
    assert_eq!(property().value["checkpoint"], 1);

    // On demand, with the key from the config.
    let out = arkbridge(
        r,
        "checkpoint",
        &["audit", "checkpoint", "--config", config],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("checkpoint 2 written"), "{stdout}");
    assert!(
        stdout.contains(&format!("\u{2014} {KEY_NAME} ")),
        "{stdout}"
    );
    assert!(
        stderr.contains("published as the property arkbridge.audit.checkpoint"),
        "{stderr}"
    );

    // The property, saved as Confluence returns it, is a trusted checkpoint for verify.
    let saved = r.join("published.json");
    let value = property().value;
    assert_eq!(value["checkpoint"], 2);
    std::fs::write(
        &saved,
        serde_json::json!({ "key": arkbridge_audit::PROPERTY_KEY, "value": value }).to_string(),
    )
    .unwrap();
    let out = arkbridge(
        r,
        "verify",
        &[
            "audit",
            "verify",
            "--config",
            config,
            "--pubkey",
            pubkey.to_str().unwrap(),
            "--from-checkpoint",
            saved.to_str().unwrap(),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("consistent with 1 checkpoint(s) kept outside the store"),
        "{stdout}"
    );

    // A file that holds no checkpoint is a clear error, not a broken log.
    std::fs::write(&saved, "{\"value\": {}}").unwrap();
    let out = arkbridge(
        r,
        "verify-bad",
        &[
            "audit",
            "verify",
            "--config",
            config,
            "--pubkey",
            pubkey.to_str().unwrap(),
            "--from-checkpoint",
            saved.to_str().unwrap(),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("holds no checkpoint"), "{stderr}");
}
