//! `arkbridge login` and `arkbridge logout`: sign in to the configured OIDC provider with the
//! device authorization grant and keep the tokens in the per-user cache, or delete that cache.
//!
//! The tokens are credentials: they are never printed or logged, and the cache file (mode 0600)
//! is the only place they are written. What is printed is the verification URI and the user code,
//! which the person types into the provider's page.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use arkbridge_core::config::{Config, IdentityProvider, OidcSection};
use arkbridge_engine::VerifiedUser;
use arkbridge_identity::{DEFAULT_SCOPES, DeviceFlow, TokenCache, system_unix};

use crate::cli::{LoginArgs, LogoutArgs};

fn oidc(config: &Config) -> anyhow::Result<&OidcSection> {
    match (config.identity.provider, &config.identity.oidc) {
        (IdentityProvider::Oidc, Some(oidc)) => Ok(oidc),
        _ => anyhow::bail!(
            "the config's identity provider is `{}`: there is nothing to sign in to (login is \
             for identity.provider = \"oidc\")",
            config.identity.provider.as_str()
        ),
    }
}

pub(crate) async fn login(args: LoginArgs) -> anyhow::Result<ExitCode> {
    if let Some(server) = &args.remote.server {
        return crate::remote_login::login(server, args.remote.ca_cert.as_deref()).await;
    }
    let config_path = args
        .config
        .as_deref()
        .context("--config or --server is required")?;
    let config = Config::load(config_path)?;
    let oidc = oidc(&config)?;
    let cache = TokenCache::for_client(&oidc.issuer, &oidc.client_id)?;
    let flow = DeviceFlow::discover(&oidc.issuer, &oidc.client_id, oidc.ca_cert.as_deref())
        .await
        .with_context(|| format!("cannot start the sign-in at {}", oidc.issuer))?;
    let auth = flow.start(DEFAULT_SCOPES).await?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "To sign in, open {} and enter the code:",
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
    // The new tokens are verified right away, so that a misconfigured claim or audience shows
    // now rather than at the next run.
    match VerifiedUser::signed_in(&config).await {
        Ok(user) => {
            println!(
                "signed in as {} (groups: {}); tokens kept in {}",
                user.email,
                if user.groups.is_empty() {
                    "none".to_string()
                } else {
                    user.groups.join(", ")
                },
                cache.path().display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let _ = cache.remove();
            anyhow::bail!("the provider's tokens do not verify, so they were not kept: {e}")
        }
    }
}

pub(crate) async fn logout(args: LogoutArgs) -> anyhow::Result<ExitCode> {
    if let Some(server) = &args.server {
        return crate::remote_login::logout(server);
    }
    let config_path = args
        .config
        .as_deref()
        .context("--config or --server is required")?;
    let config = Config::load(config_path)?;
    let oidc = oidc(&config)?;
    let cache = TokenCache::for_client(&oidc.issuer, &oidc.client_id)?;
    if cache.remove()? {
        println!(
            "signed out of {}: deleted {}",
            oidc.issuer,
            cache.path().display()
        );
    } else {
        println!("not signed in to {}", oidc.issuer);
    }
    Ok(ExitCode::SUCCESS)
}
