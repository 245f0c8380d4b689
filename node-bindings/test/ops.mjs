// The op table over this package's Node entry (the backend the process selected); see
// ops-table.mjs.
import * as api from '../lib/node.mjs';
import { opsFor } from './ops-table.mjs';

export { opsFor };
export const OPS = opsFor(api);
