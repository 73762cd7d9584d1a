//! Test certificates made with rcgen at proxy start: two unrelated CAs, a server certificate
//! and a client certificate from the test CA, and a client certificate from the wrong CA.

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The PEM files of one proxy, in its temporary directory.
#[derive(Debug)]
pub(crate) struct CertFiles {
    pub(crate) ca: PathBuf,
    pub(crate) wrong_ca: PathBuf,
    pub(crate) server_cert: PathBuf,
    pub(crate) server_key: PathBuf,
    pub(crate) client_cert: PathBuf,
    pub(crate) client_key: PathBuf,
    pub(crate) wrong_client_cert: PathBuf,
    pub(crate) wrong_client_key: PathBuf,
}

/// What the proxy's server side needs in memory.
pub(crate) struct ServerMaterial {
    pub(crate) ca: CertificateDer<'static>,
    pub(crate) server_chain: Vec<CertificateDer<'static>>,
    pub(crate) server_key: PrivateKeyDer<'static>,
}

fn rc(e: rcgen::Error) -> io::Error {
    io::Error::other(format!("generating test certificates: {e}"))
}

struct Ca {
    params: CertificateParams,
    key: KeyPair,
    pem: String,
    der: CertificateDer<'static>,
}

fn make_ca(common_name: &str) -> io::Result<Ca> {
    let key = KeyPair::generate().map_err(rc)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let cert = params.self_signed(&key).map_err(rc)?;
    Ok(Ca {
        pem: cert.pem(),
        der: cert.der().clone(),
        params,
        key,
    })
}

/// A leaf certificate signed by `ca`: (certificate PEM, certificate DER, key PEM, key DER).
fn make_leaf(
    ca: &Ca,
    common_name: &str,
    sans: Vec<SanType>,
    usage: ExtendedKeyUsagePurpose,
) -> io::Result<(String, CertificateDer<'static>, String, Vec<u8>)> {
    let key = KeyPair::generate().map_err(rc)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.subject_alt_names = sans;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![usage];
    params.use_authority_key_identifier_extension = true;
    let issuer = Issuer::from_params(&ca.params, &ca.key);
    let cert = params.signed_by(&key, &issuer).map_err(rc)?;
    Ok((
        cert.pem(),
        cert.der().clone(),
        key.serialize_pem(),
        key.serialize_der(),
    ))
}

fn write(dir: &Path, name: &str, contents: &str) -> io::Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, contents)?;
    Ok(path)
}

/// Generates everything and writes the PEM files into `dir`.
pub(crate) fn generate(dir: &Path) -> io::Result<(CertFiles, ServerMaterial)> {
    let ca = make_ca("kafka-testkit CA")?;
    let wrong_ca = make_ca("kafka-testkit unrelated CA")?;
    let localhost = SanType::DnsName(rcgen::string::Ia5String::try_from("localhost").map_err(rc)?);
    let (server_pem, server_der, server_key_pem, server_key_der) = make_leaf(
        &ca,
        "localhost",
        vec![
            localhost,
            SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        ],
        ExtendedKeyUsagePurpose::ServerAuth,
    )?;
    let (client_pem, _, client_key_pem, _) = make_leaf(
        &ca,
        "kafka-testkit client",
        Vec::new(),
        ExtendedKeyUsagePurpose::ClientAuth,
    )?;
    let (wrong_client_pem, _, wrong_client_key_pem, _) = make_leaf(
        &wrong_ca,
        "kafka-testkit client (unrelated CA)",
        Vec::new(),
        ExtendedKeyUsagePurpose::ClientAuth,
    )?;
    let files = CertFiles {
        ca: write(dir, "ca.pem", &ca.pem)?,
        wrong_ca: write(dir, "wrong-ca.pem", &wrong_ca.pem)?,
        server_cert: write(dir, "server.pem", &server_pem)?,
        server_key: write(dir, "server-key.pem", &server_key_pem)?,
        client_cert: write(dir, "client.pem", &client_pem)?,
        client_key: write(dir, "client-key.pem", &client_key_pem)?,
        wrong_client_cert: write(dir, "wrong-client.pem", &wrong_client_pem)?,
        wrong_client_key: write(dir, "wrong-client-key.pem", &wrong_client_key_pem)?,
    };
    let material = ServerMaterial {
        ca: ca.der,
        server_chain: vec![server_der],
        server_key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key_der)),
    };
    Ok((files, material))
}
