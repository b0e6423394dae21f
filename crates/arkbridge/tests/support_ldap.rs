//! Helpers for the LDAP end-to-end test: a real OpenLDAP slapd on an `ldapi://` socket holding
//! the simulator's Confluence users (the sign-in itself is `remote_support`'s `login_as`).
//!
//! The identity crate's slapd harness reads its fixture relative to its own crate and needs
//! dev-dependencies this crate does not have, so the few steps needed here are repeated: the
//! whole directory is loaded with `slapadd` (groups are then found by a member search, which
//! needs no memberof overlay) and the service account's password is stored in the clear, which
//! slapd accepts for simple binds.
//!
//! Cargo also builds this file as a test target of its own, so it uses nothing from `support`.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SUFFIX: &str = "dc=example,dc=test";
pub const SERVICE_DN: &str = "cn=arkbridge,ou=services,dc=example,dc=test";
/// How long slapd may take to answer after it was started.
const READY_WITHIN: Duration = Duration::from_secs(15);

/// A running slapd; killed when dropped or stopped.
pub struct Slapd {
    child: Child,
    pub dir: PathBuf,
    pub url: String,
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The directory: alice in platform-admins, bob in developers, carol in `cab`, which is itself
/// a member of change-approvers (so her approver group is only found by following nesting).
fn directory_ldif(service_password: &str) -> String {
    let mut ldif = format!(
        "dn: {SUFFIX}\nobjectClass: domain\ndc: example\n\n\
         dn: ou=people,{SUFFIX}\nobjectClass: organizationalUnit\nou: people\n\n\
         dn: ou=groups,{SUFFIX}\nobjectClass: organizationalUnit\nou: groups\n\n\
         dn: ou=services,{SUFFIX}\nobjectClass: organizationalUnit\nou: services\n\n\
         dn: {SERVICE_DN}\nobjectClass: person\ncn: arkbridge\nsn: service\n\
         userPassword: {service_password}\n\n"
    );
    for user in ["alice", "bob", "carol"] {
        ldif.push_str(&format!(
            "dn: uid={user},ou=people,{SUFFIX}\nobjectClass: inetOrgPerson\nuid: {user}\n\
             cn: {user}\nsn: Example\nmail: {user}@example.com\n\n"
        ));
    }
    for (group, member) in [
        ("platform-admins", format!("uid=alice,ou=people,{SUFFIX}")),
        ("developers", format!("uid=bob,ou=people,{SUFFIX}")),
        ("cab", format!("uid=carol,ou=people,{SUFFIX}")),
        ("change-approvers", format!("cn=cab,ou=groups,{SUFFIX}")),
    ] {
        ldif.push_str(&format!(
            "dn: cn={group},ou=groups,{SUFFIX}\nobjectClass: groupOfNames\ncn: {group}\n\
             member: {member}\n\n"
        ));
    }
    ldif
}

fn find_tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    // sbin is often not on an ordinary user's PATH.
    dirs.extend(["/usr/sbin", "/usr/local/sbin"].map(PathBuf::from));
    dirs.iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("`{name}` not found: install slapd and ldap-utils"))
}

/// Percent-encodes a socket path for an `ldapi://` URL.
fn encode_socket_path(path: &Path) -> String {
    path.to_str()
        .expect("UTF-8 temp path")
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl Slapd {
    /// Loads the directory and starts slapd on a socket in `root/ldap`, bound by the service
    /// account with `service_password` once it answers.
    pub fn start(root: &Path, service_password: &str) -> Slapd {
        let dir = root.join("ldap");
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let modules = ["/usr/lib/ldap", "/usr/lib64/openldap", "/usr/lib/openldap"]
            .into_iter()
            .find(|d| Path::new(d).join("back_mdb.la").exists())
            .unwrap_or("/usr/lib/ldap");
        let schema = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../identity/tests/fixtures/ldap/schema.conf");
        let conf = dir.join("slapd.conf");
        std::fs::write(
            &conf,
            format!(
                "include {schema}\nmodulepath {modules}\nmoduleload back_mdb\n\
                 pidfile {d}/slapd.pid\nargsfile {d}/slapd.args\n\
                 database mdb\nmaxsize 16777216\nsuffix \"{SUFFIX}\"\n\
                 rootdn \"cn=admin,{SUFFIX}\"\ndirectory {d}/data\n\
                 access to attrs=userPassword by anonymous auth by * none\n\
                 access to * by dn.exact=\"{SERVICE_DN}\" read by anonymous auth by * none\n",
                schema = schema.display(),
                d = dir.display(),
            ),
        )
        .unwrap();
        let ldif = dir.join("directory.ldif");
        std::fs::write(&ldif, directory_ldif(service_password)).unwrap();
        let out = Command::new(find_tool("slapadd"))
            .arg("-q")
            .arg("-f")
            .arg(&conf)
            .arg("-l")
            .arg(&ldif)
            .env("LDAPNOINIT", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "slapadd failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let socket = dir.join("ldapi");
        assert!(
            socket.as_os_str().len() < 100,
            "socket path {} is too long for ldapi://",
            socket.display()
        );
        let url = format!("ldapi://{}", encode_socket_path(&socket));
        let log = std::fs::File::create(dir.join("slapd.log")).unwrap();
        let child = Command::new(find_tool("slapd"))
            .args(["-d", "0", "-h", &url, "-f"])
            .arg(&conf)
            .env("LDAPNOINIT", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut slapd = Slapd { child, dir, url };
        slapd.wait_until_ready(service_password);
        slapd
    }

    /// Retries a service-account bind (each attempt a separate `ldapwhoami`) until slapd answers,
    /// bounded by a deadline; slapd exiting early is reported at once.
    fn wait_until_ready(&mut self, service_password: &str) {
        let password_file = self.dir.join("bind.pw");
        std::fs::write(&password_file, service_password).unwrap();
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("slapd exited ({status}): {}", self.log());
            }
            let out = Command::new(find_tool("ldapwhoami"))
                .args(["-x", "-H", &self.url, "-D", SERVICE_DN, "-y"])
                .arg(&password_file)
                .env("LDAPNOINIT", "1")
                .output()
                .unwrap();
            if out.status.success() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "slapd did not answer within {READY_WITHIN:?}: {}",
                self.log()
            );
        }
        std::fs::remove_file(&password_file).unwrap();
    }

    /// Kills slapd and waits for it, leaving a socket nobody listens on.
    pub fn stop(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("slapd.log")).unwrap_or_default()
    }
}
