//! A real OpenLDAP slapd per test, in a private temporary directory.
//!
//! `Slapd::start` writes a `slapd.conf` (mdb backend, the memberof overlay, the fixture schema,
//! no cn=config and nothing from /etc/ldap), loads the fixture's non-group entries and a service
//! account with `slapadd`, starts slapd in the foreground on an `ldapi://` socket in the temp dir
//! (plus, with TLS, a StartTLS port and an LDAPS port on free loopback ports), waits until it
//! answers, and adds the `groupOfNames` entries over the socket so that the memberof overlay
//! fills `memberOf` (slapadd bypasses overlays). Dropping the value kills slapd and removes the
//! directory. It works as root (CI) and as an ordinary user.

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use arkbridge_identity::{LdapConfig, LdapDirectory};
use ldap3::{LdapConnAsync, Mod};
use secrecy::SecretString;

use super::ldif::{self, LdifEntry};
use super::pki::{self, TestPki};
pub(crate) use super::slapd_setup::free_port;
use super::slapd_setup::{Tools, encode_socket_path, fixture_dir, service_account, slapd_conf};

pub(crate) const SUFFIX: &str = "dc=example,dc=test";
pub(crate) const SERVICE_DN: &str = "cn=arkbridge,ou=services,dc=example,dc=test";
pub(crate) const ROOT_DN: &str = "cn=admin,dc=example,dc=test";
/// How long slapd may take to answer after it was started.
const READY_WITHIN: Duration = Duration::from_secs(15);
/// Attempts when a chosen loopback port was taken by someone else in the meantime.
const PORT_ATTEMPTS: usize = 3;

/// Where each phase of the start went, for the report and for slow-machine diagnosis.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timings {
    pub(crate) slapadd: Duration,
    pub(crate) until_ready: Duration,
    pub(crate) load_groups: Duration,
}

/// Where slapd listens besides its `ldapi://` socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listen {
    SocketOnly,
    /// A StartTLS port and an LDAPS port, with a certificate from a test CA.
    Tls,
    /// A plain TCP port on a server without any TLS certificate (StartTLS cannot succeed).
    TcpWithoutTls,
}

/// A running slapd.
pub(crate) struct Slapd {
    dir: tempfile::TempDir,
    child: Child,
    service_password: String,
    pub(crate) ldapi_url: String,
    /// `ldap://127.0.0.1:PORT`: StartTLS with [`Listen::Tls`], plain with
    /// [`Listen::TcpWithoutTls`].
    pub(crate) starttls_url: Option<String>,
    /// `ldaps://127.0.0.1:PORT`, with [`Listen::Tls`] only.
    pub(crate) ldaps_url: Option<String>,
    pub(crate) pki: Option<TestPki>,
    pub(crate) timings: Timings,
}

impl Drop for Slapd {
    fn drop(&mut self) {
        // SIGKILL: the database is thrown away with the directory, so nothing needs flushing.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Slapd {
    /// slapd on an `ldapi://` socket only.
    pub(crate) async fn start() -> Slapd {
        Self::launch(Listen::SocketOnly).await
    }

    /// slapd on the socket and the listeners `listen` names.
    pub(crate) async fn start_listening(listen: Listen) -> Slapd {
        Self::launch(listen).await
    }

    /// A connection over the socket, bound as the service account, that bypasses the client
    /// under test.
    async fn service_connection(&self) -> ldap3::Ldap {
        let (conn, mut ldap) = LdapConnAsync::new(&self.ldapi_url).await.expect("connect");
        tokio::spawn(async move { conn.drive().await });
        let bind = ldap
            .simple_bind(SERVICE_DN, &self.service_password)
            .await
            .expect("bind");
        assert_eq!(bind.rc, 0, "{bind}");
        ldap
    }

    /// Reads `attribute` of the entry `dn` directly (as the service account over the socket),
    /// to check the fixture itself rather than the client under test.
    pub(crate) async fn read_attribute(&self, dn: &str, attribute: &str) -> Vec<String> {
        let mut ldap = self.service_connection().await;
        let (entries, _) = ldap
            .search(dn, ldap3::Scope::Base, "(objectClass=*)", vec![attribute])
            .await
            .expect("search")
            .success()
            .expect("search result");
        let _ = ldap.unbind().await;
        entries
            .into_iter()
            .flat_map(|e| {
                ldap3::SearchEntry::construct(e)
                    .attrs
                    .into_values()
                    .flatten()
            })
            .collect()
    }

    /// Runs `filter` under the suffix as the service account and returns the matching DNs.
    pub(crate) async fn raw_search(&self, filter: &str) -> Vec<String> {
        let mut ldap = self.service_connection().await;
        let (entries, _) = ldap
            .search(SUFFIX, ldap3::Scope::Subtree, filter, vec!["1.1"])
            .await
            .expect("search")
            .success()
            .expect("search result");
        let _ = ldap.unbind().await;
        entries
            .into_iter()
            .map(|e| ldap3::SearchEntry::construct(e).dn)
            .collect()
    }

    /// The service account's password.
    pub(crate) fn password(&self) -> SecretString {
        SecretString::from(self.service_password.clone())
    }

    /// The settings for this directory at `url`, with short timeouts.
    pub(crate) fn config(&self, url: &str) -> LdapConfig {
        let mut config = LdapConfig::new(
            url,
            SERVICE_DN,
            &format!("ou=people,{SUFFIX}"),
            &format!("ou=groups,{SUFFIX}"),
        );
        config.connect_timeout = Duration::from_secs(5);
        config.operation_timeout = Duration::from_secs(5);
        config.ca_file = self.pki.as_ref().map(|p| p.ca_file.clone());
        config
    }

    /// A directory client for `config`, binding with the service password.
    pub(crate) fn directory(&self, config: &LdapConfig) -> LdapDirectory {
        LdapDirectory::new(config, self.password()).expect("valid LDAP config")
    }

    /// What slapd wrote to its log so far (for assertion messages).
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("slapd.log")).unwrap_or_default()
    }

    async fn launch(listen: Listen) -> Slapd {
        let tools = Tools::find();
        let dir = tempfile::Builder::new()
            .prefix("arkbridge-slapd-")
            .tempdir()
            .expect("temp dir");
        let service_password = super::random_hex(24);
        let pki = (listen == Listen::Tls).then(|| pki::generate(dir.path()));
        std::fs::create_dir(dir.path().join("data")).expect("data dir");
        let conf = dir.path().join("slapd.conf");
        std::fs::write(&conf, slapd_conf(dir.path(), &tools.modules, pki.as_ref()))
            .expect("write slapd.conf");

        let fixture = std::fs::read_to_string(fixture_dir().join("directory.ldif"))
            .expect("read directory.ldif");
        let (groups, mut offline): (Vec<LdifEntry>, Vec<LdifEntry>) = ldif::parse(&fixture)
            .into_iter()
            .partition(|e| e.has_class("groupOfNames"));
        offline.push(service_account(&service_password));
        let offline_file = dir.path().join("offline.ldif");
        std::fs::write(&offline_file, ldif::render(&offline)).expect("write offline.ldif");

        let started = Instant::now();
        let out = Command::new(&tools.slapadd)
            .arg("-q")
            .arg("-f")
            .arg(&conf)
            .arg("-l")
            .arg(&offline_file)
            .env("LDAPNOINIT", "1")
            .output()
            .expect("run slapadd");
        assert!(
            out.status.success(),
            "slapadd failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let slapadd = started.elapsed();

        let socket = dir.path().join("ldapi");
        // A Unix socket path is limited to 107 bytes; a long TMPDIR would break the listener.
        assert!(
            socket.as_os_str().len() < 100,
            "socket path {} is too long for ldapi://; set TMPDIR to a shorter directory",
            socket.display()
        );
        let ldapi_url = format!("ldapi://{}", encode_socket_path(&socket));
        let mut attempt = 0;
        let (child, ports, mut admin, until_ready) = loop {
            attempt += 1;
            let ports = (listen != Listen::SocketOnly).then(|| (free_port(), free_port()));
            let mut listeners = vec![ldapi_url.clone()];
            if let Some((plain, secure)) = ports {
                listeners.push(format!("ldap://127.0.0.1:{plain}/"));
                if listen == Listen::Tls {
                    listeners.push(format!("ldaps://127.0.0.1:{secure}/"));
                }
            }
            let _ = std::fs::remove_file(&socket);
            let log = std::fs::File::create(dir.path().join("slapd.log")).expect("log file");
            let started = Instant::now();
            let mut child = Command::new(&tools.slapd)
                // `-d 0` keeps slapd in the foreground (a child we can kill) without debug output.
                .args(["-d", "0", "-h", &listeners.join(" "), "-f"])
                .arg(&conf)
                .env("LDAPNOINIT", "1")
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log handle"))
                .stderr(log)
                .spawn()
                .expect("start slapd");
            match wait_until_ready(&mut child, &ldapi_url).await {
                Ok(admin) => break (child, ports, admin, started.elapsed()),
                Err(exited) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    // An early exit with TCP listeners most likely means a chosen port was taken
                    // between choosing and binding it: try other ports.
                    if !(exited && ports.is_some() && attempt < PORT_ATTEMPTS) {
                        let log = std::fs::read_to_string(dir.path().join("slapd.log"));
                        panic!(
                            "slapd did not become ready (exited: {exited}):\n{}",
                            log.unwrap_or_default()
                        );
                    }
                }
            }
        };
        // The value owns the child from here on, so a failure while loading still kills slapd.
        let mut slapd = Slapd {
            dir,
            child,
            service_password,
            ldapi_url,
            starttls_url: ports.map(|(p, _)| format!("ldap://127.0.0.1:{p}")),
            ldaps_url: ports
                .filter(|_| listen == Listen::Tls)
                .map(|(_, s)| format!("ldaps://127.0.0.1:{s}")),
            pki,
            timings: Timings {
                slapadd,
                until_ready,
                load_groups: Duration::ZERO,
            },
        };
        let loading = Instant::now();
        load_groups(&mut admin, &groups).await;
        let _ = admin.unbind().await;
        slapd.timings.load_groups = loading.elapsed();
        slapd
    }
}

/// Polls the socket until slapd answers an EXTERNAL bind (mapped to the rootdn). `Err(true)`
/// when slapd exited, `Err(false)` when it kept running without answering in time.
async fn wait_until_ready(child: &mut Child, ldapi_url: &str) -> Result<ldap3::Ldap, bool> {
    let deadline = Instant::now() + READY_WITHIN;
    let mut pause = Duration::from_millis(2);
    loop {
        if child.try_wait().expect("poll slapd").is_some() {
            return Err(true);
        }
        if let Ok((conn, mut ldap)) = LdapConnAsync::new(ldapi_url).await {
            tokio::spawn(async move { conn.drive().await });
            if let Ok(result) = ldap.sasl_external_bind().await
                && result.rc == 0
            {
                return Ok(ldap);
            }
        }
        if Instant::now() >= deadline {
            return Err(false);
        }
        // A bounded poll of an external process: real time has to pass for slapd to start.
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Adds the groups in file order, then rewrites each group's members: an entry added before a
/// group that lists it did not get that group in its `memberOf` (the overlay only updates entries
/// that exist), and rewriting the member list once every group exists fixes that, cycles included.
async fn load_groups(admin: &mut ldap3::Ldap, groups: &[LdifEntry]) {
    for group in groups {
        let mut attrs: Vec<(Vec<u8>, HashSet<Vec<u8>>)> = Vec::new();
        for (name, value) in &group.attrs {
            match attrs.iter_mut().find(|(n, _)| n == name.as_bytes()) {
                Some((_, values)) => {
                    values.insert(value.clone());
                }
                None => attrs.push((name.as_bytes().to_vec(), HashSet::from([value.clone()]))),
            }
        }
        let result = admin.add(&group.dn, attrs).await.expect("add group");
        assert_eq!(result.rc, 0, "adding {}: {result}", group.dn);
    }
    for group in groups {
        let members: HashSet<Vec<u8>> = group.values("member").map(<[u8]>::to_vec).collect();
        let result = admin
            .modify(&group.dn, vec![Mod::Replace(b"member".to_vec(), members)])
            .await
            .expect("rewrite members");
        assert_eq!(result.rc, 0, "rewriting members of {}: {result}", group.dn);
    }
}
