//! The demo's web UI: served on `--listen` (a loopback address) until SIGINT/SIGTERM, signed in
//! to through the simulator's OIDC provider as its `arkbridge-web` client. Its URL is printed,
//! written to `web-ui.json` in the demo folder (for scripts and the browser test), and opened
//! in the desktop's browser unless `--no-browser`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::Context;
use arkbridge_core::config::{Config, ConfigSecret, WebSection};
use arkbridge_engine::Bridge;
use arkbridge_server::{Authenticator, ServerState, WebUi, serve};
use arkbridge_sim::SimHandle;

use crate::sim_cmd::wait_for_shutdown;

/// The simulator's confidential OIDC client for the web UI.
const WEB_CLIENT: &str = "arkbridge-web";
/// The file in the demo folder that names the running web UI.
pub(crate) const WEB_UI_FILE: &str = "web-ui.json";

/// Checks `--listen` before anything starts: the simulated provider sends sign-ins back only to
/// `http://127.0.0.1` (any port), so the web UI must be there.
pub(crate) fn check_listen(listen: SocketAddr) -> anyhow::Result<()> {
    if listen.ip() != IpAddr::V4(Ipv4Addr::LOCALHOST) {
        anyhow::bail!(
            "--listen {listen}: the demo's web UI listens on 127.0.0.1 only (any port, 0 for a \
             free one), where the simulated identity provider sends its sign-ins back"
        );
    }
    Ok(())
}

/// Serves the web UI on `listen` until SIGINT/SIGTERM. The `arkbridge-web` client's secret is
/// the simulator's random one, given inline to this in-memory config only.
pub(crate) async fn serve_web_ui(
    sim: &SimHandle,
    config: &Config,
    dir: &Path,
    listen: SocketAddr,
    users: &[&str],
    open_browser: bool,
) -> anyhow::Result<()> {
    let identity = &sim.info().identity;
    let secret = identity
        .oidc_clients
        .iter()
        .find(|c| c.client_id == WEB_CLIENT)
        .and_then(|c| c.client_secret.clone())
        .with_context(|| format!("the simulator registers no confidential {WEB_CLIENT} client"))?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} for the web UI"))?;
    let address = listener.local_addr().context("no local address")?;
    let mut config = config.clone();
    config.allow_inline_secrets = true;
    config.server.web = Some(WebSection {
        client_id: WEB_CLIENT.into(),
        client_secret: ConfigSecret::Inline(secret),
        public_url: format!("http://{address}"),
        session_ttl_secs: 8 * 3600,
        cookie_secure: None,
    });
    let auth = Authenticator::from_config(&config).context("invalid identity settings")?;
    let grace = Duration::from_secs(config.server.shutdown_grace_secs);
    let (bridge, _) = Bridge::connect(config)
        .await
        .context("cannot connect the web UI's bridge")?;
    let web = WebUi::for_bridge(&bridge).context("cannot set up the web UI")?;
    let url = format!("http://{address}/ui");
    let passwords = dir.join("sim.json");
    let file = dir.join(WEB_UI_FILE);
    // Where the UI is, who may sign in, and where their passwords are: the simulator's
    // `sim.json`, not copied anywhere else.
    let json = serde_json::to_string_pretty(&serde_json::json!({
        "url": url,
        "users": users,
        "passwords": passwords.display().to_string(),
    }))?;
    std::fs::write(&file, json).with_context(|| format!("cannot write {}", file.display()))?;
    println!("\n== the web UI: {url}");
    println!(
        "   sign in as {}; their passwords are in {} (identity.users)",
        users.join(", "),
        passwords.display()
    );
    println!(
        "   the sign-in page is the simulated provider's, on HTTPS with the simulators' own CA \
         ({}): your browser warns about it unless you trust that CA",
        dir.join("ca.pem").display()
    );
    if open_browser {
        open_in_browser(&url);
    }
    println!("   Ctrl-C to stop.");
    let state = ServerState::with_web(std::sync::Arc::new(bridge), auth, web);
    let signal = async {
        if let Err(e) = wait_for_shutdown().await {
            tracing::error!(error = %e, "cannot wait for signals; shutting down");
        }
    };
    let served = serve(listener, state, grace, signal).await;
    // The file names a UI that is no longer there.
    let _ = std::fs::remove_file(&file);
    served?;
    Ok(())
}

/// Asks the desktop to open `url`. Without a graphical session on Linux nothing is tried:
/// `xdg-open` would fall back to a text browser in this very terminal.
fn open_in_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        Some("open")
    } else if cfg!(unix)
        && (std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some())
    {
        Some("xdg-open")
    } else {
        None
    };
    let spawned = opener.is_some_and(|program| {
        Command::new(program)
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            // The opener exits once the browser has the URL; reap it off this task.
            .map(|mut child| {
                std::thread::spawn(move || child.wait());
            })
            .is_ok()
    });
    if spawned {
        println!("   opened in your browser (--no-browser not to)");
    } else {
        println!("   open it in your browser");
    }
}
