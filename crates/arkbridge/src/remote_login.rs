//! `arkbridge login --server URL`: asks the server which OpenID Connect provider and public
//! client it accepts (`GET /api/v1/auth/info`), signs in there with the device authorization
//! grant, keeps the tokens in this server's 0600 token cache, and checks them with the server
//! itself, so a sign-in the server would refuse is not kept. It asks for scope `offline_access`
//! too, whose refresh token keeps the sign-in going (`remote_session.rs`); a provider that
//! refuses that scope to the client gets a sign-in that lasts as long as its access token.
//!
//! `arkbridge logout --server URL` deletes that server's folder of token caches, without asking
//! the server (so it works when the server is gone).
//!
//! As with a local sign-in, the tokens are never printed: only the verification URI and the
//! user code, which the person types into the provider's page.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use arkbridge_identity::{
    DEFAULT_SCOPES, DeviceFlow, DeviceFlowError, OFFLINE_SCOPES, system_unix,
};

use crate::remote::{CALL_TIMEOUT, Server, http_error, json_answer, server_dir, signed_out};

pub(crate) async fn login(server: &str, ca_cert: Option<&Path>) -> anyhow::Result<ExitCode> {
    let server = Server::new(server, ca_cert)?;
    let info = server.auth_info().await?;
    let cache = server.cache(&info)?;
    let flow = DeviceFlow::discover(&info.issuer, &info.client_id, ca_cert)
        .await
        .with_context(|| format!("cannot start the sign-in at {}", info.issuer))?;
    let auth = match flow.start(OFFLINE_SCOPES).await {
        Err(DeviceFlowError::Refused { error, .. }) if error == "invalid_scope" => {
            eprintln!(
                "note: the provider does not grant this client `offline_access`, so the sign-in \
                 cannot be refreshed and ends when its access token expires"
            );
            flow.start(DEFAULT_SCOPES).await?
        }
        other => other?,
    };
    {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "To sign in to {}, open {} and enter the code:",
            server.name(),
            auth.verification_uri
        )?;
        writeln!(out, "user code: {}", auth.user_code)?;
        if let Some(complete) = &auth.verification_uri_complete {
            writeln!(out, "(or open {complete})")?;
        }
        writeln!(
            out,
            "Waiting for the sign-in (the code expires in {} minutes)...",
            auth.expires_in.div_ceil(60)
        )?;
        out.flush()?;
    }
    let tokens = flow.poll(&auth).await?;
    cache.save(&tokens, system_unix())?;
    // The server is asked who it sees, with the new tokens, so that a claim or audience it
    // refuses shows now rather than at the first run.
    let stored = cache
        .load()?
        .context("the token cache was emptied while signing in")?;
    let what = "the sign-in check";
    let url = server.url("/api/v1/auth/whoami");
    let checked = async {
        let response = server
            .call(reqwest::Method::GET, "/api/v1/auth/whoami", &stored)
            .timeout(CALL_TIMEOUT)
            .send()
            .await
            .map_err(|e| http_error(what, &url, &e))?;
        json_answer(what, &url, response).await
    }
    .await
    .map_err(|e| signed_out(e, &server));
    match checked {
        Ok(me) => {
            println!(
                "signed in to {} as {} (groups: {}); tokens kept in {}",
                server.name(),
                me["email"].as_str().unwrap_or("?"),
                groups(&me["groups"]),
                cache.path().display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let _ = cache.remove();
            anyhow::bail!("the server does not accept the new sign-in, so it was not kept: {e}")
        }
    }
}

fn groups(value: &serde_json::Value) -> String {
    let names: Vec<&str> = value
        .as_array()
        .map(|a| a.iter().filter_map(|g| g.as_str()).collect())
        .unwrap_or_default();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

pub(crate) fn logout(server: &str) -> anyhow::Result<ExitCode> {
    let url = crate::remote::server_url(server)?;
    let name = url.as_str().trim_end_matches('/');
    let dir = server_dir(&url)?;
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => println!("signed out of {name}: deleted {}", dir.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!("not signed in to {name}");
        }
        Err(e) => anyhow::bail!("cannot delete {}: {e}", dir.display()),
    }
    Ok(ExitCode::SUCCESS)
}
