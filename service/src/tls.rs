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

/// Builds the server configuration (HTTP/1.1 over TLS 1.2 or 1.3).
pub fn server_config(t: &Tls) -> ServiceResult<ServerConfig> {
    let chain = certs(&t.cert_pem_path, "cert_pem_path")?;
    let key = PrivateKeyDer::from_pem_file(&t.key_pem_path).map_err(|e| {
        ServiceError::config(format!(
            "tls.key_pem_path ({}): {e}",
            t.key_pem_path.display()
        ))
    })?;
    let builder = ServerConfig::builder();
    let builder = match &t.client_ca_pem_path {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for c in certs(ca, "client_ca_pem_path")? {
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
        ServiceError::config(format!(
            "tls: the certificate and key do not go together: {e}"
        ))
    })?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}
