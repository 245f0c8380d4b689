//! The rustls server configuration from `[tls]`: certificate chain and key from PEM files,
//! and, with `client_ca_pem_path`, client certificates required and verified (mutual TLS).

use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::Tls;
use crate::error::{ServiceError, ServiceResult};

fn certs(path: &std::path::Path, key: &str) -> ServiceResult<Vec<CertificateDer<'static>>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| ServiceError::config(format!("tls.{key} ({}): {e}", path.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| ServiceError::config(format!("tls.{key} ({}): {e}", path.display())))?;
    if certs.is_empty() {
        return Err(ServiceError::config(format!(
            "tls.{key} ({}) holds no PEM certificate",
            path.display()
        )));
    }
    Ok(certs)
}

/// The server's private key from `tls.key_pem_path`. A key that is not there, or is
/// encrypted (which rustls cannot read, and which its parser reports only as "no items
/// found"), is a startup error that says which and what to do.
fn private_key(path: &std::path::Path) -> ServiceResult<PrivateKeyDer<'static>> {
    let text = std::fs::read(path)
        .map_err(|e| ServiceError::config(format!("tls.key_pem_path ({}): {e}", path.display())))?;
    PrivateKeyDer::from_pem_slice(&text).map_err(|e| {
        let encrypted = [
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----".as_slice(),
            b"Proc-Type: 4,ENCRYPTED",
        ]
        .iter()
        .any(|mark| text.windows(mark.len()).any(|w| w == *mark));
        let why = if encrypted {
            "the key is encrypted, and the service reads only an unencrypted key: decrypt it \
             (`openssl pkey -in KEY -out PLAIN`) and protect the file by its permissions"
                .to_owned()
        } else if matches!(e, rustls_pki_types::pem::Error::NoItemsFound) {
            "no PEM private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY) in it".to_owned()
        } else {
            e.to_string()
        };
        ServiceError::config(format!("tls.key_pem_path ({}): {why}", path.display()))
    })
}

/// Refuses a client CA file certificate that can anchor no client: a v3 certificate that is
/// not a CA's (RFC 5280 basic constraints with `cA` set) and was issued by another (a client's
/// own certificate given in place of its CA's). rustls would take it as a trust anchor all the
/// same, and then refuse every client, so it is a mistake best reported at startup. Kept: a CA,
/// a v1 certificate (no extensions, as old CAs are), and a self-signed one (a pinned client
/// certificate, which the verifier takes as its own anchor).
fn check_is_ca(cert: &CertificateDer<'_>, n: usize, path: &std::path::Path) -> ServiceResult<()> {
    use x509_cert::der::Decode;
    use x509_cert::ext::pkix::BasicConstraints;
    let at = |why: String| {
        ServiceError::config(format!(
            "tls.client_ca_pem_path ({}), certificate {n}: {why}",
            path.display()
        ))
    };
    let parsed = x509_cert::Certificate::from_der(cert.as_ref())
        .map_err(|e| at(format!("not a readable X.509 certificate: {e}")))?;
    let tbs = &parsed.tbs_certificate;
    let ca = tbs
        .get::<BasicConstraints>()
        .map_err(|e| at(format!("its basic constraints do not decode: {e}")))?
        .is_some_and(|(_, bc)| bc.ca);
    if ca || tbs.issuer == tbs.subject || tbs.version != x509_cert::Version::V3 {
        Ok(())
    } else {
        Err(at(format!(
            "{} is not a CA certificate (no basic constraints with cA set) and was issued by {}: \
             it anchors no client certificate; name the CA that issued the client certificates",
            tbs.subject, tbs.issuer
        )))
    }
}

/// Builds the server configuration (HTTP/1.1 over TLS 1.2 or 1.3).
pub fn server_config(t: &Tls) -> ServiceResult<ServerConfig> {
    let chain = certs(&t.cert_pem_path, "cert_pem_path")?;
    let key = private_key(&t.key_pem_path)?;
    let builder = ServerConfig::builder();
    let builder = match &t.client_ca_pem_path {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for (n, c) in certs(ca, "client_ca_pem_path")?.into_iter().enumerate() {
                check_is_ca(&c, n + 1, ca)?;
                roots.add(c).map_err(|e| {
                    ServiceError::config(format!("tls.client_ca_pem_path ({}): {e}", ca.display()))
                })?;
            }
            let verifier = WebPkiClientVerifier::builder(Arc::new(roots))
                .build()
                .map_err(|e| ServiceError::config(format!("tls.client_ca_pem_path: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut cfg = builder.with_single_cert(chain, key).map_err(|e| {
        let why = match e {
            rustls::Error::InconsistentKeys(_) => {
                "the key is not the certificate's private key".to_owned()
            }
            e => e.to_string(),
        };
        ServiceError::config(format!(
            "tls.key_pem_path ({}) and tls.cert_pem_path ({}) do not go together: {why}",
            t.key_pem_path.display(),
            t.cert_pem_path.display()
        ))
    })?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

/// A bound listener serving `app`: plain HTTP, or TLS when `tls` is given. What `cairn serve`
/// and `cairn witness serve` both run.
pub(crate) struct Listening {
    /// The bound address (the real port when the configuration asked for port 0).
    pub addr: std::net::SocketAddr,
    /// Whether it speaks TLS.
    pub tls: bool,
    /// Shuts it down.
    pub handle: axum_server::Handle,
    /// The serving task.
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Binds `address` and serves `app` on the current tokio runtime: HTTP/1.1, at most
/// `limits.max_connections` connections at once, the TLS handshake, a connection's first byte
/// and each request's headers within `limits.header_timeout_seconds`, each write's progress
/// within `limits.request_timeout_seconds` ([`crate::accept`]), the
/// client's address available to handlers. A bind failure is a configuration error naming the
/// address.
pub(crate) fn listen(
    address: std::net::SocketAddr,
    tls: Option<&Tls>,
    limits: &crate::config::Limits,
    app: axum::Router,
) -> ServiceResult<Listening> {
    use crate::accept::Guarded;
    use axum_server::accept::DefaultAcceptor;
    use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
    use std::net::SocketAddr;
    let header_timeout = std::time::Duration::from_secs(limits.header_timeout_seconds);
    let write_stall = std::time::Duration::from_secs(limits.request_timeout_seconds);
    let listener = std::net::TcpListener::bind(address)
        .map_err(|e| ServiceError::config(format!("address {address}: {e}")))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| ServiceError::internal(format!("listener: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServiceError::internal(format!("listener: {e}")))?;
    let handle = axum_server::Handle::new();
    let make = app.into_make_service_with_connect_info::<SocketAddr>();
    let (task, tls) = match tls {
        None => {
            let mut server = axum_server::from_tcp(listener)
                .acceptor(Guarded::new(
                    DefaultAcceptor,
                    limits.max_connections,
                    header_timeout,
                    write_stall,
                ))
                .handle(handle.clone());
            server
                .http_builder()
                .http1()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(header_timeout);
            (tokio::spawn(server.serve(make)), false)
        }
        Some(t) => {
            let rustls =
                RustlsAcceptor::new(RustlsConfig::from_config(Arc::new(server_config(t)?)))
                    .handshake_timeout(header_timeout);
            let mut server = axum_server::from_tcp(listener)
                .acceptor(Guarded::new(
                    rustls,
                    limits.max_connections,
                    header_timeout,
                    write_stall,
                ))
                .handle(handle.clone());
            server
                .http_builder()
                .http1()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(header_timeout);
            (tokio::spawn(server.serve(make)), true)
        }
    };
    Ok(Listening {
        addr,
        tls,
        handle,
        task,
    })
}
