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
import { here, vectorFiles } from './helpers.mjs';
import { opsFor } from './ops.mjs';

const require = createRequire(import.meta.url);
// The wasm backend as the package assembles it: the main module and the second one
// (inspect, blux-reg), here both loaded at once.
const wasm = { ...require('../pkg/node/cairn_wasm.js'), ...require('../pkg/node/cairn_wasm_extras.js') };
const triple = process.platform === 'linux' ? `linux-${process.arch}-gnu` : `${process.platform}-${process.arch}`;
let native = null;
try {
  native = require(join(here, '..', 'npm', triple, `cairn-verify.${triple}.node`));
} catch {
  native = null;
}
const skipNative = native ? false : `no native addon built for ${triple} (scripts/build-native.sh)`;

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
