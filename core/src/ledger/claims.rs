//! What a registry's signed checkpoint claims besides its size and root, held against what
//! the ledger's entries up to that size give: the one rule the audit and the export verifier
//! (`ledger import-verify`, `ledger import`, npm `verifyExport`) both apply.
//!
//! A cairn checkpoint may carry two claim lines (docs/FORMATS.md): `cairn.trust-root`, the
//! newest trust-root version the ledger records, and `cairn.revocations`, the revocation map
//! its revocations build. Bundle verifiers rely on both (a bundle whose trust chain stops
//! short of the named root is refused; a non-membership proof is checked against the named
//! map), so a log key that signed a line the ledger does not bear out would mislead them.
//! A line that is absent claims nothing (checkpoints from before the line, or of other logs);
//! a line that is present must match exactly.

use alloc::format;
use alloc::string::String;

use crate::checkpoint::{RevocationsRef, TrustRootRef};
use crate::encoding::hex_encode;
use crate::error::{Error, ErrorCode, Result};

/// What the ledger's entries `[0, size)` give for the claim lines of a checkpoint at `size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerClaims {
    /// The newest trust-root version recorded (`None` before the first `trust_root_updated`).
    pub trust_root: Option<TrustRootRef>,
    /// The revocation map the entries' revocations build.
    pub revocations: RevocationsRef,
}

fn describe_root(r: Option<TrustRootRef>) -> String {
    match r {
        Some(r) => format!("trust root version {} ({})", r.version, hex_encode(&r.id)),
        None => "no trust root".into(),
    }
}

/// Checks the claim lines among a checkpoint's `extensions` against `want`, what the ledger
/// up to the checkpoint's size gives. A broken or repeated line is `malformed`; a line that
/// names anything else is `proof_invalid`, its detail naming both.
///
/// ```
/// use cairn_core::checkpoint::{RevocationsRef, TrustRootRef};
/// use cairn_core::ledger::{check_checkpoint_claims, LedgerClaims};
/// use cairn_core::revocation::empty_root;
/// let root = TrustRootRef { version: 2, id: [7; 32] };
/// let want = LedgerClaims {
///     trust_root: Some(root),
///     revocations: RevocationsRef { count: 0, root: empty_root() },
/// };
/// // No line claims nothing; the right lines pass.
/// check_checkpoint_claims(&[], &want)?;
/// let lines = [root.to_line(), want.revocations.to_line()];
/// check_checkpoint_claims(&lines, &want)?;
/// // A line naming an older trust root does not.
/// let old = TrustRootRef { version: 1, id: [6; 32] }.to_line();
/// let refused = check_checkpoint_claims(&[old], &want);
/// assert!(refused.is_err_and(|e| e.code().as_str() == "proof_invalid"));
/// # Ok::<(), cairn_core::Error>(())
/// ```
pub fn check_checkpoint_claims(extensions: &[String], want: &LedgerClaims) -> Result<()> {
    if let Some(named) = TrustRootRef::from_extensions(extensions)? {
        if Some(named) != want.trust_root {
            return Err(Error::new(
                ErrorCode::ProofInvalid,
                format!(
                    "it names {} but the ledger's entries give {}",
                    describe_root(Some(named)),
                    describe_root(want.trust_root)
                ),
            ));
        }
    }
    if let Some(line) = RevocationsRef::from_extensions(extensions)? {
        if line != want.revocations {
            return Err(Error::new(
                ErrorCode::ProofInvalid,
                format!(
                    "it commits to {line} but the ledger's revocations give {}",
                    want.revocations
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::revocation::empty_root;
    use alloc::vec;
    use alloc::vec::Vec;

    /// Every way a line can stand against the ledger, with the code it gives.
    #[test]
    fn claim_lines_against_the_ledger() {
        let root = |version, byte| TrustRootRef {
            version,
            id: [byte; 32],
        };
        let none_revoked = RevocationsRef {
            count: 0,
            root: empty_root(),
        };
        let one_revoked = RevocationsRef {
            count: 1,
            root: [9; 32],
        };
        let want = LedgerClaims {
            trust_root: Some(root(2, 2)),
            revocations: one_revoked,
        };
        let no_root = LedgerClaims {
            trust_root: None,
            revocations: none_revoked,
        };
        let other = String::from("cairn.trust-roots 2 whatever");
        let cases: Vec<(&str, Vec<String>, &LedgerClaims, Option<&str>)> = vec![
            ("no lines", vec![], &want, None),
            ("lines of other kinds", vec![other.clone()], &want, None),
            (
                "both lines right",
                vec![root(2, 2).to_line(), one_revoked.to_line()],
                &want,
                None,
            ),
            ("the root alone", vec![root(2, 2).to_line()], &want, None),
            (
                "an older root",
                vec![root(1, 1).to_line()],
                &want,
                Some("proof_invalid"),
            ),
            (
                "the right version, another id",
                vec![root(2, 3).to_line()],
                &want,
                Some("proof_invalid"),
            ),
            (
                "a root the ledger lacks",
                vec![root(1, 1).to_line()],
                &no_root,
                Some("proof_invalid"),
            ),
            (
                "no root line while the ledger has one",
                vec![one_revoked.to_line()],
                &want,
                None,
            ),
            (
                "revocations behind",
                vec![none_revoked.to_line()],
                &want,
                Some("proof_invalid"),
            ),
            (
                "right root, wrong revocations",
                vec![root(2, 2).to_line(), none_revoked.to_line()],
                &want,
                Some("proof_invalid"),
            ),
            (
                "two root lines",
                vec![root(2, 2).to_line(), root(2, 2).to_line()],
                &want,
                Some("malformed"),
            ),
            (
                "a broken root line",
                vec!["cairn.trust-root 02 ab".into()],
                &want,
                Some("malformed"),
            ),
        ];
        for (name, lines, want, code) in cases {
            let got = check_checkpoint_claims(&lines, want);
            assert_eq!(
                got.as_ref().err().map(|e| e.code().as_str()),
                code,
                "{name}: {got:?}"
            );
        }
        let e = check_checkpoint_claims(&[root(1, 1).to_line()], &want).unwrap_err();
        assert!(e.detail().contains("names trust root version 1"), "{e}");
        assert!(e.detail().contains("give trust root version 2"), "{e}");
    }
}
