// Runs every vector case through an installed cairn-verify (the pack test's consumer
// projects): `node run-vectors.mjs <vectors dir>` from a project that has the package.
// Prints {backend, passed, failed, failures} as JSON.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import * as cairn from 'cairn-verify';
import { opsFor } from './ops-table.mjs';

const dir = process.argv[2];
// `node --test test/` loads every file here; without a directory this is not a test run.
if (!dir) process.exit(0);
const ops = opsFor(cairn);
let passed = 0;
const failures = [];
for (const f of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
  const doc = JSON.parse(readFileSync(join(dir, f), 'utf8'));
  for (const c of doc.cases) {
    const entry = ops[c.op];
    if (!entry) continue; // native-store-only ops (the vector test names them)
    let got;
    try {
      const result = entry[0](c.args);
      got = result?.valid === false ? { invalid: true } : entry[1](result);
    } catch (e) {
      got = { error: e.code };
    }
    const want = c.expect;
    const { ok, ...fields } = want;
    const same = want.error !== undefined ? got.error === want.error : ok === true && isDeepStrictEqual(got, fields);
    if (same) passed++;
    else failures.push(`${f}: ${c.name}: ${JSON.stringify(got).slice(0, 200)}`);
  }
}
console.log(JSON.stringify({ backend: cairn.backend(), passed, failed: failures.length, failures: failures.slice(0, 5) }));
