// The op table shared by the vector, fuzz, backend and pack tests: vector op name -> [call
// the export with the case's args, pick the result fields the vector names]. `opsFor(api)`
// builds it over any object with the package's functions (the backend test runs it over both
// backends at once, the pack test over the installed package); this file imports no backend.
import { b64, hexToB64 } from './helpers.mjs';

const keyArg = (k) => ({ algorithm: k.algorithm ?? k.alg, publicKey: k.public_key ?? k.key });
const envelopeArg = (e) => (typeof e === 'string' ? b64(e) : e.compact ? b64(e.compact) : e.json);

const witnessOptions = (a) => ({
  witnesses: a.witnesses,
  quorum: a.quorum,
  now: a.now,
  maxAge: a.max_age ?? undefined,
  maxFutureSkew: a.max_future_skew,
});

export const opsFor = (cairn) => ({
  verify_signature: [
    (a) =>
      cairn.verifySignature({ algorithm: a.algorithm, publicKey: a.public_key }, b64(a.message), a.signature, b64(a.context)),
    () => ({}),
  ],
  key_id: [
    (a) => cairn.keyId({ algorithm: a.algorithm, publicKey: a.public_key }),
    (r) => ({ key_id: r.key_id }),
  ],
  verify_envelope: [
    (a) => cairn.verifyEnvelope(envelopeArg(a.envelope), a.payload_type, a.keys.map(keyArg), a.threshold),
    (r) => ({ signers: r.signers }),
  ],
  verify_token: [
    (a) =>
      cairn.verifyToken(b64(a.token), a.trusted_issuers.map(keyArg), {
        parents: a.parents.map(b64),
        now: a.now,
        revoked: a.revoked,
        audience: a.audience,
        capability: a.capability,
      }),
    (r) => ({
      id: r.id,
      chain_ids: r.chain_ids,
      issuer: r.issuer,
      holder: r.claims.holder_key_id,
      capabilities: r.claims.capabilities,
    }),
  ],
  verify_manifest: [
    (a) =>
      cairn.verifyManifest(b64(a.manifest), a.trusted_signers.map(keyArg), {
        threshold: a.threshold,
        artifact:
          a.artifact !== undefined
            ? b64(a.artifact)
            : a.artifact_sha256 !== undefined
              ? { digest: a.artifact_sha256, size: a.artifact_size }
              : undefined,
      }),
    (r) => ({
      digest: r.digest,
      name: r.claims.name,
      size: r.claims.size,
      sha256: r.claims.sha256,
      signers: r.signers,
    }),
  ],
  verify_checkpoint: [
    (a) =>
      cairn.verifyCheckpoint(
        a.note,
        a.verifiers.map((v) => ({ name: v.name, ...keyArg(v) })),
        a.policy,
      ),
    (r) => ({
      origin: r.origin,
      size: r.size,
      root: hexToB64(r.root),
      extensions: r.extensions,
      signers: r.signers,
    }),
  ],
  merkle_root: [(a) => cairn.merkleRoot(a.leaves.map(b64)), (r) => ({ root: hexToB64(r.root) })],
  verify_inclusion: [
    (a) => cairn.verifyInclusion(a.leaf_hash, a.index, a.tree_size, a.proof, a.root),
    () => ({}),
  ],
  verify_consistency: [
    (a) => cairn.verifyConsistency(a.old_size, a.new_size, a.old_root, a.new_root, a.proof),
    () => ({}),
  ],
  verify_trust_root_chain: [
    (a) => cairn.verifyTrustRootChain(b64(a.pinned), a.chain.map(b64), a.now),
    (r) => ({ version: r.version, root_id: r.root_id }),
  ],
  verify_entry: [
    (a) => cairn.verifyLedgerEntry(b64(a.entry), a.log_keys.map(keyArg), a.threshold),
    (r) => ({ seq: r.seq, time: r.time, kind: r.kind, entry_hash: r.entry_hash }),
  ],
  verify_chain: [
    (a) => cairn.verifyLedgerChain(a.entries.map(b64), a.start),
    (r) => ({ next_seq: r.next_seq, head_hash: r.head_hash, last_time: r.last_time }),
  ],
  verify_export: [
    (a) =>
      cairn.verifyExport(b64(a.stream), {
        origin: a.origin,
        checkpoint: a.checkpoint,
        checkpointKey: a.checkpoint_key == null ? undefined : keyArg(a.checkpoint_key),
      }),
    (r) => ({ entries: r.entries, checkpoints: r.checkpoints, root: r.root, log_key: r.log_key }),
  ],
  verify_bundle: [
    (a) =>
      cairn.verifyBundle(b64(a.bundle), b64(a.trusted_root), {
        now: a.now,
        artifact: a.artifact == null ? undefined : b64(a.artifact),
        revoked: a.revoked,
        maxAge: a.max_age ?? undefined,
      }),
    (r) => ({ kind: r.kind, subject_id: r.subject_id, checkpoint_size: r.checkpoint.size }),
  ],
  // The handle registry's client side (handle.json).
  normalise: [(a) => cairn.normaliseHandle(a.input), (r) => ({ handle: r.handle })],
  blind_index: [
    (a) => cairn.handleBlindIndex(a.pepper, a.input),
    (r) => ({ handle: r.handle, blind_index: r.blind_index }),
  ],
  public_key: [
    (a) => cairn.envelopeKey({ secret: a.secret, kid: a.kid ?? undefined, suite: a.suite }),
    (r) => ({ public_key: r.public_key, derived_kid: r.derived_kid }),
  ],
  seal: [
    (a) =>
      cairn.sealEnvelope(
        { publicKey: a.recipient.public_key, kid: a.recipient.kid ?? undefined, suite: a.recipient.suite },
        new Uint8Array(Buffer.from(a.plaintext, 'hex')),
        { purpose: a.purpose, aad: a.aad, seed: a.seed },
      ),
    (r) => ({ envelope: r.envelope }),
  ],
  open: [
    (a) =>
      cairn.openEnvelope(
        a.keyring.map((k) => ({ secret: k.secret, kid: k.kid ?? undefined, suite: k.suite })),
        a.envelope,
        { purpose: a.purpose, aad: a.aad },
      ),
    (r) => ({ kid: r.kid, plaintext: r.plaintext }),
  ],
  issue_challenge: [
    (a) => cairn.issuePowChallenge(a.secret, { nonce: a.nonce, difficulty: a.difficulty, expires: a.expires }),
    (r) => ({ challenge: r.challenge, id: r.id }),
  ],
  solve: [(a) => cairn.solvePow(a.challenge, { maxIterations: a.max_iterations }), (r) => ({ counter: r.counter })],
  verify_solution: [
    (a) => cairn.verifyPowSolution(a.solution, a.secret, { now: a.now, minDifficulty: a.min_difficulty }),
    (r) => ({ id: r.id, difficulty: r.difficulty, expires: r.expires }),
  ],
  // Bundle refresh (bundle_refresh.json): refresh, then verify the result at `now`.
  refresh_bundle: [
    (a) =>
      cairn.verifyBundle(cairn.refreshBundle(b64(a.bundle), b64(a.pieces)), b64(a.trusted_root), {
        now: a.now,
        maxAge: a.max_age ?? undefined,
      }),
    (r) => ({ checkpoint_size: r.checkpoint.size, not_revoked_as_of: r.not_revoked_as_of.size }),
  ],
  verify_key_request: [
    (a) => cairn.verifyKeyRequest(b64(a.message), a.me, { now: a.now, maxSkew: a.max_skew }),
    (r) => ({
      requester_id: r.requester_id,
      responder_id: r.responder_id,
      requester_key_id: r.requester_key_id,
      timestamp: r.timestamp,
      nonce: r.nonce,
    }),
  ],
  verify_key_response: [
    (a) => cairn.verifyKeyResponse(b64(a.message), a.me, { now: a.now, maxSkew: a.max_skew }),
    (r) => ({
      responder_id: r.responder_id,
      requester_id: r.requester_id,
      key_id: r.key_id,
      algorithm: r.algorithm,
      kem_key_sha256: r.kem_key_sha256,
      request_nonce: r.request_nonce,
      timestamp: r.timestamp,
      nonce: r.nonce,
      has_proof: r.has_proof,
    }),
  ],
  vouch_key_response: [
    (a) =>
      cairn.verifyKeyResponse(b64(a.message), a.me, {
        now: a.now,
        maxSkew: a.max_skew,
        // Entries other than {peer, root} (a mutated vector) go to the export as they are.
        logRoots: a.policy.log_roots.map((l) => (l && typeof l === 'object' && typeof l.root === 'string' ? { peer: l.peer, root: b64(l.root) } : l)),
        bootstrapRoot: a.policy.bootstrap_root === null ? undefined : b64(a.policy.bootstrap_root),
        pinnedKeyId: a.policy.pinned_key_id ?? undefined,
        trustOnFirstUse: a.policy.trust_on_first_use,
        requireHybridCheckpoint: a.policy.require_hybrid_checkpoint,
        maxAge: a.policy.max_age ?? undefined,
      }),
    (r) => ({ rule: r.vouch.rule, key_id: r.vouch.key_id, logged_at: r.vouch.logged_at, not_revoked_as_of: r.vouch.not_revoked_as_of }),
  ],
  // Witness cosignatures (cosignature.json): the witness policy as verifyBundle's CLI twin
  // takes it, the log as verifyCheckpoint's verifiers.
  verify_witnessed_checkpoint: [
    (a) =>
      cairn.verifyWitnessedCheckpoint(a.note, a.log.map((v) => ({ name: v.name, ...keyArg(v) })), a.origin, witnessOptions(a)),
    (r) => ({
      origin: r.origin,
      size: r.size,
      root: hexToB64(r.root),
      extensions: r.extensions,
      signers: r.signers,
      cosigned: r.witnessed.cosigned,
    }),
  ],
  verify_cosignatures: [
    (a) => cairn.verifyCosignatures(a.note, witnessOptions(a)),
    (r) => ({ quorum_met: r.quorum_met, cosigned: r.cosigned }),
  ],
  detect_split_view: [
    (a) => cairn.detectSplitView(a.first, a.second, a.log.map((v) => ({ name: v.name, ...keyArg(v) })), a.origin),
    (r) => ({
      split_view:
        r.split_view === null
          ? null
          : {
              origin: r.split_view.origin,
              size: r.split_view.size,
              roots: r.split_view.roots.map(hexToB64),
              revocations: r.split_view.revocations.map((x) => (x === null ? null : x.line)),
            },
    }),
  ],
  // The revocation map (revocation_map.json).
  map_key: [(a) => cairn.revocationMapKey(a.kind, a.id), (r) => ({ key: r.key })],
  map_root: [
    (a) => cairn.revocationMapRoot(a.revoked),
    (r) => ({ count: r.count, root: hexToB64(r.root) }),
  ],
  verify_membership: [
    (a) => cairn.verifyRevoked(a.root, a.kind, a.id, b64(a.proof)),
    (r) => ({ seq: r.seq }),
  ],
  verify_non_membership: [
    (a) => cairn.verifyNotRevoked(a.root, a.kind, a.id, b64(a.proof)),
    () => ({}),
  ],
  parse_revocations_line: [
    (a) => cairn.parseRevocationsLine(a.line),
    // null for a line of another kind: the vector's `revocations: null`.
    (r) => ({ revocations: r === null ? null : { count: r.count, root: hexToB64(r.root) } }),
  ],
  blux_verify_token: [
    (a) =>
      cairn.bluxVerifyToken(a.token, {
        now: a.now,
        revocations: a.revocations ?? undefined,
        trustedIssuers: a.trusted_issuers ?? undefined,
      }),
    (r) => {
      const out = {
        token_hash: r.token_hash,
        expires_at: r.expires_at,
        issuer_fingerprint: r.issuer_fingerprint,
      };
      if (typeof r.capability === 'string') out.capability = r.capability;
      if (typeof r.audience === 'string') out.audience = r.audience;
      return out;
    },
  ],
  blux_verify_manifest: [
    (a) => cairn.bluxVerifyManifest(a.manifest, a.artifact_sha256, a.keys),
    (r) => ({
      manifest_hash: r.manifest_hash,
      key_fingerprint: r.key_fingerprint,
      artifact_path: r.artifact_path,
    }),
  ],
  blux_verify_ledger: [
    (a) => cairn.bluxVerifyLedger(a.ledger),
    (r) => ({ entries: r.entries, head: r.head }),
  ],
  canonical_json: [
    (a) => cairn.bluxCanonicalJson(a.json),
    (r) => ({ canonical: r.canonical, sha256: r.sha256 }),
  ],
});
