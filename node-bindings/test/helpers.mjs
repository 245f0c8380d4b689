// Shared by the tests: the repository's vector files and small converters.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = join(here, '..', '..');
export const vectorsDir = join(repoRoot, 'tests', 'vectors');

// scripts/test.sh sets CAIRN_TEST_STRICT=1, having installed every dependency of these tests
// (the npm dev dependencies, and on Linux x64 the native addon scripts/test-js.sh builds).
const strict = process.env.CAIRN_TEST_STRICT === '1';

/** The platform triple of the native addon this machine would load. */
export const triple =
  process.platform === 'linux' ? `linux-${process.arch}-gnu` : `${process.platform}-${process.arch}`;

/**
 * The `skip` option of a test that needs `what`: false when `present`; otherwise the reason,
 * or, under CAIRN_TEST_STRICT=1, a throw (the file fails) when `expected`: a run meant to be
 * complete must not pass by skipping what its script installs.
 */
export function skipUnless(present, what, { expected = true } = {}) {
  if (present) return false;
  if (strict && expected) throw new Error(`${what} is missing, and CAIRN_TEST_STRICT=1 asks for every test to run`);
  return `${what} is missing`;
}

/** The native platform package's directory for this machine (scripts/build-native.sh). */
export const nativeDir = join(here, '..', 'npm', triple);

/**
 * The native addon built for this machine (scripts/build-native.sh), or null, and the `skip`
 * option of a test that needs it, as [skipUnless] gives it: scripts/test-js.sh builds the
 * addon on Linux x64 only.
 */
export function nativeAddon() {
  let addon = null;
  try {
    addon = createRequire(import.meta.url)(join(nativeDir, `cairn-verify.${triple}.node`));
  } catch {
    addon = null;
  }
  const skip = skipUnless(addon, `the native addon for ${triple} (scripts/build-native.sh)`, {
    expected: triple === 'linux-x64-gnu',
  });
  return { addon, skip };
}

/** Every tests/vectors/*.json file present, parsed. */
// Ops that belong to the native store, not to the offline verifier compiled to wasm. They are
// listed by name (the vector test reports their files as skipped), so a new op can never be
// skipped silently.
export const NATIVE_ONLY = {};

// Ops whose code is in cairn-core but not exported by the package (none at the moment). Listed
// by name with the reason, so the vector test reports their files as skipped, never silently.
export const NOT_EXPORTED_YET = {};

const isNativeOnly = (doc) =>
  Object.keys(doc.ops ?? {}).some((op) => op in NATIVE_ONLY || op in NOT_EXPORTED_YET);

export function vectorFiles({ includeNative = false } = {}) {
  return readdirSync(vectorsDir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ file: f, doc: JSON.parse(readFileSync(join(vectorsDir, f), 'utf8')) }))
    .filter(({ doc }) => includeNative || !isNativeOnly(doc));
}

export const b64 = (s) => new Uint8Array(Buffer.from(s, 'base64'));
export const hexToB64 = (h) => Buffer.from(h, 'hex').toString('base64');

/** The `cairn` CLI binary of this checkout (built by cargo if it is not there yet). */
export function cairnBinary() {
  for (const profile of ['debug', 'release']) {
    const bin = join(repoRoot, 'target', profile, 'cairn');
    if (existsSync(bin)) return bin;
  }
  execFileSync('cargo', ['build', '--quiet', '--bin', 'cairn'], { cwd: repoRoot, stdio: 'inherit' });
  return join(repoRoot, 'target', 'debug', 'cairn');
}
