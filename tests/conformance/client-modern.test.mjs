// The MCP conformance suite (npm @modelcontextprotocol/conformance, the 0.2
// line) in client mode against corral's side facing servers, MCP
// 2026-07-28 and the 2025 scenarios that need a user behind the client:
//
//   - `corral probe URL` (tests/conformance/client-probe.sh) for what one
//     probe does: request-metadata (per-request _meta, MCP-Protocol-Version,
//     asking again after UnsupportedProtocolVersionError), tools_call at
//     2026-07-28, json-schema-ref-no-deref (a network $ref is never
//     fetched);
//   - a remote unit driven by the official SDK client through `corral serve
//     --stdio` (tests/conformance/client-gateway.mjs) for the rest:
//     sep-2322-client-request-state (MRTR: corral retries for a 2025
//     client), http-standard-headers (Mcp-Method / Mcp-Name on every
//     request the unit makes), http-custom-headers (Mcp-Param-*, Base64,
//     empty and null values), http-invalid-tool-headers (tools with broken
//     x-mcp-header annotations left out of the list, the valid one kept),
//     json-schema-2020-12-preservation at both revisions (the inputSchema
//     through the gateway untouched), elicitation-sep1034-client-defaults
//     (a 2025 elicitation passed through to a client that fills in the
//     defaults).
//
// Every check of every scenario must pass, with no warning.  Run by `make
// check-conformance` (once, not under the sanitizers) with node 22 and the
// suites from scripts/fetch-conformance.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { REPO, corralEnv, run } from '../integration/lib.mjs';

const NODE22 = process.env.CORRAL_CONFORMANCE_NODE;
const SUITE26 = process.env.CORRAL_CONFORMANCE_SUITE26;
const PROBE = path.join(REPO, 'tests/conformance/client-probe.sh');
const GATEWAY = `node ${path.join(REPO, 'tests/conformance/client-gateway.mjs')}`;

/* [scenario, client command, extra suite options] */
const RUNS = [
  ['request-metadata', PROBE, []],
  ['tools_call', PROBE, ['--spec-version', '2026-07-28']],
  ['json-schema-ref-no-deref', PROBE, []],
  ['sep-2322-client-request-state', GATEWAY, []],
  ['http-standard-headers', GATEWAY, []],
  ['http-custom-headers', GATEWAY, []],
  ['http-invalid-tool-headers', GATEWAY, []],
  ['json-schema-2020-12-preservation', GATEWAY, []],
  ['json-schema-2020-12-preservation', GATEWAY, ['--spec-version', '2026-07-28']],
  ['elicitation-sep1034-client-defaults', GATEWAY, []],
];
const PARALLEL = 4;

test('corral passes the 2026-07-28 client scenarios facing servers', async (t) => {
  assert.ok(NODE22 && SUITE26, 'CORRAL_CONFORMANCE_NODE and CORRAL_CONFORMANCE_SUITE26 are set ' +
    'by make check-conformance (scripts/fetch-conformance)');
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-conf-modern-'));
  try {
    const results = [];
    let next = 0;
    const worker = async () => {
      while (next < RUNS.length) {
        const i = next++;
        const [scenario, command, opts] = RUNS[i];
        const dir = path.join(out, String(i));
        const r = await run(NODE22, [SUITE26, 'client', '--command', command, '--scenario', scenario,
          ...opts, '--timeout', '60000', '-o', dir], { env: corralEnv(), timeout: 120000 });
        results[i] = { scenario, opts, dir, r };
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    for (const { scenario, opts, dir, r } of results) {
      const what = `${scenario}${opts.length ? ` ${opts.join(' ')}` : ''}`;
      assert.ok(!r.timedOut, `${what} did not finish:\n${r.stdout}\n${r.stderr}`);
      const runs = fs.readdirSync(dir);
      assert.equal(runs.length, 1, `${what}: ${runs}\n${r.stdout}\n${r.stderr}`);
      const checks = JSON.parse(fs.readFileSync(path.join(dir, runs[0], 'checks.json'), 'utf8'));
      const stdout = fs.readFileSync(path.join(dir, runs[0], 'stdout.txt'), 'utf8');
      const stderr = fs.readFileSync(path.join(dir, runs[0], 'stderr.txt'), 'utf8');
      const passed = checks.filter((c) => c.status === 'SUCCESS');
      const bad = checks.filter((c) => c.status === 'FAILURE' || c.status === 'WARNING');
      t.diagnostic(`${what}: ${passed.length} passed, ${bad.length} failed or warned`);
      assert.ok(passed.length > 0, `${what}: no check passed\n${stdout}\n${stderr}`);
      assert.deepEqual(bad.map((c) => `${c.id}: ${c.status} ${c.errorMessage ?? ''}`), [],
        `${what}: client stdout:\n${stdout}\nstderr:\n${stderr}`);
      assert.equal(r.code, 0, `${what}: the suite exited ${r.code}\n${r.stdout}`);
    }
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
