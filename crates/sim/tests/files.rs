//! The files `start` writes: certificates, `sim.json`, `arkbridge.toml`; and that no account
//! secret reaches the disk.

mod common;

use std::path::Path;

use arkbridge_core::config::{Config, ConfigSecret, Rotation};
use arkbridge_core::policy::Access;
use common::*;
use serde_json::Value;

fn all_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[tokio::test]
async fn writes_consistent_files_and_no_account_secret() {
    let sim = start().await;
    let info = sim.info().clone();
    let dir = sim.dir.path().join("sim");

    for name in [
        "ca.pem",
        "client.pem",
        "client-key.pem",
        "sim.json",
        "arkbridge.toml",
        "arkbridge-oidc.toml",
    ] {
        assert!(dir.join(name).is_file(), "{name}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("client-key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(info.ccp_url.starts_with("https://localhost:"));
    assert!(!info.confluence_url.ends_with("/wiki"));

    let on_disk: arkbridge_sim::SimInfo =
        serde_json::from_slice(&std::fs::read(dir.join("sim.json")).unwrap()).unwrap();
    assert_eq!(on_disk, info);
    let debug = format!("{info:?}");
    assert!(!debug.contains(&info.pvwa_password) && !debug.contains(&info.confluence_token));

    let config = Config::load(&dir.join("arkbridge.toml")).unwrap();
    assert_eq!(config.cyberark.ccp.url, info.ccp_url);
    assert_eq!(config.cyberark.ccp.app_id, "arkbridge");
    assert_eq!(
        config.cyberark.ccp.client_key.as_deref(),
        Some(info.client_key.as_path())
    );
    assert_eq!(config.cyberark.pvwa.username, "arkbridge-svc");
    assert_eq!(
        format!("{:?}", config.cyberark.pvwa.password),
        "Reference(cyberark://Integrations/pvwa-arkbridge-svc)"
    );
    assert!(
        matches!(config.confluence.token, ConfigSecret::Reference(ref r) if r.to_string() == "cyberark://Integrations/confluence-api-token")
    );
    assert_eq!(config.confluence.url, info.confluence_url);
    assert_eq!(config.data_dir, dir.join("data"));
    assert_eq!(config.rotation_for("Prod-DB"), Rotation::AfterRun);
    assert_eq!(config.rotation_for("Prod-DB-RO"), Rotation::None);
    let admins = vec!["platform-admins".to_string()];
    assert_eq!(
        config.access(&admins, "OPS", "Prod-DB"),
        Some(Access::Write)
    );
    assert_eq!(
        config.local_user_groups("bob@example.com"),
        Some(&["developers".to_string()][..])
    );
    assert_eq!(config.local_user_groups("arkbridge@example.com"), None);

    // The OIDC variant differs only in who vouches for users: the simulator's provider, through
    // its public CLI client, with groups from the token.
    let oidc = Config::load(&dir.join("arkbridge-oidc.toml")).unwrap();
    let section = oidc.identity.oidc.as_ref().unwrap();
    assert_eq!(section.issuer, info.identity.oidc_issuer);
    assert_eq!(section.client_id, "arkbridge-cli");
    assert_eq!(section.ca_cert.as_deref(), Some(info.ca_cert.as_path()));
    assert!(oidc.identity.users.is_empty());
    assert_eq!(oidc.cyberark, config.cyberark);
    assert_eq!(oidc.grants, config.grants);

    // The linked credentials really are the Integrations accounts' secrets.
    let c = client(&info, true);
    let get = |object: &str| {
        let url = format!(
            "{}/AIMWebService/api/Accounts?AppID=arkbridge&Safe=Integrations&Object={object}",
            info.ccp_url
        );
        let c = c.clone();
        async move {
            let v: Value = c.get(url).send().await.unwrap().json().await.unwrap();
            v["Content"].as_str().unwrap().to_string()
        }
    };
    assert_eq!(get("pvwa-arkbridge-svc").await, info.pvwa_password);
    assert_eq!(get("confluence-api-token").await, info.confluence_token);

    // No database secret anywhere under DIR; the bridge's own two credentials only in sim.json
    // (which exists to hand them to a person trying the simulator).
    let mut secrets = Vec::new();
    for (safe, object) in [("Prod-DB", "payments-db"), ("Prod-DB-RO", "payments-db-ro")] {
        let url = format!(
            "{}/AIMWebService/api/Accounts?AppID=arkbridge&Safe={safe}&Object={object}",
            info.ccp_url
        );
        let v: Value = c.get(url).send().await.unwrap().json().await.unwrap();
        secrets.push(v["Content"].as_str().unwrap().to_string());
    }
    let mut files = Vec::new();
    all_files(sim.dir.path(), &mut files);
    for file in files {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        for s in &secrets {
            assert!(
                !text.contains(s.as_str()),
                "{} holds an account secret",
                file.display()
            );
        }
        if file.file_name().is_some_and(|n| n != "sim.json") {
            assert!(!text.contains(&info.pvwa_password), "{}", file.display());
            assert!(!text.contains(&info.confluence_token), "{}", file.display());
        }
    }
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn bad_seed_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.yaml");
    std::fs::write(
        &seed,
        "bridge:\n  confluenceUser: x@example.com\n  pvwaUser: nobody\n",
    )
    .unwrap();
    let err = arkbridge_sim::start(arkbridge_sim::SimOptions {
        dir: dir.path().join("out"),
        seed: Some(seed),
        ..Default::default()
    })
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("appId") || err.contains("arkbridge"), "{err}");
}
