// Times builds of the WebAssembly module against each other in one Node process: every build
// directory given (wasm-bindgen --target nodejs output: cairn_wasm.js + cairn_wasm_bg.wasm) is
// loaded as its own module instance, and each operation runs on all of them in interleaved
// rounds, so a busy shared machine slows every build alike and the comparison stays fair.
// Prints a Markdown table: sizes, then the median time per call of each operation.
//
//   node scripts/bench-wasm-speed.mjs [--ms N] [--rounds N] [--json FILE] [NAME=DIR ...]
//
// Without directories it times the package's own build (node-bindings/pkg/node). --ms is the
// time per build and operation (default 1500). Inputs are the valid cases of the test vectors:
// one signature per algorithm (verifySignature), the Ed25519-issued token (verifyToken), the
// manifest bundle with its artifact (verifyBundle), and 16 MiB through the wasm ArtifactHasher
// in 1 MiB chunks.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

const args = process.argv.slice(2);
let ms = 1500;
let rounds = 7;
let jsonOut = null;
const dirs = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--ms') ms = Number(args[++i]);
  else if (args[i] === '--rounds') rounds = Number(args[++i]);
  else if (args[i] === '--json') jsonOut = args[++i];
  else if (/^\d+$/.test(args[i])) ms = Number(args[i]); // the old positional form
  else {
    const eq = args[i].indexOf('=');
    dirs.push(eq > 0 ? [args[i].slice(0, eq), args[i].slice(eq + 1)] : [basename(args[i]), args[i]]);
  }
}
if (dirs.length === 0) dirs.push(['pkg/node', join(root, 'node-bindings/pkg/node')]);

const b64 = (s) => new Uint8Array(Buffer.from(s, 'base64'));
const vectors = (name) => JSON.parse(readFileSync(join(root, 'tests/vectors', name), 'utf8')).cases;
const keyArg = (k) => ({ algorithm: k.algorithm ?? k.alg, publicKey: b64(k.public_key ?? k.key) });

/** Operation name -> (module) => function verifying once (throws unless accepted). */
const ops = {};
const seen = new Set();
for (const c of vectors('crypto.json')) {
  const a = c.args;
  if (c.op !== 'verify_signature' || !c.expect.ok || seen.has(a.algorithm)) continue;
  seen.add(a.algorithm);
  ops[`verifySignature ${a.algorithm}`] = (m) => {
    const key = { algorithm: a.algorithm, publicKey: b64(a.public_key) };
    const [msg, sig, ctx] = [b64(a.message), b64(a.signature), b64(a.context)];
    return () => m.verifySignature(key, msg, sig, ctx);
  };
}
{
  const a = vectors('token.json').find((c) => c.name === 'valid_root_ed25519').args;
  ops['verifyToken (Ed25519 issuer)'] = (m) => {
    const token = b64(a.token);
    const issuers = a.trusted_issuers.filter((k) => k.algorithm === 'ed25519').map(keyArg);
    const opts = { now: a.now, audience: a.audience, capability: a.capability };
    return () => m.verifyToken(token, issuers, opts);
  };
}
{
  const a = vectors('bundle.json').find((c) => c.name === 'manifest bundle with its artifact').args;
  ops['verifyBundle (manifest, hybrid log)'] = (m) => {
    const [bundle, rootDoc, artifact] = [b64(a.bundle), b64(a.trusted_root), b64(a.artifact)];
    return () => m.verifyBundle(bundle, rootDoc, { now: a.now, artifact });
  };
}
const HASH_BYTES = 16 << 20;
const big = new Uint8Array(HASH_BYTES).map((_, i) => (i * 131) & 0xff);
ops['ArtifactHasher 16 MiB'] = (m) => () => {
  const h = new m.ArtifactHasher();
  for (let at = 0; at < big.length; at += 1 << 20) h.update(big.subarray(at, at + (1 << 20)));
  h.digest();
  h.free();
};

const builds = dirs.map(([name, dir]) => {
  const wasm = readFileSync(join(dir, 'cairn_wasm_bg.wasm'));
  return {
    name,
    module: require(resolve(dir, 'cairn_wasm.js')),
    raw: wasm.length,
    gzip: zlib.gzipSync(wasm, { level: 9 }).length,
  };
});

function slice(fn, ns) {
  let n = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  do {
    fn();
    n++;
    elapsed = Number(process.hrtime.bigint() - start);
  } while (elapsed < ns);
  return elapsed / n;
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const results = {};
for (const [op, make] of Object.entries(ops)) {
  const fns = builds.map((b) => make(b.module));
  for (const fn of fns) slice(fn, Math.min(500e6, ms * 0.3e6)); // warm-up: V8 tiers up hot wasm
  const times = fns.map(() => []);
  for (let r = 0; r < rounds; r++) fns.forEach((fn, i) => times[i].push(slice(fn, (ms * 1e6) / rounds)));
  results[op] = times.map(median);
}

const fmt = (ns) => (ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : `${(ns / 1e3).toFixed(0)} µs`);
const cols = ['build', 'raw', 'gzip -9', ...Object.keys(ops)];
console.log(`| ${cols.join(' | ')} |`);
console.log(`|${cols.map((_, i) => (i ? '---:' : '---')).join('|')}|`);
builds.forEach((b, i) => {
  const cells = Object.entries(results).map(([op, t]) =>
    op.startsWith('ArtifactHasher') ? `${((HASH_BYTES / t[i]) * 1e3).toFixed(0)} MB/s` : fmt(t[i]),
  );
  console.log(`| ${b.name} | ${b.raw.toLocaleString('en')} | ${b.gzip.toLocaleString('en')} | ${cells.join(' | ')} |`);
});
console.log(`\n(median of ${rounds} interleaved rounds, ${ms} ms per build and operation; Node ${process.version})`);
if (jsonOut) {
  writeFileSync(
    jsonOut,
    JSON.stringify({ builds: builds.map(({ name, raw, gzip }) => ({ name, raw, gzip })), results }, null, 2),
  );
}
