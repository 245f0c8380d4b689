// Bundles exported by the `cairn` CLI from a real redb store verify in Node through the
// package, with the same verdicts as `cairn bundle verify`: the store, the CLI, the wasm build
// and the JS surface end to end. The CLI binary is built by `cargo` if it is not there yet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyBundle, hashFile, inspect, bluxVerifyToken, verifyCheckpoint, parseRevocationsLine, verifyNotRevoked, verifyRevoked } from '../lib/node.mjs';
import { cairnBinary, here } from './helpers.mjs';

const repo = join(here, '..', '..');


test('a bundle exported by the cairn CLI from a real store verifies in Node', async () => {
  const home = mkdtempSync(join(tmpdir(), 'cairn-cli-bundle-'));
  try {
    const out = execFileSync(cairnBinary(), ['demo', '--json'], {
      env: { ...process.env, CAIRN_HOME: home },
      encoding: 'utf8',
    });
    assert.equal(JSON.parse(out).ok, true);
    const demo = join(home, 'demo');
    const root = readFileSync(join(demo, 'trust-root.json'));
    const bundle = readFileSync(join(demo, 'hello.sh.bundle'));

    const v = verifyBundle(bundle, root, { artifact: await hashFile(join(demo, 'hello.sh')) });
    assert.equal(v.valid, true);
    assert.equal(v.kind, 'manifest');
    assert.ok(v.checks.includes('artifact_digest'));
    assert.ok(v.signers.length >= 1);

    const token = verifyBundle(readFileSync(join(demo, 'token.bundle')), root);
    assert.equal(token.kind, 'token');

    assert.throws(
      () => verifyBundle(bundle, root, { artifact: readFileSync(join(demo, 'hello.sh.tampered')) }),
      (err) => err.code === 'digest_mismatch',
    );
    const flipped = Uint8Array.from(bundle);
    flipped[60] ^= 0x01; // inside the manifest payload
    // The manifest's bytes changed: the ledger entry records another digest.
    assert.throws(() => verifyBundle(flipped, root), (err) => err.code === 'proof_invalid' && err.class === 'invalid');
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

// One JSON view per object (cairn-core's `view` module): the CLI's `--json` and the package
// give the same fields for the same object, and the same code and class for the same failure.
test("the CLI's --json and the package give the same view of the same object", () => {
  const home = mkdtempSync(join(tmpdir(), 'cairn-cli-views-'));
  const env = { ...process.env, CAIRN_HOME: home };
  const cli = (...args) => {
    try {
      return { status: 0, doc: JSON.parse(execFileSync(cairnBinary(), [...args, '--json'], { env, encoding: 'utf8' })) };
    } catch (e) {
      if (typeof e.status !== 'number' || !e.stdout) throw e;
      return { status: e.status, doc: JSON.parse(e.stdout) };
    }
  };
  const without = (v, ...keys) => Object.fromEntries(Object.entries(v).filter(([k]) => !keys.includes(k)));
  const thrown = (f) => {
    try {
      f();
    } catch (e) {
      return e;
    }
    assert.fail('expected a CairnError');
  };
  try {
    assert.equal(cli('demo').doc.ok, true);
    const demo = join(home, 'demo');
    const rootFile = join(demo, 'trust-root.json');
    const bundleFile = join(demo, 'hello.sh.bundle');
    const root = readFileSync(rootFile);
    const bundle = readFileSync(bundleFile);

    // A trust root: `cairn root show` adds only where it sits in the registry.
    const shownRoot = cli('root', 'show').doc.trust_root;
    assert.deepEqual(without(shownRoot, 'seq', 'envelope'), inspect(root).decoded);

    // A ledger entry: the one the bundle carries, read back from the store.
    const fromBundle = inspect(bundle);
    const seq = fromBundle.entry.seq;
    const stored = cli('ledger', 'get', String(seq)).doc.entry;
    assert.deepEqual(without(stored, 'signers', 'envelope'), fromBundle.entry);
    assert.match(stored.leaf_hash, /^[0-9a-f]{64}$/);

    // A checkpoint: the newest one, and the note the package parses.
    const cp = cli('checkpoint', 'latest').doc.checkpoint;
    assert.deepEqual(without(cp, 'key_id', 'created_at', 'note'), inspect(Buffer.from(cp.note)));

    // A verdict, at one fixed time.
    const at = fromBundle.entry.time + 60;
    // The CLI puts artifact_checked and witnessed beside its verdict; the package in it.
    const shown = cli('bundle', 'verify', bundleFile, '--trust-root', rootFile, '--at', String(at)).doc;
    const v = verifyBundle(bundle, root, { now: at });
    assert.deepEqual(shown.verdict, without(v, 'artifact_checked', 'witnessed'));
    assert.equal(shown.witnessed, null);
    assert.equal(v.witnessed, null);

    // blux-reg tokens (one with floats, big integers and astral characters in its fields).
    const bluxCases = JSON.parse(readFileSync(join(repo, 'tests', 'vectors', 'blux.json'), 'utf8')).cases;
    for (const name of ['token: blux-reg token, at issue', 'token: token_unicode.json (non-ASCII, astral, floats, big integers)']) {
      const { token, now } = bluxCases.find((c) => c.name === name).args;
      const f = join(home, 'blux-token.json');
      writeFileSync(f, token);
      const shown = cli('blux', 'verify-token', f, '--any-issuer', '--at', String(now)).doc;
      assert.equal(shown.status, 'verified', name);
      assert.deepEqual(
        without(shown, 'ok', 'status', 'issuer_pinned', 'revocations_checked', 'at'),
        without(bluxVerifyToken(token, { now }), 'valid'),
        name,
      );
    }

    // Failures: a bad signature is "invalid" (exit 1), an unknown format version "error" (exit 2).
    const flipped = Uint8Array.from(bundle);
    flipped[60] ^= 0x01;
    const futureVersion = Uint8Array.from(bundle);
    futureVersion[4] = 0x7f; // the version byte after the CBDL magic
    for (const [name, bytes, status, cls] of [['flipped', flipped, 1, 'invalid'], ['version', futureVersion, 2, 'error']]) {
      const f = join(home, `${name}.bundle`);
      writeFileSync(f, bytes);
      const r = cli('bundle', 'verify', f, '--trust-root', rootFile, '--at', String(at));
      const e = thrown(() => verifyBundle(bytes, root, { now: at }));
      assert.equal(r.status, status, name);
      assert.equal(r.doc.class, cls, name);
      assert.equal(e.class, cls, name);
      assert.equal(e.code, r.doc.error, name);
    }
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('a revocation proof from `cairn proof revocation` checks in the package against the signed head', () => {
  const home = mkdtempSync(join(tmpdir(), 'cairn-cli-revocation-'));
  const env = { ...process.env, CAIRN_HOME: home };
  const cairn = (...args) => JSON.parse(execFileSync(cairnBinary(), [...args, '--json'], { env, encoding: 'utf8' }));
  try {
    const origin = 'revocation-js.example/log';
    cairn('init', '--origin', origin, '--insecure-no-passphrase');
    for (const [label, role] of [['issuer', 'token-issuer'], ['holder', 'peer']]) {
      cairn('key', 'generate', '--label', label, '--role', role, '--algorithm', 'ed25519', '--insecure-no-passphrase');
    }
    const issue = () => cairn('token', 'issue', '--issuer', 'issuer', '--holder', 'holder', '--audience', 'x.example', '--capability', 'read').token.id;
    const [kept, revoked] = [issue(), issue()];
    cairn('token', 'revoke', revoked, '--reason', 'leaked', '--revoker', 'issuer');
    const logKey = join(home, 'log.json');
    cairn('key', 'export', 'log', '--format', 'json', '--out', logKey);
    const log = [{ name: origin, key: readFileSync(logKey, 'utf8') }];

    const absent = cairn('proof', 'revocation', 'token', kept);
    const present = cairn('proof', 'revocation', 'token', revoked);
    assert.equal(absent.revoked, false);
    assert.equal(present.revoked, true);
    for (const p of [absent, present]) {
      // The note first: signed by the log key; its line is the root the proof answers to.
      const cp = verifyCheckpoint(p.checkpoint, log, origin);
      const line = parseRevocationsLine(cp.extensions.find((l) => l.startsWith('cairn.revocations ')));
      assert.equal(line.root, p.revocations.root);
    }
    assert.equal(verifyNotRevoked(absent.revocations.root, 'token', kept, absent.proof).revoked, false);
    assert.equal(verifyRevoked(present.revocations.root, 'token', revoked, present.proof).seq, present.seq);
    // Each proof is about its own object only, and a revoked one has no proof of absence.
    assert.throws(() => verifyNotRevoked(absent.revocations.root, 'token', revoked, absent.proof), (e) => e.name === 'CairnError');
    assert.throws(() => verifyNotRevoked(present.revocations.root, 'token', revoked, present.proof), (e) => e.code === 'revoked');
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
