// verifyBundle's freshness options: a verifier that remembers the newest checkpoint it
// accepted (`lastSeen`) or a tree size (`minSize`) refuses an older checkpoint (`replayed`) and
// another root at the same size (a split view: `proof_invalid`). Bundles come from a real
// store through the cairn CLI (two runs of `cairn demo`: the second run's checkpoint is newer),
// and every case runs on the wasm module and, when built, on the native addon.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as cairn from '../lib/node.mjs';
import { cairnBinary, nativeAddon } from './helpers.mjs';

const require = createRequire(import.meta.url);
const { wasmApi } = require('../lib/backend.cjs');
const { addon: native } = nativeAddon();
const backends = [
  ['package', cairn],
  ['wasm', wasmApi()],
  ...(native ? [['native', native]] : []),
];


// Two demo runs against one store: the first run's bundles, then the second's, and the
// signed checkpoint note the second run's bundles are under.
function demoBundles() {
  const home = mkdtempSync(join(tmpdir(), 'cairn-freshness-'));
  const env = { ...process.env, CAIRN_HOME: home };
  const demo = (name) => readFileSync(join(home, 'demo', name));
  try {
    execFileSync(cairnBinary(), ['demo', '--json'], { env, encoding: 'utf8' });
    const old = demo('token.bundle');
    const root = demo('trust-root.json');
    execFileSync(cairnBinary(), ['demo', '--json'], { env, encoding: 'utf8' });
    const fresh = demo('token.bundle');
    const noteFile = join(home, 'latest.checkpoint');
    execFileSync(cairnBinary(), ['checkpoint', 'latest', '--out', noteFile, '--json'], { env, encoding: 'utf8' });
    const note = readFileSync(noteFile, 'utf8');
    return { old, fresh, root, latest: { note, size: Number(note.split('\n')[1]) } };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

const { old, fresh, root, latest } = demoBundles();
const bare = (cp, rootB64) => `${cp.origin}\n${cp.size}\n${rootB64 ?? Buffer.from(cp.root, 'hex').toString('base64')}\n`;
const refused = (code, pattern) => (err) => err.code === code && err.class === 'invalid' && (!pattern || pattern.test(err.message));

for (const [name, api] of backends) {
  test(`${name}: an older checkpoint than lastSeen is refused as replayed`, () => {
    const newer = api.verifyBundle(fresh, root);
    const older = api.verifyBundle(old, root);
    assert.ok(older.checkpoint.size < newer.checkpoint.size, `${older.checkpoint.size} < ${newer.checkpoint.size}`);
    assert.ok(!older.checks.includes('checkpoint_freshness'));
    const remembered = bare(newer.checkpoint);
    assert.throws(
      () => api.verifyBundle(old, root, { lastSeen: remembered }),
      refused('replayed', new RegExp(`size ${older.checkpoint.size}.*size ${newer.checkpoint.size}`)),
    );
    // As bytes too, and as a minimum size.
    assert.throws(() => api.verifyBundle(old, root, { lastSeen: new TextEncoder().encode(remembered) }), refused('replayed'));
    assert.throws(() => api.verifyBundle(old, root, { minSize: older.checkpoint.size + 1 }), refused('replayed'));
    assert.throws(() => api.verifyBundle(old, root, { minSize: BigInt(older.checkpoint.size + 1) }), refused('replayed'));
    const ok = api.verifyBundle(old, root, { minSize: older.checkpoint.size });
    assert.ok(ok.checks.includes('checkpoint_freshness'));
  });

  test(`${name}: the same or a newer checkpoint passes, with the signed note as lastSeen`, () => {
    const older = api.verifyBundle(old, root);
    const v = api.verifyBundle(fresh, root, { lastSeen: bare(older.checkpoint) });
    assert.equal(v.valid, true);
    assert.ok(v.checks.includes('checkpoint_freshness'), v.checks.join());
    const same = api.verifyBundle(fresh, root, { lastSeen: bare(v.checkpoint) });
    assert.equal(same.checkpoint.size, v.checkpoint.size);
    // The registry's latest signed checkpoint note, as `cairn checkpoint latest` prints it.
    assert.ok(latest.size >= v.checkpoint.size, JSON.stringify(latest));
    if (latest.size > v.checkpoint.size) {
      assert.throws(() => api.verifyBundle(fresh, root, { lastSeen: latest.note }), refused('replayed'));
    } else {
      api.verifyBundle(fresh, root, { lastSeen: latest.note });
    }
  });

  test(`${name}: another root at the last seen size is a split view`, () => {
    const v = api.verifyBundle(fresh, root);
    const forked = bare(v.checkpoint, Buffer.alloc(32, 1).toString('base64'));
    assert.throws(() => api.verifyBundle(fresh, root, { lastSeen: forked }), refused('proof_invalid', /split view/));
    const elsewhere = `other.example/log\n${v.checkpoint.size}\n${Buffer.from(v.checkpoint.root, 'hex').toString('base64')}\n`;
    assert.throws(() => api.verifyBundle(fresh, root, { lastSeen: elsewhere }), refused('domain_mismatch'));
  });

  test(`${name}: unusable freshness options are input errors, never crashes`, () => {
    const v = api.verifyBundle(fresh, root);
    const malformed = (err) => err.code === 'malformed' && err.class === 'error';
    for (const lastSeen of ['', 'not a checkpoint', `${v.checkpoint.origin}\n01\nAAAA\n`, new Uint8Array([0xff, 0x0a]), 42, {}, []]) {
      assert.throws(() => api.verifyBundle(fresh, root, { lastSeen }), malformed, String(lastSeen));
    }
    for (const minSize of [-1, 1.5, 'ten', {}, Number.NaN, 2 ** 64]) {
      assert.throws(() => api.verifyBundle(fresh, root, { minSize }), malformed, String(minSize));
    }
    assert.throws(() => api.verifyBundle(fresh, root, { lastSeen: bare(v.checkpoint), minSize: 1 }), malformed);
    assert.throws(
      () => api.verifyBundle(fresh, root, { lastSeen: 'x'.repeat((1 << 20) + 1) }),
      (err) => err.code === 'too_large',
    );
    // Absent options mean no check.
    const none = api.verifyBundle(fresh, root, { lastSeen: undefined, minSize: null });
    assert.ok(!none.checks.includes('checkpoint_freshness'));
  });
}
