// verifySignatures and verifyTokens against single verification: every vector case placed in
// a batch between valid items gives the verdict verifySignature / verifyToken gives it alone
// (same code, the message naming its index), including the strictness edge cases (small-order
// and non-canonical R, S >= L, small-order and non-canonical keys); random batches of node:crypto
// signatures with one corrupted item name that item.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import * as cairn from '../lib/node.mjs';
import { b64, vectorFiles } from './helpers.mjs';

const vectors = Object.fromEntries(vectorFiles().map(({ file, doc }) => [file.replace('.json', ''), doc]));
const sigCases = vectors.crypto.cases.filter((c) => c.op === 'verify_signature');
const item = (a) => ({
  publicKey: { algorithm: a.algorithm, publicKey: a.public_key },
  message: b64(a.message),
  signature: a.signature,
  context: b64(a.context),
});
const outcome = (fn) => {
  try {
    return { ok: fn() };
  } catch (e) {
    assert.equal(e.name, 'CairnError', `${e.name}: ${e.message}`);
    return { code: e.code, message: e.message };
  }
};

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function ed25519Items(n, r) {
  const keys = [0, 1, 2].map(() => generateKeyPairSync('ed25519'));
  return Array.from({ length: n }, (_, i) => {
    const k = keys[i % keys.length];
    const message = Buffer.from(Array.from({ length: Math.floor(r() * 300) }, () => Math.floor(r() * 256)));
    const raw = k.publicKey.export({ format: 'der', type: 'spki' }).subarray(12);
    return { publicKey: { algorithm: 'ed25519', publicKey: raw }, message, signature: sign(null, message, k.privateKey) };
  });
}

test('every signature vector in a batch: the verdict of single verification, naming the index', () => {
  const valid = sigCases.filter((c) => c.expect.ok && c.args.algorithm === 'ed25519').map((c) => item(c.args));
  assert.ok(valid.length >= 2);
  for (const c of sigCases) {
    const single = outcome(() => cairn.verifySignature(...Object.values(item(c.args))));
    for (const at of [0, 1, valid.length]) {
      const batch = [...valid.slice(0, at), item(c.args), ...valid.slice(at)];
      const got = outcome(() => cairn.verifySignatures(batch));
      if (single.ok) {
        assert.ok(got.ok, `${c.name}: ${got.message}`);
        assert.equal(got.ok.count, batch.length);
        assert.equal(got.ok.signers[at], single.ok.key_id);
      } else {
        assert.equal(got.code, single.code, `${c.name} at ${at}`);
        assert.ok(got.message.startsWith(`signatures[${at}]`), `${c.name}: ${got.message}`);
        assert.equal(got.code, c.expect.error, c.name);
      }
    }
  }
});

test('random Ed25519 batches (node:crypto signatures): all valid, then one corrupted item is named', () => {
  const r = rng(7);
  for (const n of [1, 2, 16, 65]) {
    const items = ed25519Items(n, r);
    const ok = cairn.verifySignatures(items);
    assert.equal(ok.count, n);
    for (const corrupt of ['flip-sig', 'flip-msg', 'truncate', 'wrong-key', 'malformed']) {
      const bad = items.map((x) => ({ ...x }));
      const at = Math.floor(r() * n);
      const x = bad[at];
      if (corrupt === 'flip-sig') {
        x.signature = Buffer.from(x.signature);
        x.signature[Math.floor(r() * 64)] ^= 1 << Math.floor(r() * 8);
      } else if (corrupt === 'flip-msg') {
        x.message = Buffer.concat([x.message, Buffer.from([1])]);
      } else if (corrupt === 'truncate') {
        x.signature = x.signature.subarray(0, 63);
      } else if (corrupt === 'wrong-key') {
        x.publicKey = ed25519Items(1, r)[0].publicKey;
      } else {
        x.signature = 42;
      }
      const single = outcome(() => cairn.verifySignature(x.publicKey, x.message, x.signature));
      const got = outcome(() => cairn.verifySignatures(bad));
      assert.ok(single.code, `${corrupt}: the corrupted item still verifies alone`);
      assert.equal(got.code, single.code, corrupt);
      assert.ok(got.message.startsWith(`signatures[${at}]`), `${corrupt}: ${got.message}`);
    }
  }
});

test('verifySignatures: every byte of an item counts toward the 64 MiB a list may carry', () => {
  // Nine items whose contexts (8 MiB each) alone pass 64 MiB, with one-byte messages: refused
  // before anything is verified, as a list of large messages is.
  const a = sigCases.find((c) => c.expect.ok && c.args.algorithm === 'ed25519').args;
  const big = new Uint8Array(8 << 20);
  const items = Array.from({ length: 9 }, () => ({ ...item(a), message: new Uint8Array(1), context: big }));
  assert.throws(() => cairn.verifySignatures(items), { name: 'CairnError', code: 'too_large' });
  assert.notEqual(outcome(() => cairn.verifySignatures(items.slice(0, 7))).code, 'too_large');
});

test('verifySignatures: malformed input', () => {
  assert.equal(cairn.verifySignatures([]).count, 0);
  for (const bad of [undefined, null, 42, 'x', {}, [42], [{}], [{ publicKey: 'x' }]]) {
    assert.throws(() => cairn.verifySignatures(bad), { name: 'CairnError', code: 'malformed' });
  }
});

test('every token vector through verifyTokens: the verdict of verifyToken, naming the index', () => {
  for (const c of vectors.token.cases) {
    const a = c.args;
    const issuers = a.trusted_issuers.map((k) => ({ algorithm: k.algorithm ?? k.alg, publicKey: k.public_key ?? k.key }));
    const opts = { now: a.now, revoked: a.revoked, audience: a.audience, capability: a.capability };
    const single = outcome(() => cairn.verifyToken(b64(a.token), issuers, { ...opts, parents: a.parents.map(b64) }));
    const entry = { token: b64(a.token), parents: a.parents.map(b64) };
    const got = outcome(() => cairn.verifyTokens([entry, entry], issuers, opts));
    if (single.ok) {
      assert.ok(got.ok, `${c.name}: ${got.message}`);
      assert.deepEqual(got.ok.tokens, [single.ok, single.ok]);
    } else {
      assert.equal(got.code, single.code, c.name);
      assert.ok(got.message.startsWith('tokens[0]'), `${c.name}: ${got.message}`);
    }
  }
});
