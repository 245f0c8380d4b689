// verifyBundle's k-of-n witness policy (options `witnesses`, `witnessQuorum`, `witnessMaxAge`),
// as `cairn bundle verify --witness-key ... --witness-quorum K --witness-max-age SECS` applies
// it, and the cosignature / split-view exports beside it.
//
// Inputs are deterministic: a bundle of tests/vectors/bundle.json whose checkpoint note gets
// C2SP tlog-cosignature lines (Ed25519 `cosignature/v1`, type 0x04) made here with node:crypto
// by witnesses whose keys come from fixed seeds: an implementation of the cosigner side
// independent of cairn's, so the verifier is checked against the format, not against itself.
// The split-view notes are those of tests/vectors/cosignature.json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as cairn from '../lib/node.mjs';
import { b64, repoRoot, vectorFiles } from './helpers.mjs';

const vectors = Object.fromEntries(vectorFiles().map(({ file, doc }) => [file.replace('.json', ''), doc]));
const bundleCase = vectors.bundle.cases.find((c) => c.name === 'token bundle');
const NOW = bundleCase.args.now;
const ROOT = b64(bundleCase.args.trusted_root);
const BUNDLE = b64(bundleCase.args.bundle);

/** An Ed25519 cosigner from a 32-byte seed: its vkey and a function that cosigns. */
function witness(name, seedByte) {
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.alloc(32, seedByte)]);
  const privateKey = crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  const pub = crypto.createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(12);
  const typed = Buffer.concat([Buffer.from([0x04]), pub]);
  // C2SP signed-note key id: SHA-256(name || "\n" || type || key)[:4].
  const keyId = crypto.createHash('sha256').update(Buffer.concat([Buffer.from(`${name}\n`), typed])).digest().subarray(0, 4);
  return {
    name,
    vkey: `${name}+${keyId.toString('hex')}+${typed.toString('base64')}`,
    /** The cosignature line on checkpoint `text` at time `t`: "cosignature/v1\ntime <t>\n" || text. */
    cosign(text, t) {
      const sig = crypto.sign(null, Buffer.from(`cosignature/v1\ntime ${t}\n${text}`), privateKey);
      const ts = Buffer.alloc(8);
      ts.writeBigUInt64BE(BigInt(t));
      return `\u2014 ${name} ${Buffer.concat([keyId, ts, sig]).toString('base64')}\n`;
    },
  };
}

const W = [witness('witness.test/w1', 0x21), witness('witness.test/w2', 0x22), witness('witness.test/w3', 0x23)];

/** The bundle's checkpoint note (as the package's inspect shows it) and its checkpoint text. */
const NOTE = cairn.inspect(BUNDLE).checkpoint.note;
const TEXT = NOTE.slice(0, NOTE.indexOf('\n\n') + 1);

function varint(n) {
  const out = [];
  for (; n >= 0x80; n >>>= 7) out.push((n & 0x7f) | 0x80);
  out.push(n);
  return Buffer.from(out);
}

/** The bundle with `lines` appended to its checkpoint note (a postcard string: varint length, bytes). */
function withLines(lines) {
  const bytes = Buffer.from(BUNDLE);
  const note = Buffer.from(NOTE);
  const at = bytes.indexOf(note);
  const len = varint(note.length);
  assert.ok(at > len.length && bytes.subarray(at - len.length, at).equals(len), 'checkpoint note found in the bundle');
  const next = Buffer.concat([note, Buffer.from(lines.join(''))]);
  return new Uint8Array(Buffer.concat([bytes.subarray(0, at - len.length), varint(next.length), next, bytes.subarray(at + note.length)]));
}

const verify = (bundle, options) => cairn.verifyBundle(bundle, ROOT, { now: NOW, ...options });
const code = (fn) => {
  try {
    fn();
  } catch (e) {
    assert.equal(e.name, 'CairnError', `${e.name}: ${e.message}`);
    return e.code;
  }
  return 'verified';
};

test('cosignature lines added to a bundle leave it valid, and no policy means no witness verdict', () => {
  const b = withLines([W[0].cosign(TEXT, NOW - 10)]);
  const v = verify(b);
  assert.equal(v.valid, true);
  assert.equal(v.witnessed, null);
  assert.equal(verify(BUNDLE).witnessed, null);
});

test('verifyBundle: 2 of 3 witnesses cosigned, quorum 2', () => {
  const b = withLines([W[0].cosign(TEXT, NOW - 10), W[1].cosign(TEXT, NOW - 20)]);
  const v = verify(b, { witnesses: W.map((w) => w.vkey), witnessQuorum: 2 });
  assert.deepEqual(v.witnessed, {
    quorum: 2,
    counted: 2,
    quorum_met: true,
    cosigned: [
      { witness: 'witness.test/w1', type: 'ed25519', timestamp: NOW - 10, standing: 'counted' },
      { witness: 'witness.test/w2', type: 'ed25519', timestamp: NOW - 20, standing: 'counted' },
    ],
  });
  // Names of the caller's choosing ({name, vkey}) are what the verdict reports.
  const named = verify(b, { witnesses: W.map((w, i) => ({ name: `w${i + 1}`, vkey: w.vkey })), witnessQuorum: 2n });
  assert.deepEqual(named.witnessed.cosigned.map((c) => c.witness), ['w1', 'w2']);
  // Quorum 0 requires nothing and still reports who cosigned.
  assert.equal(verify(BUNDLE, { witnesses: W.map((w) => w.vkey), witnessQuorum: 0 }).witnessed.quorum_met, true);
});

test('verifyBundle: quorum not met is threshold_not_met; the default quorum is every witness listed', () => {
  const one = withLines([W[0].cosign(TEXT, NOW - 10)]);
  assert.equal(code(() => verify(one, { witnesses: W.map((w) => w.vkey), witnessQuorum: 2 })), 'threshold_not_met');
  const two = withLines([W[0].cosign(TEXT, NOW - 10), W[1].cosign(TEXT, NOW - 10)]);
  // As the CLI: without witnessQuorum, all three must have cosigned.
  assert.equal(code(() => verify(two, { witnesses: W.map((w) => w.vkey) })), 'threshold_not_met');
  assert.equal(verify(two, { witnesses: [W[0].vkey, W[1].vkey] }).witnessed.counted, 2);
  assert.equal(code(() => verify(BUNDLE, { witnesses: [W[0].vkey] })), 'threshold_not_met');
  // A quorum above the number of witnesses is a usage error.
  assert.equal(code(() => verify(two, { witnesses: [W[0].vkey], witnessQuorum: 2 })), 'malformed');
});

test('verifyBundle: a wrong witness key does not count, a bad line of a policy witness fails the bundle', () => {
  const b = withLines([W[0].cosign(TEXT, NOW - 10), W[1].cosign(TEXT, NOW - 10)]);
  // w1's name with w3's key: w1's line is not that key's, so it is ignored (C2SP signed-note).
  const impostor = witness('witness.test/w1', 0x23);
  assert.equal(code(() => verify(b, { witnesses: [impostor.vkey, W[1].vkey], witnessQuorum: 2 })), 'threshold_not_met');
  assert.equal(verify(b, { witnesses: [impostor.vkey, W[1].vkey], witnessQuorum: 1 }).witnessed.cosigned.length, 1);
  // A line that names a policy witness's key but does not verify refuses the note.
  const line = W[0].cosign(TEXT, NOW - 10);
  const raw = Buffer.from(line.trim().split(' ').pop(), 'base64');
  raw[raw.length - 1] ^= 0x01;
  const bad = withLines([`\u2014 witness.test/w1 ${raw.toString('base64')}\n`, W[1].cosign(TEXT, NOW - 10)]);
  assert.equal(code(() => verify(bad, { witnesses: [W[0].vkey, W[1].vkey], witnessQuorum: 1 })), 'signature_invalid');
  // Vkeys that are not cosigner keys.
  assert.equal(code(() => verify(b, { witnesses: ['witness.test/w1+00000000+AQ=='] })), 'unsupported_algorithm');
  assert.equal(code(() => verify(b, { witnesses: ['not a vkey'] })), 'malformed');
  assert.equal(code(() => verify(b, { witnesses: [W[0].vkey, W[0].vkey] })), 'malformed');
  assert.equal(code(() => verify(b, { witnesses: W[0].vkey })), 'malformed');
});

test('verifyBundle: cosignatures older than witnessMaxAge are stale, future ones not yet valid', () => {
  const old = withLines([W[0].cosign(TEXT, NOW - 7200), W[1].cosign(TEXT, NOW - 7200)]);
  const policy = { witnesses: [W[0].vkey, W[1].vkey], witnessQuorum: 2 };
  assert.equal(verify(old, policy).witnessed.quorum_met, true);
  assert.equal(code(() => verify(old, { ...policy, witnessMaxAge: 3600 })), 'stale');
  const mixed = withLines([W[0].cosign(TEXT, NOW - 60), W[1].cosign(TEXT, NOW - 7200)]);
  const v = verify(mixed, { ...policy, witnessQuorum: 1, witnessMaxAge: 3600 });
  assert.deepEqual(v.witnessed.cosigned.map((c) => c.standing), ['counted', 'stale']);
  assert.equal(code(() => verify(mixed, { ...policy, witnessMaxAge: 3600 })), 'stale');
  const future = withLines([W[0].cosign(TEXT, NOW + 3600), W[1].cosign(TEXT, NOW)]);
  assert.equal(code(() => verify(future, policy)), 'not_yet_valid');
  assert.equal(verify(future, { ...policy, witnessMaxFutureSkew: 7200 }).witnessed.counted, 2);
});

test('verifyBundle: witnesses that cosigned another tree of the same size (a split view) vouch for nothing here', () => {
  // The fork: the same origin and size with another root. Cosignatures on it, attached to the
  // bundle's checkpoint, do not verify on its text: the note is refused.
  const lines = TEXT.split('\n');
  lines[2] = Buffer.alloc(32, 0xee).toString('base64');
  const fork = lines.join('\n');
  assert.notEqual(fork, TEXT);
  const b = withLines([W[0].cosign(fork, NOW - 10), W[1].cosign(fork, NOW - 10)]);
  assert.equal(code(() => verify(b, { witnesses: [W[0].vkey, W[1].vkey] })), 'signature_invalid');
  // Witnesses outside the policy are ignored: the fork's cosigners just do not count.
  assert.equal(code(() => verify(b, { witnesses: [W[2].vkey] })), 'threshold_not_met');
});

// The forked log of tests/vectors/cosignature.json: two log-signed checkpoints of size 10; the
// honest witnesses cosigned the first, only the dishonest one the second.
test('verifyWitnessedCheckpoint and detectSplitView on a forked log', () => {
  const cases = vectors.cosignature.cases;
  const honest = cases.find((c) => c.name === 'three witnesses cosigned, quorum 2 of 3').args;
  const forked = cases.find((c) => c.name.startsWith('forked log')).args;
  const log = honest.log.map((k) => ({ name: k.name, algorithm: k.algorithm, publicKey: k.public_key }));
  const policy = { witnesses: honest.witnesses, quorum: 2, now: honest.now };
  const ok = cairn.verifyWitnessedCheckpoint(honest.note, log, honest.origin, policy);
  assert.equal(ok.valid, true);
  assert.equal(ok.witnessed.quorum_met, true);
  assert.equal(ok.size, 10);
  assert.equal(code(() => cairn.verifyWitnessedCheckpoint(forked.note, log, honest.origin, policy)), 'threshold_not_met');
  // The fork's cosignatures are reported, not enforced, by verifyCosignatures.
  const verdict = cairn.verifyCosignatures(forked.note, policy);
  assert.equal(verdict.quorum_met, false);
  const split = cairn.detectSplitView(honest.note, forked.note, log, honest.origin).split_view;
  assert.equal(split.code, 'split_view');
  assert.equal(split.size, 10);
  assert.notEqual(split.roots[0], split.roots[1]);
  assert.equal(split.roots[0], ok.root);
  assert.match(split.message, /signed two trees of size 10/);
  assert.equal(cairn.detectSplitView(honest.note, honest.note, log, honest.origin).split_view, null);
});

test('revocation map: the key, the root and both proofs of one small map', () => {
  const ids = ['11', '22', '33'].map((b) => b.repeat(32));
  const root = cairn.revocationMapRoot(ids.map((id, i) => ({ kind: 'token', id, seq: i + 1 })));
  assert.equal(root.count, 3);
  assert.match(root.line, /^cairn\.revocations 3 /);
  assert.deepEqual(cairn.parseRevocationsLine(root.line), root);
  assert.equal(cairn.parseRevocationsLine('cairn.trust-root 1 ' + 'ab'.repeat(32)), null);
  const key = cairn.revocationMapKey('token', ids[0]);
  assert.equal(key.key, crypto.createHash('sha256').update(Buffer.concat([Buffer.from([0x10, 0x02]), Buffer.from(ids[0], 'hex')])).digest('hex'));
  // Proofs come from a registry (or the vectors); an empty map's proof is 34 bytes.
  const empty = cairn.revocationMapRoot([]);
  const emptyProof = new Uint8Array(34);
  emptyProof[0] = 1;
  assert.equal(cairn.verifyNotRevoked(empty.root, 'key', ids[0], emptyProof).revoked, false);
  assert.equal(code(() => cairn.verifyNotRevoked(root.root, 'key', ids[0], emptyProof)), 'proof_invalid');
  assert.equal(code(() => cairn.verifyRevoked(empty.root, 'key', ids[0], emptyProof)), 'proof_invalid');
  assert.equal(code(() => cairn.revocationMapRoot([{ kind: 'token', id: ids[0], seq: 1 }, { kind: 'token', id: ids[0], seq: 2 }])), 'replayed');
});

// The same witness verdict view as `cairn bundle verify --json` (cairn_core::view), when the
// CLI binary is built (cli-bundle.test.mjs builds it; this test only uses it).
const cli = ['debug', 'release'].map((p) => join(repoRoot, 'target', p, 'cairn')).find(existsSync);
test("verifyBundle's witnessed view is the CLI's", { skip: cli ? false : 'target/*/cairn is not built (cargo build --bin cairn)' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-witness-'));
  try {
    const b = withLines([W[0].cosign(TEXT, NOW - 10), W[2].cosign(TEXT, NOW - 5000)]);
    writeFileSync(join(dir, 'b.bundle'), b);
    writeFileSync(join(dir, 'root.json'), ROOT);
    const args = ['bundle', 'verify', join(dir, 'b.bundle'), '--trust-root', join(dir, 'root.json'), '--at', String(NOW)];
    for (const w of W) args.push('--witness-key', w.vkey);
    args.push('--witness-quorum', '1', '--witness-max-age', '3600', '--json');
    const doc = JSON.parse(execFileSync(cli, args, { encoding: 'utf8', env: { ...process.env, CAIRN_HOME: dir } }));
    const v = verify(b, { witnesses: W.map((w) => w.vkey), witnessQuorum: 1, witnessMaxAge: 3600 });
    assert.deepEqual(v.witnessed, doc.witnessed);
    assert.deepEqual(v.witnessed.cosigned.map((c) => c.standing), ['counted', 'stale']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
