//! A throw-away PKI for the LDAP TLS tests, made with rcgen: a CA, a server certificate for
//! `127.0.0.1` and `localhost` signed by it (slapd's), and a second, unrelated CA that must not be
//! trusted for slapd's certificate.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// Where the PEM files were written.
pub(crate) struct TestPki {
    /// The CA that signed slapd's certificate.
    pub(crate) ca_file: PathBuf,
    /// A CA that signed nothing slapd uses.
    pub(crate) other_ca_file: PathBuf,
    pub(crate) server_cert_file: PathBuf,
    pub(crate) server_key_file: PathBuf,
}

fn ca(name: &str) -> (rcgen::Certificate, Issuer<'static, KeyPair>) {
    let key = KeyPair::generate().expect("CA key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let cert = params.self_signed(&key).expect("CA certificate");
    (cert, Issuer::new(params, key))
}

/// Generates the PKI into `dir`.
pub(crate) fn generate(dir: &Path) -> TestPki {
    let (ca_cert, issuer) = ca("arkbridge LDAP test CA");
    let (other_ca_cert, _) = ca("arkbridge LDAP unrelated CA");

    let server_key = KeyPair::generate().expect("server key");
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .expect("server params");
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let server_cert = params
        .signed_by(&server_key, &issuer)
        .expect("server certificate");

    let pki = TestPki {
        ca_file: dir.join("ca.pem"),
        other_ca_file: dir.join("other-ca.pem"),
        server_cert_file: dir.join("server.pem"),
        server_key_file: dir.join("server.key"),
    };
    std::fs::write(&pki.ca_file, ca_cert.pem()).expect("write CA");
    std::fs::write(&pki.other_ca_file, other_ca_cert.pem()).expect("write other CA");
    std::fs::write(&pki.server_cert_file, server_cert.pem()).expect("write server cert");
    std::fs::write(&pki.server_key_file, server_key.serialize_pem()).expect("write server key");
    pki
}
