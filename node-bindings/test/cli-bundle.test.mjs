// Bundles exported by the `cairn` CLI from a real redb store verify in Node through the
// package, with the same verdicts as `cairn bundle verify`: the store, the CLI, the wasm build
// and the JS surface end to end. The CLI binary is built by `cargo` if it is not there yet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyBundle, hashFile } from '../lib/node.mjs';
import { here } from './helpers.mjs';

const repo = join(here, '..', '..');

function cairnBinary() {
  for (const profile of ['debug', 'release']) {
    const bin = join(repo, 'target', profile, 'cairn');
    if (existsSync(bin)) return bin;
  }
  execFileSync('cargo', ['build', '--quiet', '--bin', 'cairn'], { cwd: repo, stdio: 'inherit' });
  return join(repo, 'target', 'debug', 'cairn');
}

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
    assert.throws(() => verifyBundle(flipped, root), (err) => typeof err.code === 'string');
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
