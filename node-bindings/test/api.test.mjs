// The package surface: entry points agree, errors have the documented shape, inputs in every
// documented form work, hashing in Node (node:crypto) and in wasm agree, the browser entry
// works given the module bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import * as esm from '../lib/node.mjs';
import { b64, here, vectorFiles } from './helpers.mjs';

const require = createRequire(import.meta.url);
const cjs = require('../lib/node.cjs');
const wasmNode = require('../pkg/node/cairn_wasm.js');
const vectors = Object.fromEntries(vectorFiles().map(({ file, doc }) => [file.replace('.json', ''), doc]));
const caseNamed = (kind, name) => vectors[kind].cases.find((c) => c.name === name);

test('ESM and CommonJS entries export the same names and share one module', () => {
  assert.deepEqual(Object.keys(esm).sort(), Object.keys(cjs).sort());
  for (const k of Object.keys(esm)) assert.equal(esm[k], cjs[k], k);
});

test('every wasm export (both modules) is in the Node and browser entries', async () => {
  const extrasNode = require('../pkg/node/cairn_wasm_extras.js');
  const wasmNames = [...Object.keys(wasmNode), ...Object.keys(extrasNode)].filter((k) => !k.startsWith('__'));
  for (const k of wasmNames) assert.ok(k in esm, `node entry lacks ${k}`);
  const web = await import('../lib/web.js');
  for (const glue of ['../pkg/web/cairn_wasm.js', '../pkg/web/cairn_wasm_extras.js']) {
    const webGlue = await import(glue);
    for (const k of Object.keys(webGlue).filter((k) => k !== 'default' && k !== 'initSync' && !k.startsWith('__'))) {
      assert.ok(k in web, `browser entry lacks ${k} (${glue})`);
    }
  }
  // The second module's functions are not in the main one: that is the point of it.
  assert.ok(!('inspect' in wasmNode) && 'inspect' in extrasNode);
});

test('every wasm function has a TypeScript declaration', () => {
  const dts = readFileSync(join(here, '..', 'pkg', 'node', 'cairn_wasm.d.ts'), 'utf8');
  const declared = new Set([...dts.matchAll(/^export function (\w+)\(/gm)].map((m) => m[1]));
  const fns = Object.keys(wasmNode).filter((k) => typeof wasmNode[k] === 'function' && /^[a-z]/.test(k));
  assert.deepEqual(fns.filter((k) => !declared.has(k)), []);
  assert.match(dts, /export class ArtifactHasher/);
});

// A doc comment sits right before what it documents: none is followed by another (one left
// behind when a declaration moved), and every declared function has its own.
test('every declared function has its own doc comment, and none is orphaned', () => {
  const dts = readFileSync(join(here, '..', 'pkg', 'node', 'cairn_wasm.d.ts'), 'utf8');
  const orphaned = [...dts.matchAll(/\/\*\*[\s\S]*?\*\//g)]
    .filter((m) => dts.slice(m.index + m[0].length).trimStart().startsWith('/**'))
    .map((m) => m[0].slice(0, 100));
  assert.deepEqual(orphaned, []);
  const undocumented = [...dts.matchAll(/^export function (\w+)\(/gm)]
    .filter((m) => !dts.slice(0, m.index).trimEnd().endsWith('*/'))
    .map((m) => m[1]);
  assert.deepEqual(undocumented, []);
});

test('inspect of a bundle: every member of the view, version 1 and 2, is declared in BundleView', () => {
  const dts = readFileSync(join(here, '..', 'pkg', 'node', 'cairn_wasm.d.ts'), 'utf8');
  const body = /^export interface BundleView \{\n([\s\S]*?)^\}/m.exec(dts)?.[1];
  assert.ok(body, 'no BundleView in the declarations');
  const declared = new Set([...body.matchAll(/^ {2,4}(\w+)\??:/gm)].map((m) => m[1]));
  const bundles = vectors.bundle.cases.map((c) => c.args.bundle).filter(Boolean);
  const views = bundles.flatMap((b) => {
    try {
      return [esm.inspect(b64(b))];
    } catch {
      return []; // a case's broken bundle
    }
  });
  for (const version of [1, 2]) {
    const v = views.find((x) => x.version === version);
    assert.ok(v, `no version ${version} bundle among the vectors`);
    assert.deepEqual(Object.keys(v).filter((k) => !declared.has(k)), [], `version ${version}`);
    if (version === 1) assert.equal(v.revocation, null);
  }
  // A version 2 bundle's revocation section: {newest_entry, proofs: [{kind, id, bytes}]}.
  const r = views.find((x) => x.version === 2 && x.revocation.proofs.length > 0).revocation;
  assert.deepEqual(Object.keys(r).sort(), ['newest_entry', 'proofs']);
  assert.equal(typeof r.newest_entry.seq, 'number');
  for (const p of r.proofs) {
    assert.deepEqual(Object.keys(p).sort(), ['bytes', 'id', 'kind']);
    assert.ok(['key', 'token', 'manifest', 'unknown'].includes(p.kind), p.kind);
    assert.match(p.id, /^[0-9a-f]{64}$/);
    assert.equal(typeof p.bytes, 'number');
  }
});

test('errors are CairnError with a stable code and the detail as message', () => {
  const err = (() => {
    try {
      esm.inspect(new Uint8Array([0x43, 0x44, 0x53, 0x45, 0xff]));
    } catch (e) {
      return e;
    }
  })();
  assert.ok(err instanceof Error);
  assert.equal(err.name, 'CairnError');
  assert.equal(err.code, 'malformed');
  assert.match(err.message, /envelope/);
  assert.equal(esm.errorCodes().length, 22);
  for (const c of ['key_changed', 'split_view', 'stale']) assert.ok(esm.errorCodes().includes(c), c);
  assert.throws(() => esm.verifyEnvelope(42, 't', []), { name: 'CairnError', code: 'malformed' });
  assert.throws(() => esm.verifyInclusion('00', 1, 0, [], '00'), { code: 'malformed' });
});

test('keys in every documented form', () => {
  const c = caseNamed('dsse', 'ed25519 1-of-1, compact');
  const k = c.args.keys[0];
  const raw = b64(k.public_key);
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]);
  const pem = `-----BEGIN PUBLIC KEY-----\n${spki.toString('base64')}\n-----END PUBLIC KEY-----\n`;
  const env = b64(c.args.envelope.compact);
  for (const key of [
    { algorithm: 'ed25519', publicKey: raw },
    { algorithm: 'ed25519', publicKey: k.public_key },
    { alg: 'ed25519', key: k.public_key },
    JSON.stringify({ alg: 'ed25519', key: k.public_key }),
    pem,
    new Uint8Array(spki),
  ]) {
    const r = esm.verifyEnvelope(env, c.args.payload_type, [key]);
    assert.deepEqual(r.signers, c.expect.signers);
    assert.equal(r.valid, true);
  }
});

test('verifySignature over DSSE PAE', () => {
  const c = caseNamed('dsse', 'ed25519 1-of-1, DSSE JSON');
  const env = JSON.parse(c.args.envelope.json);
  const payload = Buffer.from(env.payload, 'base64');
  const pae = Buffer.concat([
    Buffer.from(`DSSEv1 ${env.payloadType.length} ${env.payloadType} ${payload.length} `),
    payload,
  ]);
  const key = { algorithm: 'ed25519', publicKey: c.args.keys[0].public_key };
  const ok = esm.verifySignature(key, pae, env.signatures[0].sig);
  assert.deepEqual(ok, { valid: true, algorithm: 'ed25519', key_id: env.signatures[0].keyid });
  pae[pae.length - 1] ^= 1;
  assert.throws(() => esm.verifySignature(key, pae, env.signatures[0].sig), { code: 'signature_invalid' });
});

test('now as number, bigint, Date; absent reads the clock', () => {
  const c = caseNamed('bundle', 'token bundle');
  const bundle = b64(c.args.bundle);
  const root = b64(c.args.trusted_root);
  for (const now of [c.args.now, BigInt(c.args.now), new Date(c.args.now * 1000), String(c.args.now)]) {
    assert.equal(esm.verifyBundle(bundle, root, { now }).kind, 'token');
  }
  const expired = caseNamed('bundle', 'token expired');
  assert.throws(() => esm.verifyBundle(bundle, root, { now: expired.args.now }), { code: 'expired' });
  // Without `now`, the clock's time: the same verdict as the clock's seconds given.
  const outcome = (opts) => {
    try {
      return esm.verifyBundle(bundle, root, opts).kind;
    } catch (e) {
      assert.equal(e.name, 'CairnError');
      return e.code;
    }
  };
  assert.equal(outcome(undefined), outcome({ now: Math.floor(Date.now() / 1000) }));
  assert.notEqual(outcome({ now: expired.args.now }), outcome({ now: c.args.now }));
});

test('bundle verdict carries what the page shows', () => {
  const c = caseNamed('bundle', 'manifest bundle with its artifact');
  const artifact = b64(c.args.artifact);
  const v = esm.verifyBundle(b64(c.args.bundle), b64(c.args.trusted_root), { now: c.args.now, artifact });
  assert.equal(v.valid, true);
  assert.equal(v.artifact_checked, true);
  assert.ok(v.signers.length > 0 && v.signers[0].roles.includes('manifest-signer'));
  assert.ok(v.checkpoint.origin.length > 0);
  assert.equal(v.checkpoint.size, c.expect.checkpoint_size);
  assert.ok(v.checks.includes('artifact_digest'));
  // The same with a digest from either hasher.
  const wasmHasher = new esm.WasmArtifactHasher();
  wasmHasher.update(artifact.subarray(0, 5));
  wasmHasher.update(artifact.subarray(5));
  const d1 = esm.hashBytes(artifact);
  const d2 = wasmHasher.digest();
  assert.deepEqual(d1, d2);
  assert.equal(esm.verifyBundle(b64(c.args.bundle), b64(c.args.trusted_root), { now: c.args.now, artifact: d2 }).valid, true);
  const bad = Uint8Array.from(artifact);
  bad[0] ^= 1;
  assert.throws(
    () => esm.verifyBundle(b64(c.args.bundle), b64(c.args.trusted_root), { now: c.args.now, artifact: bad }),
    { code: 'digest_mismatch' },
  );
  const view = esm.inspect(b64(c.args.bundle));
  assert.equal(view.kind, 'bundle');
  assert.equal(view.subject.object, 'manifest');
  assert.equal(view.checkpoint.kind, 'checkpoint');
});

test('hashing: node:crypto streaming, wasm streaming and hashFile agree', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-hash-'));
  try {
    const data = new Uint8Array(3 * 1024 * 1024 + 17).map((_, i) => (i * 31) & 0xff);
    const path = join(dir, 'artifact.bin');
    writeFileSync(path, data);
    const want = createHash('sha256').update(data).digest('hex');
    const seen = [];
    const d = await esm.hashFile(path, { chunkSize: 1 << 20, onProgress: (done, total) => seen.push([done, total]) });
    assert.deepEqual(d, { algorithm: 'sha256', digest: want, size: data.length });
    assert.equal(seen.at(-1)[0], data.length);
    assert.ok(seen.length >= 4);
    const n = new esm.ArtifactHasher();
    const w = new esm.WasmArtifactHasher();
    for (let at = 0; at < data.length; at += 100_003) {
      n.update(data.subarray(at, at + 100_003));
      w.update(data.subarray(at, at + 100_003));
    }
    assert.deepEqual(n.digest(), d);
    assert.deepEqual(w.digest(), d);
    assert.equal(w.size, data.length);
    w.free();
    assert.equal(esm.hashBytes('').digest, createHash('sha256').digest('hex'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// Read sizes that are not a positive safe integer: a fraction skips or repeats bytes (a wrong
// digest), NaN reads nothing (the empty digest), 0 or less never ends. Refused up front.
const BAD_CHUNK_SIZES = [0, -1, -4096, 1.5, 0.5, NaN, Infinity, -Infinity, 2 ** 53, '4096', null, 4096n, {}];
// A read that never ends must fail the test, not hang it or end the process with the test
// pending: `guard()` is a signal that stops the read after 2 s, `bounded(p)` a rejection after
// 3 s held by a timer that keeps the process alive until then.
const guard = () => AbortSignal.timeout(2000);
const bounded = async (p) => {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error('did not settle within 3 s')), 3000);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
};
const isMalformed = (what) => (e) => {
  assert.equal(e.name, 'CairnError', `${what}: ${e.name}: ${e.message}`);
  assert.equal(e.code, 'malformed', what);
  assert.equal(e.class, 'error', what);
  assert.match(e.message, /chunkSize/, what);
  return true;
};

test('hashFile refuses a chunkSize that is not a positive safe integer', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-hash-'));
  try {
    const data = new Uint8Array(10_000).map((_, i) => (i * 7) & 0xff);
    const path = join(dir, 'artifact.bin');
    writeFileSync(path, data);
    const want = { algorithm: 'sha256', digest: createHash('sha256').update(data).digest('hex'), size: data.length };
    for (const chunkSize of BAD_CHUNK_SIZES) {
      const what = `chunkSize ${typeof chunkSize === 'bigint' ? `${chunkSize}n` : String(chunkSize)}`;
      await assert.rejects(bounded(esm.hashFile(path, { chunkSize, signal: guard() })), isMalformed(what), what);
    }
    for (const chunkSize of [1, 3, 4096, 1 << 20, undefined]) {
      assert.deepEqual(await esm.hashFile(path, { chunkSize }), want, String(chunkSize));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('hashFile fails, not a digest of a torn read, when the file changes size while read', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-hash-'));
  try {
    const path = join(dir, 'artifact.bin');
    const data = new Uint8Array(64 * 1024).fill(0x5a);
    const whileReading = async (change) => {
      writeFileSync(path, data);
      let changed = false;
      return bounded(esm.hashFile(path, {
        chunkSize: 1024,
        signal: guard(),
        onProgress: () => {
          if (!changed) change();
          changed = true;
        },
      }));
    };
    const isIo = (e) => {
      assert.equal(e.code, 'io', `${e.name}: ${e.message}`);
      assert.match(e.message, /changed while it was read/);
      return true;
    };
    // Grown after the first chunk: more bytes read than the size it was opened with.
    await assert.rejects(whileReading(() => appendFileSync(path, new Uint8Array(4096))), isIo);
    // Truncated after the first chunk: fewer.
    await assert.rejects(whileReading(() => truncateSync(path, 2048)), isIo);
    // Unchanged: the digest, and the size it had.
    const d = await whileReading(() => {});
    assert.deepEqual(d, { algorithm: 'sha256', digest: createHash('sha256').update(data).digest('hex'), size: data.length });
    // Not a regular file: no size to compare with, so nothing is refused.
    assert.equal((await esm.hashFile('/dev/null')).size, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('hashBlob refuses a chunkSize that is not a positive safe integer, on both paths', async () => {
  const web = await import('../lib/web.js');
  await web.init(readFileSync(join(here, '..', 'pkg', 'web', 'cairn_wasm_bg.wasm')));
  const data = new Uint8Array(10_000).map((_, i) => (i * 7) & 0xff);
  const want = { algorithm: 'sha256', digest: createHash('sha256').update(data).digest('hex'), size: data.length };
  // A Blob that counts its slices: a read that would never end (0 or a negative chunkSize)
  // stops with an error after more slices than bytes, instead of spinning on microtasks, which
  // no timer could interrupt.
  const counted = () => {
    const blob = new Blob([data]);
    let slices = 0;
    return {
      size: blob.size,
      slice(from, to) {
        if (++slices > data.length + 1) throw new Error(`runaway read: ${slices} slices of ${data.length} bytes`);
        return blob.slice(from, to);
      },
    };
  };
  for (const forceStreaming of [false, true]) {
    for (const chunkSize of BAD_CHUNK_SIZES) {
      const what = `forceStreaming ${forceStreaming}, chunkSize ${typeof chunkSize === 'bigint' ? `${chunkSize}n` : String(chunkSize)}`;
      await assert.rejects(bounded(web.hashBlob(counted(), { chunkSize, forceStreaming, signal: guard() })), isMalformed(what), what);
    }
    // Bytes, taken as one Blob, are refused the same way.
    await assert.rejects(bounded(web.hashBlob(data, { chunkSize: 1.5, forceStreaming })), isMalformed('bytes'));
    for (const chunkSize of [1, 3, 4096, 2 ** 40, undefined]) {
      assert.deepEqual(await web.hashBlob(counted(), { chunkSize, forceStreaming }), want, `${forceStreaming} ${chunkSize}`);
    }
  }
});

test('bytes come back as a plain Uint8Array, and a wrong chunk is a CairnError, on either backend', () => {
  const c = caseNamed('bundle_refresh', 'refresh a stale manifest bundle to the newest checkpoint');
  const out = esm.refreshBundle(b64(c.args.bundle), b64(c.args.pieces));
  assert.equal(Object.getPrototypeOf(out), Uint8Array.prototype, `${esm.backend()}: ${out.constructor.name}`);
  for (const bad of [() => esm.hashBytes(5), () => new esm.ArtifactHasher().update({})]) {
    assert.throws(bad, (e) => e.name === 'CairnError' && e.code === 'malformed' && e.class === 'error');
  }
});

test('verifyManifest with artifact bytes or a precomputed digest', () => {
  const c = caseNamed('manifest', 'valid_1_of_1_ed25519_with_artifact_bytes');
  const signers = c.args.trusted_signers.map((k) => ({ algorithm: k.algorithm, publicKey: k.public_key }));
  const artifact = b64(c.args.artifact);
  const a = esm.verifyManifest(b64(c.args.manifest), signers, { artifact });
  const b = esm.verifyManifest(b64(c.args.manifest), signers, { artifact: esm.hashBytes(artifact) });
  const none = esm.verifyManifest(b64(c.args.manifest), signers);
  assert.equal(a.digest, c.expect.digest);
  assert.deepEqual(a, b);
  assert.equal(none.artifact_checked, false);
  assert.throws(
    () => esm.verifyManifest(b64(c.args.manifest), signers, { artifact: { digest: a.claims.sha256 } }),
    { code: 'malformed' },
  );
  assert.throws(
    () => esm.verifyManifest(b64(c.args.manifest), signers, { artifact: { digest: a.claims.sha256, size: 1 } }),
    { code: 'digest_mismatch' },
  );
});

test('browser entry works in Node given the module bytes, hashBlob both ways', async () => {
  const web = await import('../lib/web.js');
  await web.init(readFileSync(join(here, '..', 'pkg', 'web', 'cairn_wasm_bg.wasm')));
  await web.init(); // idempotent
  // inspect is in the second module: a usage error until it is loaded, then it works.
  assert.throws(() => web.inspect('x'), { code: 'ERR_CAIRN_EXTRAS_NOT_LOADED' });
  // So are the Merkle proof, trust-root chain and ledger verifiers called on their own.
  for (const f of ['verifyInclusion', 'verifyConsistency', 'merkleRoot', 'verifyTrustRootChain', 'verifyLedgerEntry', 'verifyLedgerChain']) {
    assert.throws(() => web[f](), { code: 'ERR_CAIRN_EXTRAS_NOT_LOADED' }, f);
  }
  await web.initExtras(readFileSync(join(here, '..', 'pkg', 'web', 'cairn_wasm_extras_bg.wasm')));
  assert.throws(() => web.inspect('x'), { name: 'CairnError', code: 'malformed' });
  assert.throws(() => web.verifyInclusion('00', 1, 0, [], '00'), { name: 'CairnError', code: 'malformed' });
  assert.equal(web.merkleRoot([]).size, 0);
  const c = caseNamed('bundle', 'manifest bundle with its artifact');
  const artifact = b64(c.args.artifact);
  const blob = new Blob([artifact]);
  const progress = [];
  const viaSubtle = await web.hashBlob(blob, { chunkSize: 7, onProgress: (d, t) => progress.push([d, t]) });
  const viaWasm = await web.hashBlob(blob, { chunkSize: 5, forceStreaming: true });
  assert.deepEqual(viaSubtle, viaWasm);
  // Bytes are taken as one blob; anything else is refused, not hashed as nothing.
  assert.deepEqual(await web.hashBlob(artifact), viaWasm);
  assert.deepEqual(await web.hashBlob(artifact.buffer.slice(artifact.byteOffset, artifact.byteOffset + artifact.length)), viaWasm);
  for (const bad of ['text', null, undefined, {}, 42]) {
    await assert.rejects(web.hashBlob(bad), { name: 'CairnError', code: 'malformed' }, String(bad));
  }
  assert.deepEqual(progress.at(-1), [artifact.length, artifact.length]);
  const v = web.verifyBundle(b64(c.args.bundle), b64(c.args.trusted_root), { now: c.args.now, artifact: viaWasm });
  assert.equal(v.kind, 'manifest');
  assert.equal(v.witnessed, null);
  // With witnesses, the browser entry's verifyBundle uses the second module (loaded above).
  // An empty witness list names no witness: refused, not a vacuous "witnessed".
  assert.throws(() => web.verifyBundle(b64(c.args.bundle), b64(c.args.trusted_root), { now: c.args.now, witnesses: [] }), {
    name: 'CairnError',
    code: 'malformed',
    message: /names no witness/,
  });
  assert.throws(() => web.verifyBundle(b64(c.args.bundle), b64(c.args.trusted_root), { now: c.args.now, witnesses: ['x'] }), {
    name: 'CairnError',
    code: 'malformed',
  });
  assert.equal(web.WEBCRYPTO_MAX_BYTES, 256 * 1024 * 1024);
});

test('verifyKeyResponse: the trust roots of logRoots count toward the 64 MiB a list may carry', () => {
  const c = caseNamed('peer', 'vouch_transparency').args;
  const options = (n, root) => ({ now: c.now, maxSkew: c.max_skew, logRoots: Array.from({ length: n }, () => ({ peer: 'bob', root })) });
  assert.throws(() => esm.verifyKeyResponse(b64(c.message), c.me, options(9, new Uint8Array(8 << 20))), {
    name: 'CairnError',
    code: 'too_large',
    message: /logRoots: .* exceeds the limit/,
  });
  // Under the total, each root is read and refused for what it is (not a trust root).
  assert.throws(() => esm.verifyKeyResponse(b64(c.message), c.me, options(2, new Uint8Array(1024))), { code: 'malformed' });
});

test('verifyKeyResponse: maxAge alone asks for the vouching decision, as the other policy options do', () => {
  const c = caseNamed('peer', 'vouch_pinned').args;
  const base = { now: c.now, maxSkew: c.max_skew };
  assert.equal(esm.verifyKeyResponse(b64(c.message), c.me, base).vouch, null);
  assert.throws(() => esm.verifyKeyResponse(b64(c.message), c.me, { ...base, maxAge: 3600 }), { name: 'CairnError', code: 'unauthorized' });
});

test('hashFile: a signal that is no AbortSignal is refused, and the file it opened is closed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-hash-'));
  const path = join(dir, 'a.bin');
  writeFileSync(path, 'abc');
  // The handle hashFile opens, caught on its way out of fs.promises.open.
  const fsp = require('node:fs').promises;
  const open = fsp.open;
  let handle;
  fsp.open = async (...args) => (handle = await open.apply(fsp, args));
  try {
    await assert.rejects(esm.hashFile(path, { signal: {} }), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.ok(handle, 'hashFile opened the file');
    assert.equal(handle.fd, -1, 'the handle was closed');
  } finally {
    fsp.open = open;
  }
  try {
    assert.deepEqual(await esm.hashFile(path), esm.hashBytes(new TextEncoder().encode('abc')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
