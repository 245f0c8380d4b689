// Every case of every tests/vectors/*.json file, through the WebAssembly exports: the same
// verdict, error code and result fields as the Rust verifiers. The op table is explicit; an op
// it does not know fails, so no case is skipped silently.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { vectorFiles, NATIVE_ONLY, NOT_EXPORTED_YET } from './helpers.mjs';
import { OPS } from './ops.mjs';

const files = vectorFiles({ includeNative: true });

test('vector files exist', () => {
  assert.ok(files.length > 0, 'no tests/vectors/*.json found');
});

for (const { file, doc } of files) {
  const native = Object.keys(doc.ops ?? {}).filter((op) => op in NATIVE_ONLY);
  if (native.length > 0) {
    assert.equal(native.length, Object.keys(doc.ops).length, `${file}: mixes native-only and wasm ops`);
    test(`vectors: ${file}`, { skip: `native only: ${NATIVE_ONLY[native[0]]}` }, () => {});
    continue;
  }
  const unexported = Object.keys(doc.ops ?? {}).filter((op) => op in NOT_EXPORTED_YET);
  if (unexported.length > 0) {
    assert.equal(unexported.length, Object.keys(doc.ops).length, `${file}: mixes exported and unexported ops`);
    test(`vectors: ${file}`, { skip: NOT_EXPORTED_YET[unexported[0]] }, () => {});
    continue;
  }
  test(`vectors: ${file}`, async (t) => {
    assert.ok(Array.isArray(doc.cases) && doc.cases.length > 0, `${file} has no cases`);
    for (const op of Object.keys(doc.ops ?? {})) {
      assert.ok(op in OPS, `${file}: op ${op} has no export in the op table`);
    }
    for (const c of doc.cases) {
      await t.test(c.name, () => {
        const entry = OPS[c.op];
        assert.ok(entry, `unknown op ${c.op}`);
        const [call, pick] = entry;
        if (c.expect.error !== undefined) {
          assert.throws(
            () => call(c.args),
            (err) => {
              assert.ok(err instanceof Error, `not an Error: ${err}`);
              assert.equal(err.name, 'CairnError', `${err.name}: ${err.message}`);
              assert.equal(err.code, c.expect.error, `code (message: ${err.message})`);
              return true;
            },
          );
          return;
        }
        assert.equal(c.expect.ok, true, 'a case expects ok or error');
        const result = call(c.args);
        assert.equal(result?.valid ?? true, true);
        const { ok, ...want } = c.expect;
        assert.deepEqual(pick(result), want);
      });
    }
  });
}
