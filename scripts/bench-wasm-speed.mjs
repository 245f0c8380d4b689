// Times the WebAssembly verifiers in Node: one valid signature per algorithm from
// tests/vectors/crypto.json through verifySignature, and a whole bundle through verifyBundle.
// Prints one line per measurement (microseconds per call). Usage: node scripts/bench-wasm-speed.mjs [ms-per-case]
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as cairn from '../node-bindings/lib/node.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const budget = Number(process.argv[2] ?? 400);
const b64 = (s) => Buffer.from(s, 'base64');
const crypto = JSON.parse(readFileSync(join(root, 'tests/vectors/crypto.json'), 'utf8'));

/** Best of five rounds: the machine may be shared, and the minimum is the least disturbed. */
function time(label, fn) {
  for (let i = 0; i < 3; i++) fn();
  let best = Infinity;
  let total = 0;
  for (let round = 0; round < 5; round++) {
    let n = 0;
    const start = process.hrtime.bigint();
    let elapsed = 0;
    while (elapsed < (budget / 5) * 1e6 || n === 0) {
      fn();
      n++;
      elapsed = Number(process.hrtime.bigint() - start);
    }
    best = Math.min(best, elapsed / n);
    total += n;
  }
  console.log(`${label.padEnd(36)} ${(best / 1000).toFixed(1).padStart(9)} µs/op  (best of 5 rounds, ${total} runs)`);
}

const seen = new Set();
for (const c of crypto.cases) {
  const a = c.args;
  if (c.op !== 'verify_signature' || !c.expect.ok || seen.has(a.algorithm)) continue;
  seen.add(a.algorithm);
  const key = { algorithm: a.algorithm, publicKey: a.public_key };
  const msg = b64(a.message);
  const sig = b64(a.signature);
  const ctx = b64(a.context);
  time(`verifySignature ${a.algorithm}`, () => cairn.verifySignature(key, msg, sig, ctx));
}

const bundle = JSON.parse(readFileSync(join(root, 'tests/vectors/bundle.json'), 'utf8')).cases
  .find((c) => c.name === 'manifest bundle with its artifact').args;
const [bb, rb, ab] = [b64(bundle.bundle), b64(bundle.trusted_root), b64(bundle.artifact)];
time('verifyBundle (manifest, hybrid log)', () => cairn.verifyBundle(bb, rb, { now: bundle.now, artifact: ab }));
const big = new Uint8Array(16 << 20);
time('ArtifactHasher wasm, 16 MiB', () => {
  const h = new cairn.WasmArtifactHasher();
  h.update(big);
  h.digest();
  h.free();
});
time('ArtifactHasher node:crypto, 16 MiB', () => new cairn.ArtifactHasher().update(big).digest());
