//! The files and tools a test slapd needs: its `slapd.conf`, the service account entry, where
//! the slapd binaries and modules live on this machine, and a free loopback port.
//!
//! Nothing here reads /etc/ldap: the schema comes from the fixtures, the configuration is written
//! into the test's own directory and slapd is started with `-f` (no cn=config).

use std::path::{Path, PathBuf};

use super::ldif::LdifEntry;
use super::pki::TestPki;
use super::slapd::{ROOT_DN, SERVICE_DN, SUFFIX};

pub(crate) fn slapd_conf(dir: &Path, modules: &Path, pki: Option<&TestPki>) -> String {
    let schema = fixture_dir().join("schema.conf");
    let mut conf = format!(
        "include {schema}\n\
         modulepath {modules}\n\
         moduleload back_mdb\n\
         moduleload memberof\n\
         pidfile {dir}/slapd.pid\n\
         argsfile {dir}/slapd.args\n\
         # The test process (any local user) becomes the rootdn through SASL EXTERNAL on the\n\
         # socket, which only it can reach (the temp dir is private).\n\
         authz-regexp \"^gidnumber=[0-9]+[+]uidnumber=[0-9]+,cn=peercred,cn=external,cn=auth$\" \"{ROOT_DN}\"\n\
         # Simple binds need TLS (or the local socket): a plain TCP bind is refused.\n\
         security simple_bind=56\n",
        schema = schema.display(),
        modules = modules.display(),
        dir = dir.display(),
    );
    if let Some(pki) = pki {
        conf.push_str(&format!(
            "TLSCertificateFile {}\nTLSCertificateKeyFile {}\n",
            pki.server_cert_file.display(),
            pki.server_key_file.display()
        ));
    }
    conf.push_str(&format!(
        "database mdb\n\
         maxsize 16777216\n\
         suffix \"{SUFFIX}\"\n\
         rootdn \"{ROOT_DN}\"\n\
         directory {dir}/data\n\
         # Anonymous clients may only bind; only the service account reads.\n\
         access to attrs=userPassword by anonymous auth by * none\n\
         access to * by dn.exact=\"{SERVICE_DN}\" read by anonymous auth by * none\n\
         overlay memberof\n",
        dir = dir.display(),
    ));
    conf
}

/// The bridge's service account, with an `{{SSHA}}` hash of `password`.
pub(crate) fn service_account(password: &str) -> LdifEntry {
    LdifEntry {
        dn: SERVICE_DN.to_string(),
        attrs: vec![
            ("objectClass".into(), b"person".to_vec()),
            ("cn".into(), b"arkbridge".to_vec()),
            ("sn".into(), b"service".to_vec()),
            ("userPassword".into(), super::ssha(password).into_bytes()),
        ],
    }
}

/// The slapd binaries and module directory of this machine.
pub(crate) struct Tools {
    pub(crate) slapd: PathBuf,
    pub(crate) slapadd: PathBuf,
    pub(crate) modules: PathBuf,
}

impl Tools {
    pub(crate) fn find() -> Tools {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
        // sbin is often not on an ordinary user's PATH.
        dirs.extend(["/usr/sbin", "/usr/local/sbin", "/usr/libexec"].map(PathBuf::from));
        let find = |name: &str| {
            dirs.iter()
                .map(|d| d.join(name))
                .find(|p| p.is_file())
                .unwrap_or_else(|| {
                    panic!("`{name}` not found: install slapd (apt-get install slapd ldap-utils)")
                })
        };
        let modules = ["/usr/lib/ldap", "/usr/lib64/openldap", "/usr/lib/openldap"]
            .map(PathBuf::from)
            .into_iter()
            .find(|d| d.join("memberof.la").exists() || d.join("memberof.so").exists())
            .expect("slapd module directory with memberof (Debian: /usr/lib/ldap)");
        Tools {
            slapd: find("slapd"),
            slapadd: find("slapadd"),
            modules,
        }
    }
}

pub(crate) fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ldap")
}

/// Percent-encodes a socket path for an `ldapi://` URL (every byte but unreserved ones).
pub(crate) fn encode_socket_path(path: &Path) -> String {
    let text = path.to_str().expect("UTF-8 temp path");
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A loopback port that was free a moment ago.
pub(crate) fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("local addr").port()
}
