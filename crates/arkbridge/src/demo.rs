//! `arkbridge demo`: everything on embedded defaults, in one process. It starts the simulators
//! with the demo data, connects a bridge to them (SQLite in the demo folder), runs the demo
//! runbook as alice, shows what happened, then serves the web UI (signed in to through the
//! simulated OIDC provider; see `demo_web`) until SIGINT/SIGTERM, or exits with `--once`.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use arkbridge_core::config::Config;
use arkbridge_core::storage::plain_text;
use arkbridge_engine::{Bridge, RunRequest, VerifiedUser};
use arkbridge_runner::Stream;
use arkbridge_sim::SimOptions;
use arkbridge_store::Store;

use crate::cli::DemoArgs;
use crate::demo_web::{check_listen, serve_web_ui};
use crate::run_cmd::{report_recovery, summary, warn_identity};
use arkbridge_identity::{CachedTokens, DEFAULT_SCOPES, DeviceFlow, system_unix};
use arkbridge_sim::SimHandle;

const DEMO_PAGE: &str = "Restart payments API";
const DEMO_APPROVER: &str = "carol@example.com";
const DEMO_USER: &str = "alice@example.com";
const DENIED_USER: &str = "bob@example.com";

pub(crate) async fn main(args: DemoArgs) -> anyhow::Result<ExitCode> {
    check_listen(args.listen)?;
    let dir = std::path::absolute(&args.dir).context("cannot resolve the demo folder")?;
    let sim = arkbridge_sim::start(SimOptions {
        dir: dir.clone(),
        seed: args.seed.clone(),
        cpm_delay: Duration::from_millis(500),
    })
    .await
    .context("cannot start the simulators")?;
    // The demo's users are verified by the simulator's OIDC provider, as a real deployment's
    // are by Okta; `arkbridge.toml` (local-trusted) is there for scripted tries.
    let config_path = dir.join("arkbridge-oidc.toml");
    let config = Config::load(&config_path)?;
    warn_identity(&config);
    println!("== arkbridge demo (folder {})", dir.display());
    println!(
        "   CyberArk CCP {}  PVWA {}  Confluence {}",
        sim.info().ccp_url,
        sim.info().pvwa_url,
        sim.info().confluence_url
    );
    let (bridge, recovery) = Bridge::connect(config.clone())
        .await
        .context("cannot connect the bridge")?;
    report_recovery(&recovery);
    println!(
        "   bridge connected: its Confluence token and PVWA password came from CyberArk through the CCP"
    );

    println!(
        "\n== signing in {DEMO_USER}, {DEMO_APPROVER} and {DENIED_USER} at the identity provider {}",
        sim.info().identity.oidc_issuer
    );
    println!(
        "   (OIDC device authorization grant: each user enters the code shown and their password on the provider's /activate page)"
    );
    let (alice, carol, bob) = tokio::try_join!(
        sign_in(&sim, &config, DEMO_USER),
        sign_in(&sim, &config, DEMO_APPROVER),
        sign_in(&sim, &config, DENIED_USER),
    )?;
    let mut users = Vec::new();
    for (user, code) in [alice, carol, bob] {
        let user = bridge.adopt(user).await?;
        println!(
            "   {} signed in with code {code}: ID token verified against the provider's JWKS (sub {}, groups {})",
            user.email,
            user.subject,
            user.groups.join(", ")
        );
        users.push(user);
    }
    let [alice, carol, bob]: [VerifiedUser; 3] = users
        .try_into()
        .map_err(|_| anyhow::anyhow!("three users were signed in"))?;

    let pages = bridge.confluence().find_pages(DEMO_PAGE, None).await?;
    let page = pages
        .first()
        .context("the demo page is missing from the simulator")?;
    // The demo ships with the `restart` block approved by carol (change-approvers), as a
    // write block must be before anyone runs it.
    let approval = bridge
        .approve(&carol, &page.id, Some("restart"))
        .await
        .context("the demo approval failed")?;
    println!(
        "\n== {DEMO_APPROVER} (change-approvers) approved block `restart` (sha256 {}…); any edit voids it",
        &approval.script_sha256[..12]
    );
    println!(
        "\n== running block `restart` of page {} \"{}\" as {DEMO_USER}",
        page.id, page.title
    );
    let request = RunRequest {
        page: page.id.clone(),
        block: Some("restart".into()),
        user: alice,
    };
    // Masked output arrives in chunks that need not end at a line break.
    let mut at_line_start = true;
    let mut sink = move |_: Stream, bytes: &[u8]| {
        let mut out = std::io::stdout().lock();
        for line in String::from_utf8_lossy(bytes).split_inclusive('\n') {
            if at_line_start {
                let _ = out.write_all(b"   | ");
            }
            let _ = out.write_all(line.as_bytes());
            at_line_start = line.ends_with('\n');
        }
        let _ = out.flush();
    };
    let result = bridge.run(&request, &mut sink).await;
    let ok = match &result {
        Ok(report) => {
            println!("\n== result\n   {}", summary(report));
            if let Some(id) = &report.comment_id {
                let comments = bridge.confluence().footer_comments(&page.id).await?;
                if let Some(c) = comments.iter().find(|c| &c.id == id) {
                    println!("\n== footer comment {id} posted on the page");
                    for line in plain_text(&c.body_storage)
                        .unwrap_or_default()
                        .lines()
                        .filter(|l| !l.trim().is_empty())
                    {
                        println!("   > {line}");
                    }
                }
            }
            show_audit(&bridge, &report.run_id).await?;
            report.status == "succeeded"
        }
        Err(e) => {
            println!("\n== the demo run failed: {e}");
            false
        }
    };

    println!("\n== and {DENIED_USER} (group developers) asks for the same block");
    let request = RunRequest {
        page: page.id.clone(),
        block: Some("restart".into()),
        user: bob,
    };
    match bridge.run(&request, &mut |_, _| {}).await {
        Err(e) => println!("   {e}"),
        Ok(_) => println!("   UNEXPECTED: bob was allowed to run it"),
    }
    bridge.shutdown().await;

    if args.once {
        sim.shutdown().await;
        return Ok(if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    println!("\n== the simulators keep serving. Try:");
    println!(
        "   arkbridge login --config {}   (sign in as {DEMO_USER}; her password is in {})",
        config_path.display(),
        dir.join("sim.json").display()
    );
    println!(
        "   arkbridge run {} --config {}",
        page.id,
        config_path.display()
    );
    println!(
        "   arkbridge run {} --config {} --as {DEMO_USER}   (development identity, no sign-in)",
        page.id,
        dir.join("arkbridge.toml").display()
    );
    println!(
        "   arkbridge audit verify --config {}",
        config_path.display()
    );
    serve_web_ui(
        &sim,
        &config,
        &dir,
        args.listen,
        &[DEMO_USER, DENIED_USER, DEMO_APPROVER],
        !args.no_browser,
    )
    .await?;
    sim.shutdown().await;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn show_audit<S: Store>(bridge: &Bridge<S>, run_id: &str) -> anyhow::Result<()> {
    let filter = arkbridge_store::AuditFilter {
        run_id: Some(run_id.to_string()),
        ..Default::default()
    };
    let records = bridge.store().audit_query(&filter, 0, i64::MAX).await?;
    println!("\n== audit records of run {run_id}");
    print!("{}", arkbridge_audit::show::table(&records));
    let report = arkbridge_audit::verify_log(bridge.store(), &Default::default())
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "   audit log verified: {} records, Merkle root {}",
        report.records,
        report.root_base64()
    );
    Ok(())
}

/// Signs `email` in at the simulator's OIDC provider with the device authorization grant, as
/// `arkbridge login` does, playing the person's part on the provider's page; returns the
/// verified user (groups from the token) and the user code they entered. The tokens stay in
/// memory.
async fn sign_in(
    sim: &SimHandle,
    config: &Config,
    email: &str,
) -> anyhow::Result<(VerifiedUser, String)> {
    let oidc = config
        .identity
        .oidc
        .as_ref()
        .context("the demo config has no [identity.oidc]")?;
    let flow = DeviceFlow::discover(&oidc.issuer, &oidc.client_id, oidc.ca_cert.as_deref())
        .await
        .with_context(|| format!("cannot start the sign-in at {}", oidc.issuer))?;
    let auth = flow.start(DEFAULT_SCOPES).await?;
    let person = sim
        .info()
        .identity
        .users
        .iter()
        .find(|u| u.email.eq_ignore_ascii_case(email))
        .with_context(|| format!("{email} is not a user of the simulated provider"))?;
    sim.activate_device(&auth.user_code, &person.email, &person.password)?;
    let tokens = flow.poll(&auth).await?;
    let tokens = CachedTokens {
        id_token: tokens.id_token,
        access_token: tokens.access_token,
        saved_at: system_unix(),
    };
    let user = VerifiedUser::from_tokens(config, &tokens)
        .await
        .with_context(|| format!("the provider's tokens for {email} do not verify"))?;
    Ok((user, auth.user_code))
}
