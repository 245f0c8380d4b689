// The tile client in the package (verifyFromTiles): a registry made by the `cairn` CLI is
// exported as C2SP tlog-tiles (`cairn tiles export`), and the package, which never fetches,
// names the tiles it needs, then proves an entry and a consistency proof from those tiles
// alone; damaged, truncated or foreign tiles and a wrong key or origin are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyCheckpoint, verifyFromTiles } from '../lib/node.mjs';
import { cairnBinary } from './helpers.mjs';



/** Calls verifyFromTiles until it is complete, fetching what it names from `dir`. */
function proveFrom(dir, note, verifiers, origin, request, rounds = []) {
  const tiles = [];
  for (let i = 0; i < 8; i++) {
    const r = verifyFromTiles(note, verifiers, origin, request, tiles);
    if (r.complete) return r;
    rounds.push(r.missing);
    for (const path of r.missing) tiles.push({ path, data: readFileSync(join(dir, path)) });
  }
  assert.fail('still missing tiles after 8 rounds');
}

test('entries and consistency are proven from exported tiles alone', () => {
  const home = mkdtempSync(join(tmpdir(), 'cairn-tiles-js-'));
  const env = { ...process.env, CAIRN_HOME: home };
  const cairn = (...args) => JSON.parse(execFileSync(cairnBinary(), [...args, '--json'], { env, encoding: 'utf8' }));
  try {
    const origin = 'tiles-js.example/log';
    cairn('init', '--origin', origin, '--insecure-no-passphrase');
    const keyFile = join(home, 'log.json');
    cairn('key', 'export', 'log', '--format', 'json', '--out', keyFile);
    const verifier = { name: origin, key: readFileSync(keyFile, 'utf8') };
    const spec = join(home, 'spec.json');
    const register = (i) => {
      writeFileSync(spec, JSON.stringify({ id: `node-${i}`, name: 'N', version: '1', provenance: { source: 's' } }));
      cairn('node', 'register', spec);
    };
    for (let i = 0; i < 6; i++) register(i);
    const dir = join(home, 'tiles');
    cairn('tiles', 'export', dir);
    const oldNote = readFileSync(join(dir, 'checkpoint'));
    for (let i = 6; i < 12; i++) register(i);
    cairn('tiles', 'export', dir);
    const note = readFileSync(join(dir, 'checkpoint'));

    // Nothing given: the package names what it needs, and proves nothing yet.
    const first = verifyFromTiles(note, verifier, origin, { entry: 3 }, []);
    assert.equal(first.complete, false);
    assert.ok(first.missing.some((p) => p.startsWith('tile/entries/')), first.missing.join(' '));

    const rounds = [];
    const r = proveFrom(dir, note, verifier, origin, { entry: 3, oldCheckpoint: oldNote }, rounds);
    assert.equal(r.valid, true);
    assert.ok(rounds.length <= 2, `tiles asked for in ${rounds.length} rounds`);
    assert.equal(r.entry.index, 3);
    const stored = cairn('ledger', 'get', '3').entry;
    assert.equal(r.entry.leaf_hash, stored.leaf_hash);
    assert.deepEqual(r.entry.ledger_entry, Object.fromEntries(Object.entries(stored).filter(([k]) => !['signers', 'envelope'].includes(k))));
    assert.ok(r.consistency.old_size < r.size);
    // The checkpoint as verifyCheckpoint shows it, extension lines included.
    const { valid, ...shown } = verifyCheckpoint(note, verifier, origin);
    assert.equal(valid, true);
    for (const [k, v] of Object.entries(shown)) assert.deepEqual(r[k], v, k);
    assert.ok(r.extensions.some((l) => l.startsWith('cairn.revocations ')), r.extensions.join(' '));
    // The log serving its older checkpoint to one who holds the newer: it rolled back.
    assert.throws(() => proveFrom(dir, oldNote, verifier, origin, { oldCheckpoint: note }),
      (e) => e.name === 'CairnError' && e.code === 'proof_invalid' && /rolled back/.test(e.message));

    // Every tile it used, each damaged in turn: refused, never a wrong answer.
    const used = rounds.flat();
    const all = used.map((path) => ({ path, data: readFileSync(join(dir, path)) }));
    for (let i = 0; i < all.length; i++) {
      const flipped = all.map((t, j) => (j === i ? { path: t.path, data: Buffer.from(t.data).fill(t.data[0] ^ 1, 0, 1) } : t));
      assert.throws(() => verifyFromTiles(note, verifier, origin, { entry: 3, oldCheckpoint: oldNote }, flipped),
        (e) => e.name === 'CairnError' && e.class === 'invalid' || e.code === 'malformed', `flipped ${all[i].path}`);
      const truncated = all.map((t, j) => (j === i ? { path: t.path, data: t.data.subarray(0, t.data.length - 1) } : t));
      assert.throws(() => verifyFromTiles(note, verifier, origin, { entry: 3, oldCheckpoint: oldNote }, truncated),
        (e) => e.name === 'CairnError', `truncated ${all[i].path}`);
    }
    // Another tile under a needed tile's path (a tile of another size): refused.
    const swapped = all.map((t) => (t.path.startsWith('tile/entries/') ? { path: t.path, data: all.find((u) => !u.path.startsWith('tile/entries/')).data } : t));
    assert.throws(() => verifyFromTiles(note, verifier, origin, { entry: 3 }, swapped), (e) => e.name === 'CairnError');
    // A wrong key, a wrong origin, a path that is not a tile's.
    const otherKey = { name: origin, key: { algorithm: 'ed25519', publicKey: new Uint8Array(32).fill(9) } };
    assert.throws(() => verifyFromTiles(note, otherKey, origin, { entry: 3 }, all), (e) => e.name === 'CairnError' && e.code === 'unknown_key');
    assert.throws(() => verifyFromTiles(note, verifier, 'other.example/log', { entry: 3 }, all), (e) => e.name === 'CairnError' && e.code === 'domain_mismatch');
    assert.throws(() => verifyFromTiles(note, verifier, origin, { entry: 3 }, [{ path: '../etc/passwd', data: new Uint8Array(1) }]),
      (e) => e.code === 'malformed');
    // Data over what a tile at its path can hold, or over 64 MiB for all tiles together
    // (a server answering every path with a large body): too_large, before anything else.
    assert.throws(() => verifyFromTiles(note, verifier, origin, { entry: 3 }, [{ path: 'tile/0/000', data: new Uint8Array(8193) }]),
      (e) => e.code === 'too_large');
    const big = new Uint8Array(14 << 20);
    const flood = [0, 1, 2, 3, 4].map((i) => ({ path: `tile/entries/00${i}`, data: big }));
    assert.throws(() => verifyFromTiles(note, verifier, origin, { entry: 3 }, flood),
      (e) => e.code === 'too_large' && /all together/.test(e.message));
    // An entry beyond the checkpoint.
    assert.throws(() => verifyFromTiles(note, verifier, origin, { entry: r.size }, all), (e) => e.code === 'malformed');
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
