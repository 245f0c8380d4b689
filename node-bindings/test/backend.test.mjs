// The two backends: which one loads, that CAIRN_VERIFY_BACKEND forces it, and that the native
// addon and the WebAssembly module give the same result object or the same error code for
// every vector case and for random and mutated inputs (both loaded in this one process).
// Runs under either backend; the comparisons are skipped (and said so) when no native addon
// is built for this platform.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import * as cairn from '../lib/node.mjs';
import { here, nativeAddon, vectorFiles } from './helpers.mjs';
import { opsFor } from './ops.mjs';

const require = createRequire(import.meta.url);
// The wasm backend as the package assembles it (Ed25519's equation through node:crypto for a
// key's first use), with the second module (inspect, blux-reg) loaded at once.
const { wasmApi, hostEd25519CallCount } = require('../lib/backend.cjs');
const wasm = { ...wasmApi(), ...require('../pkg/node/cairn_wasm_extras.js') };
delete wasm.__useHostEd25519;
const { addon: native, skip: skipNative } = nativeAddon();

test('backend() names the backend in use, and CAIRN_VERIFY_BACKEND is obeyed', () => {
  const forced = process.env.CAIRN_VERIFY_BACKEND;
  assert.ok(['native', 'wasm'].includes(cairn.backend()));
  if (forced) assert.equal(cairn.backend(), forced);
  else assert.equal(cairn.backend(), native ? 'native' : 'wasm');
  const run = (env) =>
    execFileSync(process.execPath, ['-e', "console.log(require('./lib/node.cjs').backend())"], {
      cwd: join(here, '..'),
      env: { ...process.env, ...env },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }).trim();
  assert.equal(run({ CAIRN_VERIFY_BACKEND: 'wasm' }), 'wasm');
  assert.throws(() => run({ CAIRN_VERIFY_BACKEND: 'fast' }), /must be "native" or "wasm"/);
  if (native) assert.equal(run({ CAIRN_VERIFY_BACKEND: 'native' }), 'native');
});

test('native and wasm export the same functions', { skip: skipNative }, () => {
  const names = (m) => Object.keys(m).filter((k) => !k.startsWith('__') && k !== 'backend').sort();
  assert.deepEqual(names(native), names(wasm));
  assert.deepEqual(native.errorCodes(), wasm.errorCodes());
});

const outcome = (fn) => {
  try {
    return { ok: fn() };
  } catch (e) {
    assert.equal(e.name, 'CairnError', `${e.name}: ${e.message}`);
    return { code: e.code };
  }
};

test('every vector case: the same result object or error code on both backends', { skip: skipNative }, async (t) => {
  const [onNative, onWasm] = [opsFor(native), opsFor(wasm)];
  let n = 0;
  for (const { file, doc } of vectorFiles()) {
    for (const c of doc.cases) {
      const a = outcome(() => onNative[c.op][0](c.args));
      const b = outcome(() => onWasm[c.op][0](c.args));
      assert.deepEqual(a, b, `${file}: ${c.name}`);
      n++;
    }
  }
  t.diagnostic(`${n} cases compared`);
});

test('bit flips and truncations of every vector case agree across backends', { skip: skipNative }, () => {
  const [onNative, onWasm] = [opsFor(native), opsFor(wasm)];
  for (const { file, doc } of vectorFiles()) {
    for (const c of doc.cases) {
      for (const [field, value] of Object.entries(c.args)) {
        if (typeof value !== 'string' || value.length < 4) continue;
        const variants = [value.slice(0, value.length >> 1), value.slice(1)];
        const bytes = Buffer.from(value, 'base64');
        if (bytes.length > 8 && bytes.toString('base64') === value) {
          for (const at of [0, bytes.length >> 1, bytes.length - 1]) {
            const flipped = Buffer.from(bytes);
            flipped[at] ^= 0x01;
            variants.push(flipped.toString('base64'));
          }
        }
        for (const v of variants) {
          const args = { ...c.args, [field]: v };
          const a = outcome(() => onNative[c.op][0](args));
          const b = outcome(() => onWasm[c.op][0](args));
          assert.deepEqual(a, b, `${file}: ${c.name}: ${field} = ${v.slice(0, 40)}`);
        }
      }
    }
  }
});

// Member names of untrusted JSON come back as object keys: U+0000 in one is a string like
// any other, not a failure of the native addon's C-string API.
test('a member name holding U+0000 comes back on both backends', { skip: skipNative }, () => {
  const text = String.raw`{"token_type":"capability","a\u0000b":1,"\u0000":[{"\u0000":null}]}`;
  const a = outcome(() => native.inspect(text));
  const b = outcome(() => wasm.inspect(text));
  assert.deepEqual(a, b);
  assert.deepEqual(a.ok?.fields, { 'a\u0000b': 1, '\u0000': [{ '\u0000': null }], token_type: 'capability' });
});

// A member named "__proto__" in untrusted JSON is an own key of the result, as JSON.parse
// makes it (the wasm build's path): never the object's prototype, so nothing is inherited
// from it and no key is dropped.
test('a member named __proto__ is an own key on both backends, never the prototype', { skip: skipNative }, () => {
  // (Members in sorted order: the order the views give them, so the texts compare.)
  const text = '{"__proto__":{"admin":true},"constraints":{"__proto__":"s","n":{"__proto__":[1]}},"token_type":"x"}';
  const expectShape = (v, backend) => {
    const f = v.fields;
    assert.equal(Object.getPrototypeOf(f), Object.prototype, backend);
    assert.ok(Object.hasOwn(f, '__proto__'), `${backend}: no own __proto__`);
    assert.deepEqual(Object.keys(f).sort(), ['__proto__', 'constraints', 'token_type'], backend);
    assert.equal(f.admin, undefined, `${backend}: admin inherited`);
    assert.equal('admin' in f, false, backend);
    const own = Object.getOwnPropertyDescriptor(f, '__proto__');
    assert.deepEqual(own, { value: own.value, writable: true, enumerable: true, configurable: true }, backend);
    assert.equal(own.value.admin, true, backend);
    // A primitive or an array under "__proto__" is kept too, not silently ignored.
    const c = f.constraints;
    assert.equal(Object.getPrototypeOf(c), Object.prototype, backend);
    assert.equal(Object.getOwnPropertyDescriptor(c, '__proto__')?.value, 's', backend);
    assert.equal(Object.getPrototypeOf(c.n), Object.prototype, backend);
    assert.ok(Array.isArray(Object.getOwnPropertyDescriptor(c.n, '__proto__')?.value), backend);
    assert.equal(c.n.length, undefined, `${backend}: an array prototype`);
    assert.equal(JSON.stringify(f), JSON.stringify(JSON.parse(text)), backend);
  };
  const a = native.inspect(text);
  const b = wasm.inspect(text);
  assert.equal(a.kind, 'blux_token');
  expectShape(b, 'wasm');
  expectShape(a, 'native');
  assert.deepEqual(a, b);
});

// A Uint8Array whose `length` lies (redefined on the object, or a subclass's getter) is read
// by its real length on both backends (the native addon asks napi; the wasm build copies it
// through the Uint8Array constructor): the same digest as the honest array, never a trap,
// never stale heap bytes.
test('a Uint8Array whose length property lies is read by its real length on both backends', () => {
  const honest = new Uint8Array(10).map((_, i) => i + 1);
  const lying = (n) => {
    const a = new Uint8Array(honest);
    Object.defineProperty(a, 'length', { value: n });
    return a;
  };
  class Liar extends Uint8Array {
    get length() {
      return 100;
    }
  }
  const digest = (api, bytes) => {
    const h = new api.ArtifactHasher();
    h.update(bytes);
    return h.digest();
  };
  const want = digest(wasm, honest);
  const backends = [['wasm', wasm], ...(native ? [['native', native]] : [])];
  for (const [name, api] of backends) {
    for (const bytes of [lying(100), lying(1), lying(0), new Liar(honest), Buffer.from(honest)]) {
      assert.deepEqual(digest(api, bytes), want, name);
    }
    // A Proxy posing as a Uint8Array (its length read through a trap that changes its answer)
    // is no Uint8Array: refused as malformed, and the hasher it was fed to still works.
    let reads = 0;
    const proxy = new Proxy(new Uint8Array(honest), {
      get: (t, k) => (k === 'length' ? (++reads > 2 ? 1e6 : 1) : Reflect.get(t, k)),
    });
    const h = new api.ArtifactHasher();
    assert.throws(() => h.update(proxy), { name: 'CairnError', code: 'malformed' }, name);
    h.update(honest);
    assert.deepEqual(h.digest(), want, name);
    assert.throws(() => api.inspect(proxy), { name: 'CairnError', code: 'malformed' }, name);
  }
  // Every other reader takes the same path: a JSON text whose array lies about its length is
  // inspected as the text it holds.
  const text = new TextEncoder().encode('{"token_type":"x","n":1}');
  const plain = wasm.inspect(text);
  for (const [, api] of backends) {
    const liar = new Uint8Array(text);
    Object.defineProperty(liar, 'length', { value: text.length + 50 });
    assert.deepEqual(api.inspect(liar), plain);
  }
});

test('values of the wrong type give the same code on both backends', { skip: skipNative }, () => {
  const odd = [undefined, null, 0, -1, 1.5, NaN, 2 ** 64, 7n, -1n, 2n ** 65n, '', 'x', 'AAAA', '00'.repeat(32),
    new Uint8Array(3), new Uint8Array(32).buffer, new Int16Array(4), new Date(0), [], [1], {}, { algorithm: 'ed25519' },
    () => 1, Symbol('s'), true];
  for (const name of Object.keys(wasm).filter((k) => typeof wasm[k] === 'function' && /^[a-z]/.test(k))) {
    for (const a of odd) {
      for (const b of [undefined, a, [a], { now: a, artifact: a, threshold: a, parents: a }]) {
        const x = outcome(() => native[name](a, b, a, b, a));
        const y = outcome(() => wasm[name](a, b, a, b, a));
        // Error codes must agree; the values of successful calls are compared elsewhere.
        assert.deepEqual(x.code, y.code, `${name}(${String(a)}, ...)`);
      }
    }
  }
});

// Ed25519 on the wasm backend: cairn's own encoding checks, then the equation by node:crypto
// for a key's first use and by the key's precomputed multiples in the module after that; the
// native backend is ed25519-dalek's verify_strict. Random keys, messages and signatures, and
// each mutated the ways verify_strict exists for: every verdict must agree.
test('Ed25519: node:crypto and prepared keys after cairn\'s checks (wasm) and verify_strict (native) agree on random and edge inputs', { skip: skipNative }, async () => {
  const { generateKeyPairSync, sign } = await import('node:crypto');
  const L = Buffer.from('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010', 'hex');
  const addLE = (a, b) => {
    const out = Buffer.alloc(32);
    let carry = 0;
    for (let i = 0; i < 32; i++) {
      const v = a[i] + b[i] + carry;
      out[i] = v & 0xff;
      carry = v >> 8;
    }
    return out;
  };
  const small = ['0100000000000000000000000000000000000000000000000000000000000000', '0000000000000000000000000000000000000000000000000000000000000000',
    'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
    'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', 'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
    '0100000000000000000000000000000000000000000000000000000000000080', 'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f']
    .map((h) => Buffer.from(h, 'hex'));
  let seed = 1;
  const rand = (n) => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      b[i] = seed >>> 24;
    }
    return b;
  };
  // Count the calls that reach node:crypto, so the comparison cannot pass vacuously.
  const callsBefore = hostEd25519CallCount();
  let cases = 0;
  let accepted = 0;
  for (let i = 0; i < 60; i++) {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const pk = publicKey.export({ format: 'der', type: 'spki' }).subarray(12);
    const msg = rand(i * 7);
    const sig = sign(null, msg, privateKey);
    const variants = [
      [pk, msg, sig],
      [pk, Buffer.concat([msg, Buffer.from([0])]), sig],
      [pk, msg, Buffer.concat([sig.subarray(0, 32), addLE(sig.subarray(32), L)])], // S + L
      [pk, msg, Buffer.concat([sig.subarray(0, 32), L])], // S = L
      [rand(32), msg, sig], // another key, valid point or not
      [pk, msg, rand(64)],
      [pk, msg, sig.subarray(0, 63)],
      ...small.map((r) => [pk, msg, Buffer.concat([r, sig.subarray(32)])]), // small-order or non-canonical R
      ...small.map((a) => [a, msg, sig]), // small-order or non-canonical A
    ];
    for (let bit = 0; bit < 512; bit += 37) {
      const s = Buffer.from(sig);
      s[bit >> 3] ^= 1 << (bit & 7);
      variants.push([pk, msg, s]);
    }
    // By now the key is prepared in the module: the valid signature once more, on that route.
    variants.push([pk, msg, sig]);
    for (const [k, m, s] of variants) {
      const key = { algorithm: 'ed25519', publicKey: k };
      const a = outcome(() => wasm.verifySignature(key, m, s));
      const b = outcome(() => native.verifySignature(key, m, s));
      assert.deepEqual(a, b, `key ${k.toString('hex')} sig ${Buffer.from(s).toString('hex')}`);
      cases++;
      if (a.ok) accepted++;
    }
  }
  const hostCalls = hostEd25519CallCount() - callsBefore;
  assert.ok(accepted >= 120 && accepted < cases / 4, `${accepted} of ${cases} accepted`);
  if (process.env.CAIRN_VERIFY_ED25519 === 'wasm') return; // node:crypto is not used then
  assert.ok(hostCalls >= accepted / 2, `node:crypto decided ${hostCalls} equations`);
  // A key used again is verified with its precomputed multiples inside the module (wasm/src/
  // host.rs), so node:crypto decides only each key's first two equations: both routes were
  // compared, each on valid and invalid signatures.
  assert.ok(hostCalls < cases / 4, `node:crypto decided ${hostCalls} of ${cases} equations`);
});

// Which route decides: a key's first two uses go to node:crypto, its third prepares it in the
// module (eight kept, the least recently used dropped first; a dropped key starts over).
// Counted through the calls that reach node:crypto; every verdict is checked too.
test('Ed25519 on the wasm backend: keys are prepared at their third use, eight kept, least recently used dropped', {
  skip: process.env.CAIRN_VERIFY_ED25519 === 'wasm' ? 'CAIRN_VERIFY_ED25519=wasm: node:crypto is not used' : false,
}, async () => {
  const { generateKeyPairSync, sign } = await import('node:crypto');
  const msg = Buffer.from('prepared keys');
  const keys = Array.from({ length: 10 }, () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(12);
    return { key: { algorithm: 'ed25519', publicKey: raw }, sig: sign(null, msg, privateKey) };
  });
  const host = (i, { valid = true } = {}) => {
    const before = hostEd25519CallCount();
    const sig = Buffer.from(keys[i].sig);
    if (!valid) sig[5] ^= 1;
    if (valid) assert.equal(wasm.verifySignature(keys[i].key, msg, sig).valid, true);
    else assert.throws(() => wasm.verifySignature(keys[i].key, msg, sig), { code: 'signature_invalid' });
    return hostEd25519CallCount() - before;
  };
  const prepare = (i) => [host(i), host(i, { valid: false }), host(i)];
  assert.deepEqual(prepare(0), [1, 1, 0], 'key 0: two uses by node:crypto, the third prepared');
  assert.equal(host(0, { valid: false }), 0, 'a bad signature under a prepared key');
  for (let i = 1; i <= 8; i++) assert.deepEqual(prepare(i), [1, 1, 0], `key ${i}`);
  // Nine keys were prepared: key 0, the least recently used, was dropped and starts over.
  assert.deepEqual(prepare(0), [1, 1, 0], 'key 0 dropped, then prepared again (dropping key 1)');
  assert.equal(host(2), 0, 'key 2 still prepared');
  assert.equal(host(1), 1, 'key 1 dropped');
  // A key used twice only never gets a table.
  assert.deepEqual([host(9), host(9)], [1, 1], 'key 9: node:crypto twice');
});
