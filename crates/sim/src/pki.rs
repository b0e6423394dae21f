//! Throw-away PKI for the simulator: a CA, a server certificate for `localhost` / `127.0.0.1`
//! and a client certificate whose subject CN is the bridge's AppID.
//!
//! Only the CA certificate, the client certificate and the client key leave memory (they are
//! written by the caller); the CA key and the server key never do.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SerialNumber,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::error::SimError;

/// The generated material.
pub(crate) struct Pki {
    pub(crate) ca_pem: String,
    pub(crate) ca_der: CertificateDer<'static>,
    pub(crate) server_chain: Vec<CertificateDer<'static>>,
    pub(crate) server_key: PrivatePkcs8KeyDer<'static>,
    pub(crate) client_cert_pem: String,
    pub(crate) client_key_pem: String,
}

impl Pki {
    pub(crate) fn server_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(self.server_key.clone_key())
    }
}

fn pki_err(e: rcgen::Error) -> SimError {
    SimError::Pki(e.to_string())
}

fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    // Keep the DER INTEGER positive and 16 bytes long.
    bytes[0] = (bytes[0] & 0x7f) | 0x10;
    SerialNumber::from_slice(&bytes)
}

/// Generates the CA, the server certificate and the client certificate for `client_cn`.
pub(crate) fn generate(client_cn: &str) -> Result<Pki, SimError> {
    let ca_key = KeyPair::generate().map_err(pki_err)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(pki_err)?;
    ca_params.distinguished_name = rcgen::DistinguishedName::new();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "arkbridge sim throw-away CA");
    ca_params
        .distinguished_name
        .push(DnType::OrganizationName, "arkbridge sim");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca_params.serial_number = Some(random_serial());
    let ca_cert = ca_params.self_signed(&ca_key).map_err(pki_err)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().map_err(pki_err)?;
    let mut server_params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .map_err(pki_err)?;
    server_params.distinguished_name = rcgen::DistinguishedName::new();
    server_params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    server_params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server_params.serial_number = Some(random_serial());
    server_params.use_authority_key_identifier_extension = true;
    let server_cert = server_params
        .signed_by(&server_key, &issuer)
        .map_err(pki_err)?;

    let client_key = KeyPair::generate().map_err(pki_err)?;
    let mut client_params = CertificateParams::new(Vec::<String>::new()).map_err(pki_err)?;
    client_params.distinguished_name = rcgen::DistinguishedName::new();
    client_params
        .distinguished_name
        .push(DnType::CommonName, client_cn);
    client_params
        .distinguished_name
        .push(DnType::OrganizationName, "arkbridge sim");
    client_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    client_params.serial_number = Some(random_serial());
    client_params.use_authority_key_identifier_extension = true;
    let client_cert = client_params
        .signed_by(&client_key, &issuer)
        .map_err(pki_err)?;

    Ok(Pki {
        ca_pem: ca_cert.pem(),
        ca_der: ca_cert.der().clone(),
        server_chain: vec![server_cert.der().clone()],
        server_key: PrivatePkcs8KeyDer::from(server_key.serialize_der()),
        client_cert_pem: client_cert.pem(),
        client_key_pem: client_key.serialize_pem(),
    })
}

/// Subject CN and serial number (upper-case hex, no separators) of a DER certificate.
pub(crate) fn cert_identity(der: &[u8]) -> Option<(Option<String>, String)> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_string);
    let serial: String = cert
        .tbs_certificate
        .raw_serial()
        .iter()
        .skip_while(|b| **b == 0)
        .map(|b| format!("{b:02X}"))
        .collect();
    Some((cn, serial))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_certificate_carries_the_app_id() {
        let pki = generate("arkbridge").unwrap();
        let pem = pki.client_cert_pem.clone();
        let der = rustls_pki_types::pem::PemObject::from_pem_slice(pem.as_bytes())
            .map(|c: CertificateDer<'static>| c)
            .unwrap();
        let (cn, serial) = cert_identity(&der).unwrap();
        assert_eq!(cn.as_deref(), Some("arkbridge"));
        assert_eq!(serial.len(), 32);
        assert!(pki.client_key_pem.contains("PRIVATE KEY"));
    }
}
