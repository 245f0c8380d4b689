// The published artifact: `npm pack`, install the tarball into a fresh project with no
// network (its only dependencies are the optional native platform packages), import it as ESM
// and as CommonJS, and type-check a TypeScript consumer against its declarations when
// TypeScript is installed. Then the native platform package: the whole vector suite runs in a
// project without it (wasm) and in one with it (native by default, and wasm when forced).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { here, nativeAddon, nativeDir, skipUnless, triple, vectorsDir } from './helpers.mjs';

const pkgDir = join(here, '..');
const manifest = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
const npm = (args, cwd) =>
  execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });


test('package.json: no dependencies but the native platform packages, exports map, engines', () => {
  assert.equal(manifest.dependencies, undefined);
  assert.equal(manifest.peerDependencies, undefined);
  assert.equal(manifest.optionalDependencies, undefined, 'added at publish time (scripts/platform-packages.mjs)');
  const planned = JSON.parse(execFileSync(process.execPath, [join(pkgDir, 'scripts', 'platform-packages.mjs')], { encoding: 'utf8' }));
  assert.ok('cairn-verify-linux-x64-gnu' in planned.optionalDependencies);
  for (const [name, version] of Object.entries(planned.optionalDependencies)) {
    assert.match(name, /^cairn-verify-(linux|darwin|win32)-[a-z0-9]+(-(gnu|musl|msvc))?$/);
    assert.equal(version, manifest.version, name);
    const platformManifest = JSON.parse(readFileSync(join(pkgDir, 'npm', name.slice('cairn-verify-'.length), 'package.json'), 'utf8'));
    assert.equal(platformManifest.name, name);
    assert.equal(platformManifest.version, manifest.version);
  }
  assert.ok(manifest.exports['.'].node.import && manifest.exports['.'].node.require);
  assert.ok(manifest.exports['.'].browser);
  assert.equal(manifest.engines.node, '>=18');
});

test('npm pack, install offline, import as ESM and CommonJS', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-pack-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const [info] = JSON.parse(npm(['pack', '--json', '--pack-destination', dir], pkgDir));
  const files = info.files.map((f) => f.path).sort();
  for (const f of ['lib/node.mjs', 'lib/node.cjs', 'lib/node.d.ts', 'lib/node.d.cts', 'lib/web.js', 'lib/web.d.ts',
    'pkg/node/cairn_wasm.js', 'pkg/node/cairn_wasm_bg.wasm', 'pkg/node/package.json',
    'pkg/web/cairn_wasm.js', 'pkg/web/cairn_wasm_bg.wasm', 'pkg/node/cairn_wasm_extras.js', 'pkg/node/cairn_wasm_extras_bg.wasm',
    'pkg/web/cairn_wasm_extras.js', 'pkg/web/cairn_wasm_extras_bg.wasm', 'README.md', 'package.json']) {
    assert.ok(files.includes(f), `tarball lacks ${f}`);
  }
  assert.deepEqual(files.filter((f) => f.startsWith('test/') || f.includes('node_modules')), []);

  const app = join(dir, 'app');
  execFileSync('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, version: '1.0.0' }));
  npm(['install', '--offline', join(dir, info.filename)], app);

  const bundle = JSON.parse(readFileSync(join(vectorsDir, 'bundle.json'), 'utf8')).cases[0].args;
  writeFileSync(join(app, 'args.json'), JSON.stringify(bundle));
  const script = (load) => `
    const a = JSON.parse(require('node:fs').readFileSync(__dirname + '/args.json', 'utf8'));
    ${load}
    const b = (s) => Buffer.from(s, 'base64');
    const v = c.verifyBundle(b(a.bundle), b(a.trusted_root), { now: a.now, artifact: a.artifact ? b(a.artifact) : undefined });
    let code;
    try { c.verifyBundle(b(a.bundle).subarray(1), b(a.trusted_root), { now: a.now }); } catch (e) { code = e.code; }
    console.log(JSON.stringify({ kind: v.kind, code, hasher: typeof c.hashFile }));
  `;
  writeFileSync(join(app, 'cjs.cjs'), script("const c = require('cairn-verify');"));
  writeFileSync(
    join(app, 'esm.mjs'),
    `import * as c from 'cairn-verify';
     import { createRequire } from 'node:module';
     const require = createRequire(import.meta.url);
     const __dirname = new URL('.', import.meta.url).pathname;
     ${script('')}
     const web = await import('cairn-verify/web');
     if (typeof web.hashBlob !== 'function' || typeof web.init !== 'function') throw new Error('web entry');`,
  );
  for (const f of ['cjs.cjs', 'esm.mjs']) {
    // This project has no native package: the default backend there is wasm, whatever this
    // test process was forced to.
    const env = { ...process.env };
    delete env.CAIRN_VERIFY_BACKEND;
    const out = JSON.parse(execFileSync(process.execPath, [f], { cwd: app, encoding: 'utf8', env }));
    assert.deepEqual(out, { kind: 'manifest', code: 'malformed', hasher: 'function' }, f);
  }

  const tsc = join(pkgDir, 'node_modules', 'typescript', 'bin', 'tsc');
  if (!existsSync(tsc)) {
    // A dev dependency: missing only when npm ci was not run (a failure under CAIRN_TEST_STRICT=1).
    t.diagnostic(`declarations not type-checked: ${skipUnless(false, 'typescript (npm ci)')}`);
    return;
  }
  writeFileSync(
    join(app, 'consumer.mts'),
    `import { verifyBundle, hashFile, inspect, ArtifactHasher, type BundleVerification, type CairnError,
       verifyWitnessedCheckpoint, verifyCosignatures, detectSplitView, verifyNotRevoked, verifyRevoked, parseRevocationsLine,
       revocationMapKey, revocationMapRoot, refreshBundle, type WitnessedCheckpointVerification, type SplitView, type RevocationsView } from 'cairn-verify';
     const d = await hashFile('x', { onProgress: (done: number, total: number) => void [done, total] });
     const v: BundleVerification = verifyBundle(new Uint8Array(), '', { now: 1, artifact: d, requireHybridCheckpoint: true });
     const kind: 'token' | 'manifest' = v.kind;
     const fresh = (note: string, bytes: Uint8Array) => [verifyBundle(new Uint8Array(), '', { lastSeen: note }), verifyBundle(new Uint8Array(), '', { lastSeen: bytes }), verifyBundle(new Uint8Array(), '', { minSize: 3 }), verifyBundle(new Uint8Array(), '', { minSize: 3n })];
     void fresh;
     const signer: string = v.signers[0].key_id;
     const view = inspect('');
     if (view.kind === 'bundle') { const n: number = view.inclusion.tree_size; void n; }
     if (view.kind === 'bundle' && view.revocation) {
       const p = view.revocation.proofs[0];
       const pk: 'key' | 'token' | 'manifest' | 'unknown' = p.kind;
       const e = view.revocation.newest_entry;
       void [pk, p.id.length + p.bytes, 'seq' in e ? e.seq : e.decode_error.code];
     }
     const h = new ArtifactHasher().update(new Uint8Array(1)).digest();
     const size: number = h.size;
     try { verifyBundle(new Uint8Array(), '') } catch (e) { const c: CairnError['code'] = (e as CairnError).code; void c; }
     void [kind, signer, size];
     const w = verifyBundle(new Uint8Array(), '', { witnesses: ['v', { name: 'w2', vkey: 'v' }], witnessQuorum: 2, witnessMaxAge: 60n });
     const counted: number | undefined = w.witnessed?.counted;
     const cp: WitnessedCheckpointVerification = verifyWitnessedCheckpoint('', [], 'o', { witnesses: ['v'], quorum: 1, maxAge: 3600 });
     const standing: 'counted' | 'stale' | 'future' | 'undated' = cp.witnessed.cosigned[0].standing;
     const split: SplitView | null = detectSplitView('', '', [], 'o').split_view;
     const quorumMet: boolean = verifyCosignatures('', { witnesses: [] }).quorum_met;
     const notRevoked: false = verifyNotRevoked('', 'token', '', '').revoked;
     const seq: number = verifyRevoked('', 'key', '', new Uint8Array()).seq;
     const line: string | undefined = parseRevocationsLine('')?.line;
     const key: string = revocationMapKey('manifest', '').key;
     const root: RevocationsView = revocationMapRoot([{ kind: 'token', id: '', seq: 1 }]);
     const refreshed: Uint8Array = refreshBundle(new Uint8Array(), 'Q1JGUA==');
     void [counted, standing, split, quorumMet, notRevoked, seq, line, key, root, refreshed];
     export {};`,
  );
  writeFileSync(
    join(app, 'consumer.cts'),
    `import cairn = require('cairn-verify');
     const r: cairn.TokenVerification = cairn.verifyToken('', [], { now: new Date(), revoked: [] });
     const s: string[] = r.claims.capabilities;
     void s;`,
  );
  writeFileSync(
    join(app, 'browser.mts'),
    `import init, { hashBlob, verifyCheckpoint, type CheckpointVerification } from 'cairn-verify/web';
     await init();
     const d = await hashBlob(new Blob([]), { forceStreaming: true });
     const c: CheckpointVerification = verifyCheckpoint('', [{ name: 'x', algorithm: 'ed25519', publicKey: '' }], { origin: 'x' });
     void [d.digest, c.root];
     export {};`,
  );
  const tscRun = () => execFileSync(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'node16', '--moduleResolution', 'node16',
    '--target', 'es2022', '--lib', 'es2022,dom', 'consumer.mts', 'consumer.cts', 'browser.mts'],
  { cwd: app, encoding: 'utf8' });
  try {
    tscRun();
  } catch (e) {
    assert.fail(`TypeScript rejects the declarations:\n${e.stdout}${e.stderr}`);
  }
});

test('vector suite from the installed package, without and with the native platform package', { skip: nativeAddon().skip }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-pack-native-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const [main] = JSON.parse(npm(['pack', '--json', '--pack-destination', dir], pkgDir));
  const [native] = JSON.parse(npm(['pack', '--json', '--pack-destination', dir], nativeDir));
  assert.deepEqual(native.files.map((f) => f.path).sort(), [`cairn-verify.${triple}.node`, 'package.json']);
  const project = (name, tarballs) => {
    const app = join(dir, name);
    execFileSync('mkdir', ['-p', app]);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name, private: true, version: '1.0.0', type: 'module' }));
    npm(['install', '--offline', ...tarballs.map((f) => join(dir, f))], app);
    for (const f of ['run-vectors.mjs', 'ops-table.mjs', 'helpers.mjs']) copyFileSync(join(here, f), join(app, f));
    return app;
  };
  const run = (app, backend) => {
    const env = { ...process.env };
    delete env.CAIRN_VERIFY_BACKEND;
    if (backend) env.CAIRN_VERIFY_BACKEND = backend;
    return JSON.parse(execFileSync(process.execPath, ['run-vectors.mjs', vectorsDir], { cwd: app, env, encoding: 'utf8' }));
  };
  const without = project('without-native', [main.filename]);
  const withNative = project('with-native', [main.filename, native.filename]);
  const results = [
    [run(without), 'wasm'],
    [run(withNative), 'native'],
    [run(withNative, 'wasm'), 'wasm'],
  ];
  for (const [r, backend] of results) {
    assert.equal(r.backend, backend);
    assert.deepEqual(r.failures, []);
    assert.ok(r.passed > 400, `${r.passed} cases`);
  }
  assert.equal(results[0][0].passed, results[1][0].passed);
  assert.throws(() => run(without, 'native'), /no native addon loads here/);
});
