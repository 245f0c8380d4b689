//! Capability tokens with delegation chains (`verify_token`).
//!
//! Records: the ancestors, root first, then the token. `flags` picks the relying party's
//! options (audience, capability) and whether an ancestor is revoked; `now` is the clock.
//!
//! Mode 0 (even): records are envelopes (compact or JSON) from token.json, verified against
//! every trusted issuer named in the vectors.
//!
//! Mode 1 (odd): records are token claim payloads; each is signed before verification — the
//! root by a fixed trusted issuer, each child by the fixed key that its parent names as
//! holder — so mutations reach claims decoding, time checks, revocation and delegation
//! narrowing.
//!
//! Invariants for an accepted chain: ids and claims are the ones the envelopes carry; the
//! root issuer is trusted; every link is valid at `now`; each child narrows its parent
//! (capabilities, audience, validity); the options asked for hold; revoking any link or
//! moving `now` past the token's expiry makes it fail; verifying again gives the same result.
#![no_main]

use std::sync::OnceLock;

use cairn_core::crypto::PublicKey;
use cairn_core::dsse::Envelope;
use cairn_core::token::{verify_token, TokenClaims, VerifyOptions};
use cairn_core::ErrorCode;
use cairn_fuzz::{all_keys, pool, sign_token_chain, vectors, Input};
use libfuzzer_sys::fuzz_target;

fn vector_issuers() -> &'static [PublicKey] {
    static F: OnceLock<Vec<PublicKey>> = OnceLock::new();
    F.get_or_init(|| all_keys(vectors::TOKEN, "trusted_issuers"))
}

const AUDIENCES: [Option<&str>; 2] = [None, Some("registry.example")];
const CAPABILITIES: [Option<&str>; 4] = [None, Some("read"), Some("publish"), Some("yank")];

fuzz_target!(|data: &[u8]| {
    let input = Input::parse(data);
    if input.records.is_empty() {
        return;
    }
    let pool_issuer = [pool()[0].public_key().clone()];
    let (chain, trusted): (Vec<Envelope>, &[PublicKey]) = if input.mode % 2 == 0 {
        let Some(chain) = input
            .records
            .iter()
            .map(|r| Envelope::parse(r).ok())
            .collect::<Option<Vec<_>>>()
        else {
            return;
        };
        (chain, vector_issuers())
    } else {
        let Some(chain) = sign_token_chain(&input.records) else {
            return;
        };
        (chain, &pool_issuer)
    };
    let (token, parents) = chain.split_last().unwrap();
    let opts = VerifyOptions {
        audience: AUDIENCES[usize::from(input.flags & 1)],
        capability: CAPABILITIES[usize::from(input.flags >> 1) % 4],
    };
    let revoked: Vec<_> = if input.flags & 0x10 != 0 {
        parents.iter().take(1).map(Envelope::id).collect()
    } else {
        Vec::new()
    };
    let now = input.now;
    let first = verify_token(token, parents, trusted, now, &revoked[..], &opts);
    let second = verify_token(token, parents, trusted, now, &revoked[..], &opts);
    assert_eq!(
        first.as_ref().map_err(|e| e.code()),
        second.as_ref().map_err(|e| e.code()),
        "verification is deterministic"
    );
    let Ok(v) = first else {
        return;
    };

    assert_eq!(v.id, token.id());
    assert_eq!(
        v.chain_ids,
        parents.iter().map(Envelope::id).collect::<Vec<_>>()
    );
    assert_eq!(
        Ok(&v.claims),
        TokenClaims::from_payload(&token.payload).as_ref()
    );
    assert!(trusted.contains(&v.issuer), "root issuer is trusted");
    let claims: Vec<TokenClaims> = chain
        .iter()
        .map(|e| TokenClaims::from_payload(&e.payload).expect("accepted links decode"))
        .collect();
    assert_eq!(claims[0].issuer, v.issuer.key_id());
    for c in &claims {
        assert!(
            c.not_before <= now && now < c.expires_at,
            "every link valid now"
        );
    }
    for pair in claims.windows(2) {
        let (p, c) = (&pair[0], &pair[1]);
        assert!(
            c.capabilities.is_subset(&p.capabilities),
            "capabilities narrow"
        );
        assert_eq!(c.audience, p.audience);
        assert!(p.not_before <= c.not_before && c.expires_at <= p.expires_at);
        assert_eq!(
            c.issuer,
            p.holder.key_id(),
            "child issued by parent's holder"
        );
    }
    if let Some(a) = opts.audience {
        assert_eq!(v.claims.audience, a);
    }
    if let Some(cap) = opts.capability {
        assert!(v.claims.grants(cap));
    }
    for e in &chain {
        let ids = [e.id()];
        let r = verify_token(token, parents, trusted, now, &ids[..], &opts);
        assert_eq!(
            r.map_err(|e| e.code()).err(),
            Some(ErrorCode::Revoked),
            "revoking any link"
        );
    }
    let late = verify_token(
        token,
        parents,
        trusted,
        v.claims.expires_at,
        &revoked[..],
        &opts,
    );
    assert_eq!(late.map_err(|e| e.code()).err(), Some(ErrorCode::Expired));
});
