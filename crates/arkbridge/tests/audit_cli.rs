//! The `arkbridge audit` commands, run as the real binary on a store filled through the library:
//! keygen, checkpoints, verify (with and without tampering), proofs checked offline, show and
//! export.

mod support;

use std::path::Path;

use arkbridge_core::audit::{Action, Actor, AuditEvent, AuthMethod, Outcome, Target};
use arkbridge_store::{SqliteStore, Store};
use support::{arkbridge, rt, test_root};

const ORIGIN: &str = "audit.example.com/arkbridge";

/// A config whose only part the audit commands use is `data_dir`.
fn write_config(root: &Path) -> String {
    let path = root.join("arkbridge.toml");
    std::fs::write(
        &path,
        format!(
            r#"data_dir = "{data}"
allow_inline_secrets = true

[identity]
provider = "local-trusted"

[cyberark.ccp]
url = "https://localhost:1"
app_id = "arkbridge"
client_cert = "{root}/client.pem"
client_key = "{root}/client-key.pem"

[cyberark.pvwa]
url = "https://localhost:1"
username = "arkbridge-svc"
password = "unused"

[confluence]
url = "https://localhost:1"
user = "arkbridge@example.com"
token = "unused"
"#,
            data = root.join("data").display(),
            root = root.display()
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

fn append(root: &Path, from: i64, n: i64) {
    rt().block_on(async {
        std::fs::create_dir_all(root.join("data")).unwrap();
        let store = SqliteStore::open(&root.join("data/arkbridge.db"))
            .await
            .unwrap();
        for i in from..from + n {
            let user = if i % 2 == 0 {
                "alice@example.com"
            } else {
                "bob@example.com"
            };
            let event = AuditEvent::new(if i % 2 == 0 {
                Action::CredentialIssued
            } else {
                Action::PolicyDecided
            })
            .at(1_764_504_000_000_000 + i * 1_000_000)
            .by(Actor::user("local-trusted", user, AuthMethod::CliLocal))
            .outcome(if i % 2 == 0 {
                Outcome::Success
            } else {
                Outcome::Denied
            })
            .target(Target::account("Prod-DB", "payments-db"))
            .run(format!("run-{i}"));
            store.append_audit(event).await.unwrap();
        }
        store.close().await;
    });
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn audit_commands_sign_verify_prove_show_and_export() {
    let root = test_root();
    let r = root.path();
    let config = write_config(r);
    append(r, 0, 5);

    // A key pair: the private key (base64 PKCS#8) and the public `name+id+key` line.
    let out = arkbridge(r, "keygen", &["audit", "keygen", "--origin", ORIGIN]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(lines.len(), 2, "{text}");
    std::fs::write(r.join("signing.key"), lines[0]).unwrap();
    std::fs::write(r.join("audit.pub"), lines[1]).unwrap();
    assert!(lines[1].starts_with(&format!("{ORIGIN}+")));
    let key = r.join("signing.key");
    let key = key.to_str().unwrap();
    let public = r.join("audit.pub");
    let public = public.to_str().unwrap();

    let checkpoint = |name: &str| {
        let out = arkbridge(
            r,
            name,
            &[
                "audit",
                "checkpoint",
                "--config",
                &config,
                "--key-file",
                key,
                "--origin",
                ORIGIN,
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        stdout(&out)
    };
    assert!(checkpoint("cp-1").starts_with("checkpoint 1 written: 5 records"));
    append(r, 5, 4);
    let second = checkpoint("cp-2");
    assert!(second.contains(&format!("{ORIGIN}\n9\n")), "{second}");
    std::fs::write(
        r.join("kept.checkpoint"),
        second.split_once('\n').unwrap().1,
    )
    .unwrap();

    let kept = r.join("kept.checkpoint");
    let out = arkbridge(
        r,
        "verify",
        &[
            "audit",
            "verify",
            "--config",
            &config,
            "--pubkey",
            public,
            "--from-checkpoint",
            kept.to_str().unwrap(),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).starts_with("audit log OK: 9 records"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("consistent with 1 checkpoint(s) kept outside the store"),
        "{}",
        stdout(&out)
    );

    // An inclusion proof, written to a file and checked offline with the public key only.
    let proof = r.join("proof.json");
    let out = arkbridge(
        r,
        "proof",
        &[
            "audit",
            "proof",
            "--config",
            &config,
            "--seq",
            "3",
            "--output",
            proof.to_str().unwrap(),
            "--pubkey",
            public,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = arkbridge(
        r,
        "check",
        &[
            "audit",
            "proof",
            "--check",
            proof.to_str().unwrap(),
            "--pubkey",
            public,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("record 3 is included in the signed tree of 9 records"));
    let forged = std::fs::read_to_string(&proof)
        .unwrap()
        .replace("alice@example.com", "mallory@example.com");
    std::fs::write(&proof, forged).unwrap();
    let out = arkbridge(
        r,
        "check-forged",
        &[
            "audit",
            "proof",
            "--check",
            proof.to_str().unwrap(),
            "--pubkey",
            public,
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));

    // Checkpoint 2 extends checkpoint 1.
    let consistency = r.join("consistency.json");
    let out = arkbridge(
        r,
        "consistency",
        &[
            "audit",
            "proof",
            "--config",
            &config,
            "--consistency",
            "1",
            "2",
            "--output",
            consistency.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = arkbridge(
        r,
        "check-c",
        &[
            "audit",
            "proof",
            "--check",
            consistency.to_str().unwrap(),
            "--pubkey",
            public,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("tree of 9 records extends the signed tree of 5"));

    // Show: a table by default, canonical JSON lines with --json.
    let out = arkbridge(
        r,
        "show",
        &[
            "audit",
            "show",
            "--config",
            &config,
            "--user",
            "bob@example.com",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let table = stdout(&out);
    assert_eq!(table.lines().count(), 5, "{table}");
    assert!(
        table
            .lines()
            .nth(1)
            .unwrap()
            .contains("policy.decided  denied"),
        "{table}"
    );
    let out = arkbridge(
        r,
        "show-json",
        &[
            "audit",
            "show",
            "--config",
            &config,
            "--action",
            "credential.issued",
            "--limit",
            "2",
            "--json",
        ],
    );
    let seqs: Vec<i64> = stdout(&out)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, [7, 9]);

    // Export: CEF with CyberArk's labels, from a time on.
    let out = arkbridge(
        r,
        "export",
        &[
            "audit",
            "export",
            "--config",
            &config,
            "--format",
            "cef",
            "--since",
            "2025-11-30T12:00:05Z",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let cef = stdout(&out);
    assert_eq!(cef.lines().count(), 4, "{cef}");
    assert!(
        cef.lines()
            .all(|l| l.starts_with("CEF:0|arkbridge|arkbridge|")
                && l.contains("cs2Label=Safe Name cs2=Prod-DB"))
    );
    let out = arkbridge(
        r,
        "export-bad",
        &["audit", "export", "--config", &config, "--format", "xml"],
    );
    assert_eq!(out.status.code(), Some(2));

    // One changed byte: verify names the record and exits 1.
    rt().block_on(async {
        let url = format!("sqlite://{}", r.join("data/arkbridge.db").display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::query("UPDATE audit SET record = replace(record, 'run-6', 'run-X') WHERE seq = 7")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    });
    let out = arkbridge(
        r,
        "verify-bad",
        &["audit", "verify", "--config", &config, "--pubkey", public],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("audit record 7 is bad"),
        "{}",
        stdout(&out)
    );

    // A public key other than the signer's does not vouch for the checkpoints.
    let out = arkbridge(r, "keygen-2", &["audit", "keygen", "--origin", ORIGIN]);
    let other = stdout(&out).lines().last().unwrap().to_string();
    std::fs::write(r.join("other.pub"), other).unwrap();
    let out = arkbridge(
        r,
        "verify-other-key",
        &[
            "audit",
            "verify",
            "--config",
            &config,
            "--pubkey",
            r.join("other.pub").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("checkpoint 1 is bad"),
        "{}",
        stdout(&out)
    );
}
