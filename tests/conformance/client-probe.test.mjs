// The MCP conformance suite (npm @modelcontextprotocol/conformance) in client
// mode: its scenario servers against `corral probe`, corral's remote client
// (the same Streamable HTTP transport the remote units use), through
// tests/conformance/client-probe.sh, which does what each scenario asks of a
// client.  Every scenario listed here must pass all its checks.
//
// Not run: the auth/* scenarios — `corral probe URL` has no OAuth flow of its
// own yet (remote units authorize with `corral auth`; README, "What works").
//
// Run by `make check-conformance` (once, not under the sanitizers) with node
// 22 and the suite from scripts/fetch-conformance.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { REPO, corralEnv, run } from '../integration/lib.mjs';

const NODE22 = process.env.CORRAL_CONFORMANCE_NODE;
const SUITE = process.env.CORRAL_CONFORMANCE_SUITE;
const CLIENT = path.join(REPO, 'tests/conformance/client-probe.sh');
const SCENARIOS = ['initialize', 'tools_call', 'sse-retry'];

test('corral probe passes the client scenarios', async (t) => {
  assert.ok(NODE22 && SUITE, 'CORRAL_CONFORMANCE_NODE and CORRAL_CONFORMANCE_SUITE are set ' +
    'by make check-conformance (scripts/fetch-conformance)');
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-conf-client-'));
  try {
    for (const scenario of SCENARIOS) {
      const dir = path.join(out, scenario);
      const r = await run(NODE22, [SUITE, 'client', '--command', CLIENT, '--scenario', scenario, '-o', dir],
        { env: corralEnv(), timeout: 120000 });
      assert.ok(!r.timedOut, `${scenario} did not finish:\n${r.stdout}\n${r.stderr}`);
      const runs = fs.readdirSync(dir);
      assert.equal(runs.length, 1, `${scenario}: ${runs}\n${r.stdout}\n${r.stderr}`);
      const checks = JSON.parse(fs.readFileSync(path.join(dir, runs[0], 'checks.json'), 'utf8'));
      const stderr = fs.readFileSync(path.join(dir, runs[0], 'stderr.txt'), 'utf8');
      const passed = checks.filter((c) => c.status === 'SUCCESS');
      const bad = checks.filter((c) => c.status === 'FAILURE' || c.status === 'WARNING');
      t.diagnostic(`${scenario}: ${passed.length} passed, ${bad.length} failed or warned`);
      assert.ok(passed.length > 0, `${scenario}: no check passed\n${stderr}`);
      assert.deepEqual(bad.map((c) => `${c.id}: ${c.status} ${c.errorMessage ?? ''}`), [],
        `${scenario}: corral probe stderr:\n${stderr}`);
      assert.equal(r.code, 0, `${scenario}: the suite exited ${r.code}\n${r.stdout}`);
    }
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
