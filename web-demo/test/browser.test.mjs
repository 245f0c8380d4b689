// The demo page in Debian's Chromium (headless, through playwright-core; no browser is ever
// downloaded): a valid artifact is accepted, one under an older checkpoint than the page saw
// before is shown with a warning, a modified one is rejected with its reason, a
// malformed bundle gives a readable error, dropped files are recognised by content, and the
// page requests nothing but its own files; both hashing paths agree with node:crypto (their
// MB/s is reported). Screenshots of each state go to test-output/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serve } from './server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const demo = join(here, '..');
const repo = join(demo, '..');
const out = join(repo, 'test-output');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const cases = JSON.parse(readFileSync(join(repo, 'tests', 'vectors', 'bundle.json'), 'utf8')).cases;
const valid = cases.find((c) => c.name === 'manifest bundle with its artifact').args;
const bytes = (b64) => Buffer.from(b64, 'base64');
const file = (name, buffer) => ({ name, mimeType: 'application/octet-stream', buffer });
const artifact = bytes(valid.artifact);
const modified = Buffer.from(artifact);
modified[modified.length - 1] ^= 0x01;

let server;
let context;
let page;
let userDataDir;
const browserRequests = [];

before(async () => {
  assert.ok(existsSync(join(demo, 'vendor', 'cairn-verify', 'lib', 'web.js')), 'run scripts/build-wasm.sh first');
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing (apt-get install -y chromium)`);
  mkdirSync(out, { recursive: true });
  server = await serve(demo);
  userDataDir = mkdtempSync(join(tmpdir(), 'cairn-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run'],
    viewport: { width: 1100, height: 900 },
  });
  context.on('request', (r) => browserRequests.push(r.url()));
  page = await context.newPage();
  page.on('pageerror', (e) => console.error('page error:', e));
  await page.goto(`${server.origin}/index.html`);
  await page.waitForSelector('body[data-ready=true]', { timeout: 30_000 });
});

after(async () => {
  await context?.close();
  await server?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

async function verify(files, now = valid.now) {
  for (const [id, f] of Object.entries(files)) await page.setInputFiles(id, f);
  await page.fill('#time', String(now));
  await page.click('#verify');
  await page.waitForSelector('#verdict:not([data-state=working]):not([data-state=idle])', { timeout: 60_000 });
  return {
    state: await page.getAttribute('#verdict', 'data-state'),
    text: await page.textContent('#verdict'),
  };
}

test('a valid artifact and its bundle are accepted', async () => {
  const r = await verify({
    '#root-file': file('trust-root.cdse', bytes(valid.trusted_root)),
    '#bundle-file': file('release.cbdl', bytes(valid.bundle)),
    '#artifact-file': file('release-1.0.0.txt', artifact),
  });
  await page.screenshot({ path: join(out, 'web-demo-valid.png'), fullPage: true });
  assert.equal(r.state, 'valid', r.text);
  assert.match(r.text, /Valid manifest/);
  assert.match(r.text, /tree size 4/);
  assert.match(r.text, /manifest-signer/);
  assert.match(r.text, /artifact digest/);
  assert.match(await page.textContent('#hash-status'), /hashed/);
  // A version 1 bundle proves nothing of revocation, and the page says so.
  assert.match(await page.textContent('#revocation'), /not proven by this bundle/);
  assert.doesNotMatch(r.text, /token revocation|not revoked/);
});

// The page remembers the newest checkpoint it verified per log origin (localStorage) and
// warns when a bundle's checkpoint is older, or another root at the same size.
test('a bundle older than the last checkpoint seen for its log is shown with a warning', async () => {
  const key = 'cairn.lastSeen.example.test/registry';
  const remembered = await page.evaluate((k) => localStorage.getItem(k), key);
  assert.match(remembered ?? '', /^example\.test\/registry\n4\n[A-Za-z0-9+/]{43}=\n$/, 'the valid verdict was remembered');
  const files = {
    '#root-file': file('trust-root.cdse', bytes(valid.trusted_root)),
    '#bundle-file': file('release.cbdl', bytes(valid.bundle)),
    '#artifact-file': file('release-1.0.0.txt', artifact),
  };
  const rememberOnPage = (text) => page.evaluate(([k, v]) => localStorage.setItem(k, v), [key, text]);
  try {
    // The same checkpoint again: valid, and said to be not older.
    let r = await verify(files);
    assert.equal(r.state, 'valid', r.text);
    assert.match(await page.textContent('#freshness'), /not older/);

    // The page saw a larger tree of this log before: the bundle is a step back.
    const otherRoot = Buffer.alloc(32, 7).toString('base64');
    await rememberOnPage(`example.test/registry\n9\n${otherRoot}\n`);
    r = await verify(files);
    await page.screenshot({ path: join(out, 'web-demo-older-checkpoint.png'), fullPage: true });
    assert.equal(r.state, 'stale', r.text);
    const warning = await page.textContent('#freshness-warning');
    assert.match(warning, /older than the last one this page verified/);
    assert.match(warning, /tree size 4\).*tree size 9\)/);
    assert.match(warning, /replayed/);
    assert.ok(await page.isVisible('#freshness-warning'));
    // A warning never moves the memory back.
    assert.equal(await page.evaluate((k) => localStorage.getItem(k), key), `example.test/registry\n9\n${otherRoot}\n`);

    // Same size, another root: a split view.
    await rememberOnPage(`example.test/registry\n4\n${otherRoot}\n`);
    r = await verify(files);
    assert.equal(r.state, 'stale', r.text);
    assert.match(await page.textContent('#freshness-warning'), /split view/);
    assert.match(await page.textContent('#freshness-warning'), /proof_invalid/);

    // A memory that does not parse is dropped; the bundle is valid and becomes the memory.
    await rememberOnPage('not a checkpoint');
    r = await verify(files);
    assert.equal(r.state, 'valid', r.text);
    assert.equal(await page.evaluate((k) => localStorage.getItem(k), key), remembered);

    // An older memory: the bundle is newer, valid, and becomes the memory.
    await rememberOnPage(`example.test/registry\n2\n${otherRoot}\n`);
    r = await verify(files);
    assert.equal(r.state, 'valid', r.text);
    assert.equal(await page.evaluate((k) => localStorage.getItem(k), key), remembered);
  } finally {
    await rememberOnPage(remembered);
  }
});

test('a modified artifact is rejected with its reason', async () => {
  const r = await verify({ '#artifact-file': file('release-1.0.0.txt', modified) });
  await page.screenshot({ path: join(out, 'web-demo-modified-artifact.png'), fullPage: true });
  assert.equal(r.state, 'invalid', r.text);
  assert.match(r.text, /does not match the manifest/);
  assert.match(r.text, /digest_mismatch/);
});

test('a malformed bundle gives a readable error', async () => {
  const r = await verify({
    '#bundle-file': file('broken.cbdl', bytes(valid.bundle).subarray(0, 200)),
    '#artifact-file': file('release-1.0.0.txt', artifact),
  });
  await page.screenshot({ path: join(out, 'web-demo-malformed-bundle.png'), fullPage: true });
  assert.equal(r.state, 'error', r.text);
  assert.match(r.text, /could not be read/);
  assert.match(r.text, /could not be decoded as a bundle/);
});

test('a bundle of a format version this page does not know cannot be checked: not "invalid"', async () => {
  const future = Buffer.from(bytes(valid.bundle));
  future[4] = 0x7f; // the version byte after the CBDL magic
  const r = await verify({
    '#bundle-file': file('future.cbdl', future),
    '#artifact-file': file('release-1.0.0.txt', artifact),
  });
  assert.equal(r.state, 'error', r.text);
  assert.match(r.text, /Could not be checked/);
  assert.match(r.text, /unsupported_version/);
});

test('dropped files are recognised by content and verified', async () => {
  await page.reload();
  await page.waitForSelector('body[data-ready=true]');
  await page.fill('#time', String(valid.now));
  await page.evaluate(([root, bundle, art]) => {
    const dt = new DataTransfer();
    const b = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
    dt.items.add(new File([b(art)], 'release-1.0.0.txt'));
    dt.items.add(new File([b(bundle)], 'release.cbdl'));
    dt.items.add(new File([b(root)], 'root'));
    document.getElementById('drop').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, [valid.trusted_root, valid.bundle, valid.artifact]);
  await page.waitForSelector('#verdict[data-state=valid]', { timeout: 60_000 });
  assert.match(await page.textContent('#root-info'), /version \d+/);
  assert.match(await page.textContent('#checks'), /artifact digest/, 'the dropped artifact was compared');
  await page.screenshot({ path: join(out, 'web-demo-dropped.png'), fullPage: true });

  // Another trust root among later downloads does not replace the pinned one: the pinned root
  // is kept (and said to be), and the modified artifact dropped with it is refused under it.
  const pinned = await page.textContent('#root-info');
  const otherRoot = cases.find((c) => c.name === "other registry's root").args.trusted_root;
  assert.notEqual(otherRoot, valid.trusted_root, 'the vectors hold a second root');
  await page.evaluate(([root, art]) => {
    const dt = new DataTransfer();
    const b = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
    dt.items.add(new File([b(root)], 'release.cbdl.sig'));
    dt.items.add(new File([b(art)], 'release-1.0.0.txt'));
    document.getElementById('drop').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, [otherRoot, modified.toString('base64')]);
  await page.waitForSelector('#verdict[data-state=invalid]', { timeout: 60_000 });
  assert.match(await page.textContent('#verdict'), /digest_mismatch/);
  assert.equal(await page.textContent('#root-info'), pinned);
  assert.match(await page.textContent('#drop-info'), /release\.cbdl\.sig.* is a trust root: it was not used/);
});

// A verdict stands only for the files it checked: choosing another file clears it, and an
// artifact left from a manifest's check is not compared with a token bundle (which vouches for
// no artifact), and the page says so.
test('a verdict is cleared when a file changes, and a token bundle ignores a leftover artifact', async () => {
  await page.reload();
  await page.waitForSelector('body[data-ready=true]');
  let r = await verify({
    '#root-file': file('trust-root.cdse', bytes(valid.trusted_root)),
    '#bundle-file': file('release.cbdl', bytes(valid.bundle)),
    '#artifact-file': file('release-1.0.0.txt', artifact),
  });
  assert.equal(r.state, 'valid', r.text);
  await page.setInputFiles('#artifact-file', file('other.bin', modified));
  await page.waitForSelector('#verdict[data-state=idle]');
  assert.doesNotMatch(await page.textContent('#verdict'), /Valid/);
  assert.equal(await page.textContent('#hash-status'), '');
  const token = cases.find((c) => c.name === 'token bundle').args;
  r = await verify({
    '#root-file': file('token-root.cdse', bytes(token.trusted_root)),
    '#bundle-file': file('token.cbdl', bytes(token.bundle)),
  }, token.now);
  assert.equal(r.state, 'valid', r.text);
  assert.match(r.text, /Valid token/);
  assert.match(await page.textContent('#artifact-unused'), /“other\.bin” was not compared/);
  // A file that is not a trust root, chosen as one: said so with cairn's code.
  await page.setInputFiles('#root-file', file('not-a-root.bin', artifact));
  await page.waitForFunction(() => /not usable/.test(document.getElementById('root-info').textContent));
  assert.match(await page.textContent('#root-info'), /not usable as a trust root \((malformed|domain_mismatch): /);
  // The pinned root again, for the tests after this one.
  await page.setInputFiles('#root-file', file('trust-root.cdse', bytes(valid.trusted_root)));
  await page.waitForFunction(() => /version \d+/.test(document.getElementById('root-info').textContent));
  await page.evaluate(() => localStorage.clear());
});

test('a pasted checkpoint is verified against the trust root; garbage is explained', async () => {
  const cairn = await import('../../node-bindings/lib/node.mjs');
  const note = cairn.inspect(bytes(valid.bundle)).checkpoint.note;
  await page.click('#paste-box summary');
  await page.fill('#paste', note);
  await page.click('#verify-paste');
  await page.waitForSelector('#verdict[data-state=valid]');
  assert.match(await page.textContent('#verdict'), /Valid checkpoint/);
  assert.match(await page.textContent('#verdict'), /example\.test\/registry/);
  await page.screenshot({ path: join(out, 'web-demo-pasted-checkpoint.png'), fullPage: true });
  await page.fill('#paste', note.replace(/^(.*\n)(\d+)/, (_, o, n) => `${o}${Number(n) + 1}`));
  await page.click('#verify-paste');
  await page.waitForSelector('#verdict[data-state=invalid]');
  assert.match(await page.textContent('#verdict'), /signature/i);
  await page.fill('#paste', 'hello, not a cairn object');
  await page.click('#verify-paste');
  await page.waitForSelector('#verdict[data-state=error]');
  assert.match(await page.textContent('#reason'), /could not be read/);
  // The trust root is checked too: at a time past its expiry, nothing is verified with it.
  await page.fill('#paste', note);
  await page.fill('#time', '4000000000');
  await page.click('#verify-paste');
  await page.waitForSelector('#verdict[data-state=invalid]');
  assert.match(await page.textContent('#verdict'), /expired/);
  await page.fill('#time', String(valid.now));
});

// What a verdict says of revocation is what the bundle proved: as of a checkpoint for a
// version 2 bundle, nothing for a version 1 token bundle (no list of revoked ids is given).
// A fresh page each time, no artifact, and no memory of earlier checkpoints.
test('revocation is claimed only as far as the bundle proves it', async () => {
  const named = (n) => cases.find((c) => c.name === n).args;
  for (const [name, expect] of [
    ['bundle v2 manifest: not revoked as of its checkpoint', /^not revoked as of tree size 8 \(/],
    ['token bundle', /^not proven by this bundle/],
  ]) {
    const c = named(name);
    await page.evaluate(() => localStorage.clear());
    await page.reload();
    await page.waitForSelector('body[data-ready=true]');
    const files = {
      '#root-file': file('trust-root.cdse', bytes(c.trusted_root)),
      '#bundle-file': file('bundle.cbdl', bytes(c.bundle)),
    };
    if (c.artifact) files['#artifact-file'] = file('artifact', bytes(c.artifact));
    const r = await verify(files, c.now);
    assert.equal(r.state, 'valid', `${name}: ${r.text}`);
    assert.match(await page.textContent('#revocation'), expect, name);
    assert.doesNotMatch(await page.textContent('#reason'), /not revoked/, name);
    assert.doesNotMatch(await page.textContent('#checks'), /token revocation/, name);
  }
  // A time the page cannot use is blamed on the time field, not on the bundle.
  await page.fill('#time', '99999999999999999999');
  await page.click('#verify');
  await page.waitForSelector('#verdict[data-state=error]');
  assert.match(await page.textContent('#verdict'), /not a time after 1970/);
  assert.doesNotMatch(await page.textContent('#verdict'), /could not be decoded as a bundle/);
  await page.evaluate(() => localStorage.clear());
});

// Both browser hashing paths (WebCrypto for files that fit in memory, the streaming wasm
// hasher beyond) must give node:crypto's digest for the same bytes; their speed in this
// browser is printed and saved (test-output/browser-hash.json), never asserted.
test('WebCrypto and the streaming wasm hasher agree in the browser; MB/s reported', async () => {
  const size = 64 * 1024 * 1024;
  const pattern = (n) => {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 0xff;
    return b;
  };
  const expected = createHash('sha256').update(pattern(size)).digest('hex');
  const result = await page.evaluate(async ([n, patternSrc]) => {
    const make = new Function(`return (${patternSrc})`)();
    const blob = new Blob([make(n)]);
    const { hashBlob } = await import('./vendor/cairn-verify/lib/web.js');
    const timed = async (opts) => {
      let progress = 0;
      const t0 = performance.now();
      const d = await hashBlob(blob, { ...opts, onProgress: (done) => { progress = done; } });
      return { ...d, ms: performance.now() - t0, progress };
    };
    await timed({ forceStreaming: true }); // compile and warm the wasm hasher
    return { webcrypto: await timed({}), wasm: await timed({ forceStreaming: true }) };
  }, [size, pattern.toString()]);
  const mbps = (r) => Math.round(size / 1e6 / (r.ms / 1000));
  for (const [path, r] of Object.entries(result)) {
    assert.equal(r.digest, expected, `${path} digest`);
    assert.equal(r.size, size);
    assert.equal(r.progress, size, `${path} reported progress to the end`);
  }
  const figures = {
    bytes: size,
    webcrypto_mb_per_s: mbps(result.webcrypto),
    wasm_streaming_mb_per_s: mbps(result.wasm),
    browser: context.browser()?.version() ?? 'chromium',
  };
  writeFileSync(join(out, 'browser-hash.json'), JSON.stringify(figures, null, 2) + '\n');
  console.log(`SHA-256 of 64 MiB in Chromium: WebCrypto ${figures.webcrypto_mb_per_s} MB/s, ` +
    `streaming wasm hasher ${figures.wasm_streaming_mb_per_s} MB/s (reported, not asserted)`);
});

test('the page requested nothing but its own files', () => {
  assert.ok(browserRequests.length > 0);
  for (const url of browserRequests) {
    assert.ok(url.startsWith(`${server.origin}/`) || url.startsWith('data:') || url.startsWith('blob:'), url);
  }
  const wasm = server.requests.filter((u) => u.endsWith('.wasm'));
  assert.ok(wasm.length >= 1, 'the module was fetched from the local server');
});
