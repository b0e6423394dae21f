//! `arkbridge approve` and `arkbridge policy explain|plan|apply`.

use std::process::ExitCode;

use anyhow::Context;
use arkbridge_core::config::{Config, IdentityProvider};
use arkbridge_core::policy::Decision;
use arkbridge_engine::{Bridge, EngineError, VerifiedUser};

use crate::cli::{ApplyArgs, ApproveArgs, ExplainArgs, PlanArgs};
use crate::run_cmd::{fail, report_recovery, warn_identity};

pub(crate) async fn approve(args: ApproveArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(args.config.as_deref().context("--config is required")?)?;
    warn_identity(&config);
    let approver = match VerifiedUser::caller(&config, args.as_user.as_deref()).await {
        Ok(u) => u,
        Err(e) => return Ok(fail(args.json, &e)),
    };
    let (bridge, recovery) = Bridge::connect(config)
        .await
        .context("cannot connect the bridge")?;
    report_recovery(&recovery);
    let approver = match bridge.adopt(approver).await {
        Ok(u) => u,
        Err(e) => {
            bridge.shutdown().await;
            return Ok(fail(args.json, &e));
        }
    };
    let result = bridge
        .approve(&approver, &args.page, args.block.as_deref())
        .await;
    bridge.shutdown().await;
    match result {
        Ok(report) => {
            if args.json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                println!(
                    "approved block `{}` of page {} (version {}, sha256 {}) as {}; audit record {}",
                    report.block,
                    report.page_id,
                    report.page_version,
                    report.script_sha256,
                    report.approver,
                    report.audit_seq
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(fail(args.json, &e)),
    }
}

pub(crate) async fn explain(args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(&args.config)?;
    warn_identity(&config);
    // With `local-trusted` the --user is resolved as it always was; with `oidc` the signed-in
    // user is explained, or (for an approver only) the --user they name.
    let oidc = config.identity.provider == IdentityProvider::Oidc;
    let first = match (oidc, args.user.as_deref()) {
        (false, Some(user)) => VerifiedUser::resolve(&config, user),
        (false, None) => Err(EngineError::Identity(
            "--user EMAIL is required with the local-trusted identity provider".into(),
        )),
        (true, _) => VerifiedUser::caller(&config, None).await,
    };
    let first = match first {
        Ok(u) => u,
        Err(e) => return Ok(fail(args.json, &e)),
    };
    let approver_groups = config.policy.approver_groups.clone();
    let (bridge, recovery) = Bridge::connect(config)
        .await
        .context("cannot connect the bridge")?;
    report_recovery(&recovery);
    let user =
        match explained_user(&bridge, first, oidc, args.user.as_deref(), &approver_groups).await {
            Ok(u) => u,
            Err(e) => {
                bridge.shutdown().await;
                return Ok(fail(args.json, &e));
            }
        };
    let result = bridge
        .explain(&user, &args.page, args.block.as_deref())
        .await;
    bridge.shutdown().await;
    let decision = match result {
        Ok(d) => d,
        Err(e) => return Ok(fail(args.json, &e)),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&decision)?);
    } else {
        print!("{}", render(&decision));
    }
    Ok(if decision.allowed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

/// Whose access `policy explain` shows: with `oidc` the signed-in caller, unless `--user` names
/// someone else, which only a member of an approver group may ask.
async fn explained_user(
    bridge: &Bridge<arkbridge_store::AnyStore>,
    first: VerifiedUser,
    oidc: bool,
    asked: Option<&str>,
    approver_groups: &[String],
) -> Result<VerifiedUser, EngineError> {
    if !oidc {
        return Ok(first);
    }
    let caller = bridge.adopt(first).await?;
    match asked {
        Some(other) if !other.eq_ignore_ascii_case(&caller.email) => {
            if !caller.groups.iter().any(|g| approver_groups.contains(g)) {
                return Err(EngineError::Identity(format!(
                    "{} may explain only their own access: explaining {other} needs membership \
                     of an approver group ({})",
                    caller.email,
                    approver_groups.join(", ")
                )));
            }
            bridge.other_user(other).await
        }
        _ => Ok(caller),
    }
}

/// The decision as people read it: the verdict, then each rule with its reasons.
fn render(d: &Decision) -> String {
    let mut out = format!(
        "{} may {}run block `{}` ({}) of page {} in space {}\n",
        d.user,
        if d.allowed { "" } else { "NOT " },
        d.block,
        d.mode.as_str(),
        d.page_id,
        d.space
    );
    for rule in &d.rules {
        let mark = if rule.passed { "ok    " } else { "DENIED" };
        for (i, reason) in rule.reasons.iter().enumerate() {
            let label = if i == 0 { rule.rule.as_str() } else { "" };
            out.push_str(&format!("  {mark} {label:<16} {reason}\n"));
        }
    }
    out
}

/// Connects the bridge for a policy command (recovery runs first, as for every command).
async fn connect(config: &std::path::Path) -> anyhow::Result<Bridge<arkbridge_store::AnyStore>> {
    let config = Config::load(config)?;
    let (bridge, recovery) = Bridge::connect(config)
        .await
        .context("cannot connect the bridge")?;
    report_recovery(&recovery);
    Ok(bridge)
}

fn print_plan(p: &arkbridge_engine::PolicyPlan) {
    if p.plan.changes.is_empty() {
        println!("CyberArk safe members match the grants: nothing to change");
    } else {
        println!(
            "{} change(s) to make CyberArk match the grants:",
            p.plan.changes.len()
        );
        for c in &p.plan.changes {
            println!("  {}", c.describe());
        }
    }
    for l in &p.plan.left_alone {
        println!("  left alone: {}: {} ({})", l.safe, l.member, l.why);
    }
    for s in &p.not_expressible {
        println!("  note: the grant to {s} names no group, so it has no CyberArk safe member");
    }
}

pub(crate) async fn plan(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let bridge = match connect(&args.config).await {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(ExitCode::from(1));
        }
    };
    let result = bridge.policy_plan(args.prune).await;
    bridge.shutdown().await;
    let p = match result {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&p)?);
    } else {
        print_plan(&p);
    }
    Ok(if p.plan.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

pub(crate) async fn apply(args: ApplyArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(&args.config)?;
    warn_identity(&config);
    let verified = match (config.identity.provider, args.as_user.as_deref()) {
        (IdentityProvider::LocalTrusted, None) => None,
        (_, claimed) => match VerifiedUser::caller(&config, claimed).await {
            Ok(u) => Some(u),
            Err(e) => return Ok(fail(false, &e)),
        },
    };
    let bridge = connect(&args.config).await?;
    let actor = match verified {
        Some(user) => match bridge.adopt(user).await {
            Ok(u) => u.email,
            Err(e) => {
                bridge.shutdown().await;
                return Ok(fail(false, &e));
            }
        },
        None => String::new(),
    };
    let p = match bridge.policy_plan(args.prune).await {
        Ok(p) => p,
        Err(e) => {
            bridge.shutdown().await;
            return Ok(fail(false, &e));
        }
    };
    print_plan(&p);
    if p.plan.is_empty() {
        bridge.shutdown().await;
        return Ok(ExitCode::SUCCESS);
    }
    if !args.yes && !confirm(p.plan.changes.len())? {
        bridge.shutdown().await;
        eprintln!("nothing changed");
        return Ok(ExitCode::from(1));
    }
    let result = bridge.policy_apply(&actor, &p).await;
    bridge.shutdown().await;
    match result {
        Ok(report) => {
            println!(
                "applied {} change(s); audit records {:?}",
                report.applied.len(),
                report.audit_seqs
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(fail(false, &e)),
    }
}

/// Asks on the terminal; refuses when stdin is not one (use --yes in scripts).
fn confirm(n: usize) -> anyhow::Result<bool> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("not a terminal: pass --yes to apply {n} change(s) without asking");
    }
    eprint!("apply {n} change(s)? [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
