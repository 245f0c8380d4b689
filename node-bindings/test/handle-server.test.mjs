// The handle registry through the package against a real `cairn serve` on a loopback port: a
// client registers an identity sealed with sealEnvelope, resolves it with an ephemeral key and
// openEnvelope, solves the server's proof-of-work challenge with solvePow, and sees the
// server refuse a tampered envelope and a missing solution; and the same with the post-quantum
// X-Wing suite. The store is made by `cairn demo`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { normaliseHandle, envelopeKey, sealEnvelope, openEnvelope, solvePow } from '../lib/node.mjs';
import { cairnBinary } from './helpers.mjs';

// The server takes a port of the kernel's choosing and names it in its start-up line: no port
// is picked here and released, which another connection could take before the server binds.
async function serve(home, config) {
  const cfg = join(home, 'serve.toml');
  writeFileSync(cfg, `address = "127.0.0.1:0"\n[rate_limit]\nenabled = false\n${config}`);
  const child = spawn(cairnBinary(), ['serve', '--config', cfg], {
    env: { ...process.env, CAIRN_HOME: home, CAIRN_LOG: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  let base = null;
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`cairn serve exited: ${stderr}`);
    base ??= stderr.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/)?.[1] ?? null;
    if (!base) {
      await new Promise((r) => setTimeout(r, 50));
      continue;
    }
    try {
      if ((await fetch(`${base}/health`)).ok) return { base, stop: () => child.kill('SIGKILL') };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`cairn serve did not start: ${stderr}`);
}

const post = (base, path, body, headers = {}) =>
  fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

test('register and resolve a handle through the package against cairn serve', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'cairn-handles-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  execFileSync(cairnBinary(), ['demo', '--json'], { env: { ...process.env, CAIRN_HOME: home } });
  const server = await serve(
    home,
    `[envelope]\npepper_hex = "${randomBytes(32).toString('hex')}"\n` +
      `keys = [{ x25519_private_key_hex = "${randomBytes(32).toString('hex')}", active = true }]\n` +
      `[pow]\nenabled = true\ndifficulty = 8\nttl_seconds = 120\n`,
  );
  t.after(server.stop);
  const { base } = server;
  const rnd = () => new Uint8Array(randomBytes(32));

  const handle = normaliseHandle('  Ａlice ').handle;
  assert.equal(handle, 'alice');
  const aad = new TextEncoder().encode(handle);
  const key = await (await fetch(`${base}/envelope_pubkey`)).json();
  const identity = { handle, device_pubkey: 'ab'.repeat(32) };
  const { envelope } = sealEnvelope(
    { publicKey: key.x25519_public_key_hex, kid: key.kid_hex },
    JSON.stringify(identity),
    { purpose: 'register', aad, seed: rnd() },
  );

  // A tampered envelope is refused; the genuine one registers, once.
  const bad = Buffer.from(envelope, 'base64');
  bad[bad.length - 1] ^= 1;
  const refused = await post(base, '/register', { handle, envelope: bad.toString('base64') });
  assert.equal(refused.status, 422);
  assert.equal((await refused.json()).error.code, 'signature_invalid');
  const r = await post(base, '/register', { handle, envelope });
  assert.equal(r.status, 200, await r.clone().text());
  assert.equal((await r.json()).status, 'registered');

  // Resolve needs a solved challenge; without one it is refused.
  const eph = { secret: rnd() };
  const { public_key } = envelopeKey(eph);
  const ask = { handle, requester_ephemeral_pubkey_hex: public_key };
  const noPow = await post(base, '/resolve', ask);
  assert.equal(noPow.status, 403);
  const challenge = await (await fetch(`${base}/pow/challenge`)).json();
  const { solution } = solvePow(challenge.challenge);
  assert.ok(solution, 'solved');
  const answer = await post(base, '/resolve', ask, { [challenge.header]: solution });
  assert.equal(answer.status, 200, await answer.clone().text());
  const sealedAnswer = (await answer.json()).envelope;
  const opened = JSON.parse(openEnvelope([eph], sealedAnswer, { purpose: 'resolve', aad }).text);
  assert.equal(opened.found, true);
  assert.deepEqual(opened.identity, identity);
  // The answer is for this requester's key only, and the solution was good once.
  assert.throws(() => openEnvelope([{ secret: rnd() }], sealedAnswer, { purpose: 'resolve', aad }), (e) => e.code === 'unknown_key');
  const replay = await post(base, '/resolve', ask, { [challenge.header]: solution });
  assert.equal(replay.status, 403);
  assert.equal((await replay.json()).error.code, 'replayed');
});

test('register and resolve with X-Wing (post-quantum) envelopes through the package', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'cairn-handles-pq-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  execFileSync(cairnBinary(), ['demo', '--json'], { env: { ...process.env, CAIRN_HOME: home } });
  const server = await serve(
    home,
    `[envelope]\npepper_hex = "${randomBytes(32).toString('hex')}"\n` +
      `keys = [{ x25519_private_key_hex = "${randomBytes(32).toString('hex')}", active = true },\n` +
      `        { xwing_private_key_hex = "${randomBytes(32).toString('hex')}", active = true }]\n`,
  );
  t.after(server.stop);
  const { base } = server;
  const rnd = () => new Uint8Array(randomBytes(32));
  const handle = 'bob';
  const aad = new TextEncoder().encode(handle);
  const pq = await (await fetch(`${base}/envelope_pubkey?suite=xwing`)).json();
  assert.equal(pq.suite, 'xwing-hkdf-sha256-chacha20poly1305');
  assert.equal(pq.public_key_hex.length, 2 * 1216);
  const identity = { handle, device_pubkey: 'cd'.repeat(32) };
  const sealed = sealEnvelope(
    { publicKey: pq.public_key_hex, kid: pq.kid_hex, suite: 'xwing' },
    JSON.stringify(identity),
    { purpose: 'register', aad, seed: rnd() },
  );
  assert.equal(sealed.suite, 'xwing-hkdf-sha256-chacha20poly1305');
  // A 1216-byte key given as base64 seals alike; the wrong length or suite is refused.
  const b64 = Buffer.from(pq.public_key_hex, 'hex').toString('base64');
  sealEnvelope({ publicKey: b64, suite: 'xwing' }, 'x', { purpose: 'register', seed: rnd() });
  assert.throws(
    () => sealEnvelope({ publicKey: pq.public_key_hex, suite: 'x25519' }, 'x', { purpose: 'register', seed: rnd() }),
    (e) => e.code === 'invalid_key',
  );
  const r = await post(base, '/register', { handle, envelope: sealed.envelope });
  assert.equal(r.status, 200, await r.clone().text());

  const eph = { secret: rnd(), suite: 'xwing' };
  const { public_key } = envelopeKey(eph);
  assert.equal(public_key.length, 2 * 1216);
  const answer = await post(base, '/resolve', { handle, requester_ephemeral_pubkey_hex: public_key });
  assert.equal(answer.status, 200, await answer.clone().text());
  const env = Buffer.from((await answer.json()).envelope, 'base64');
  assert.equal(env.readUInt16BE(1), 2, 'the answer is sealed with X-Wing');
  const opened = JSON.parse(openEnvelope([eph], env, { purpose: 'resolve', aad }).text);
  assert.deepEqual(opened.identity, identity);
  // The same seed as an X25519 key is another key: the answer does not open with it.
  assert.throws(
    () => openEnvelope([{ secret: eph.secret }], env, { purpose: 'resolve', aad }),
    (e) => e.code === 'unknown_key',
  );
});
