//! `arkbridge demo`: everything on embedded defaults, in one process. It starts the simulators
//! with the demo data, connects a bridge to them (SQLite in the demo folder), runs the demo
//! runbook as alice, shows what happened, then keeps serving until Ctrl-C (or exits, `--once`).

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
use crate::run_cmd::{report_recovery, summary, warn_identity};
use crate::sim_cmd::wait_for_shutdown;

const DEMO_PAGE: &str = "Restart payments API";
const DEMO_APPROVER: &str = "carol@example.com";
const DEMO_USER: &str = "alice@example.com";
const DENIED_USER: &str = "bob@example.com";

pub(crate) async fn main(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let dir = std::path::absolute(&args.dir).context("cannot resolve the demo folder")?;
    let sim = arkbridge_sim::start(SimOptions {
        dir: dir.clone(),
        seed: None,
        cpm_delay: Duration::from_millis(500),
    })
    .await
    .context("cannot start the simulators")?;
    let config_path = dir.join("arkbridge.toml");
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

    let pages = bridge.confluence().find_pages(DEMO_PAGE, None).await?;
    let page = pages
        .first()
        .context("the demo page is missing from the simulator")?;
    // The demo ships with the `restart` block approved by carol (change-approvers), as a
    // write block must be before anyone runs it.
    let carol = VerifiedUser::resolve(&config, DEMO_APPROVER)?;
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
    let alice = VerifiedUser::resolve(&config, DEMO_USER)?;
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
    let bob = VerifiedUser::resolve(&config, DENIED_USER)?;
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
        "   arkbridge run {} --config {} --as {DEMO_USER}",
        page.id,
        config_path.display()
    );
    println!(
        "   arkbridge audit verify --config {}",
        config_path.display()
    );
    println!("   Ctrl-C to stop.");
    wait_for_shutdown().await?;
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
