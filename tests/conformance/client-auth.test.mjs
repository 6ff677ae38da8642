// The MCP conformance suite (npm @modelcontextprotocol/conformance) in client
// mode, its authorization scenarios of MCP 2025-11-25 (`--suite auth
// --spec-version 2025-11-25`) and the two 2025-03-26 back-compat ones
// (`--suite backcompat`), the two suites side by side and each running its
// scenarios in parallel: each starts an
// MCP server guarded by an authorization server that approves at once, and
// `corral probe URL` (through tests/conformance/client-probe.sh) must find
// the metadata, register or pick its client, authorize headlessly ($BROWSER
// follows the URL with curl to probe's loopback listener), and call a tool
// with the token.  Every check of every scenario must pass; the scenarios
// the suite runs must be exactly the ones listed, so a new one shows up here.
//
// Not run: the draft and extension scenarios (client credentials, cross-app
// access).
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

/* scenario → a check that must be among its successes (what the scenario is
 * about), and whether the tool call must have succeeded. */
const SCENARIOS = {
  'metadata-default': ['prm-pathbased-requested', true],
  'metadata-var1': ['prm-pathbased-requested', true],
  'metadata-var2': ['prm-pathbased-requested', true],
  'metadata-var3': ['prm-pathbased-requested', true],
  'basic-cimd': ['cimd-client-id-used', true],
  'scope-from-www-authenticate': ['scope-from-www-authenticate', true],
  'scope-from-scopes-supported': ['scope-from-scopes-supported', true],
  'scope-omitted-when-undefined': ['scope-omitted-when-undefined', true],
  'scope-step-up': ['scope-step-up-escalation', true],
  /* The server never accepts: probe must give up, not loop. */
  'scope-retry-limit': ['scope-retry-limit', false],
  'token-endpoint-auth-basic': ['token-endpoint-auth-method', true],
  'token-endpoint-auth-post': ['token-endpoint-auth-method', true],
  'token-endpoint-auth-none': ['token-endpoint-auth-method', true],
  'pre-registration': ['pre-registration-auth', true],
  /* 2025-03-26: no protected-resource metadata. */
  '2025-03-26-oauth-metadata-backcompat': ['authorization-server-metadata', true],
  '2025-03-26-oauth-endpoint-fallback': ['authorization-request', true],
};
const SUITES = [['auth', '--spec-version', '2025-11-25'], ['backcompat']];

test('corral probe passes the 2025-11-25 and 2025-03-26 auth client scenarios', async (t) => {
  assert.ok(NODE22 && SUITE, 'CORRAL_CONFORMANCE_NODE and CORRAL_CONFORMANCE_SUITE are set ' +
    'by make check-conformance (scripts/fetch-conformance)');
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-conf-auth-'));
  try {
    const runs = await Promise.all(SUITES.map(([suite, ...opts]) => run(NODE22, [SUITE, 'client',
      '--command', CLIENT, '--suite', suite, ...opts, '-o', path.join(out, suite)],
    { env: corralEnv(), timeout: 180000 })));
    for (const [i, r] of runs.entries()) {
      assert.ok(!r.timedOut, `the ${SUITES[i][0]} suite did not finish:\n${r.stdout}\n${r.stderr}`);
    }
    const dirs = SUITES.flatMap(([suite]) => fs.readdirSync(path.join(out, suite, 'auth'))
      .map((d) => path.join(out, suite, 'auth', d)));
    const name = (d) => path.basename(d).replace(/-\d{4}-\d\d-\d\dT.*$/, '');
    const ran = dirs.map(name).sort();
    assert.deepEqual(ran, Object.keys(SCENARIOS).sort(), `scenarios run:\n${runs.map((r) => r.stdout).join('\n')}`);
    for (const dir of dirs) {
      const scenario = name(dir);
      const [key, called] = SCENARIOS[scenario];
      const checks = JSON.parse(fs.readFileSync(path.join(dir, 'checks.json'), 'utf8'));
      const stdout = fs.readFileSync(path.join(dir, 'stdout.txt'), 'utf8');
      const stderr = fs.readFileSync(path.join(dir, 'stderr.txt'), 'utf8');
      const bad = checks.filter((c) => c.status === 'FAILURE' || c.status === 'WARNING');
      const passed = checks.filter((c) => c.status === 'SUCCESS');
      t.diagnostic(`auth/${scenario}: ${passed.length} passed, ${bad.length} failed or warned`);
      assert.deepEqual(bad.map((c) => `${c.id}: ${c.status} ${c.errorMessage ?? c.description ?? ''}`),
        [], `auth/${scenario}: corral probe stderr:\n${stderr}`);
      assert.ok(passed.some((c) => c.id === key), `auth/${scenario}: no ${key} success\n${stderr}`);
      if (called) {
        assert.match(stdout, /^result: \{"content":\[\{"type":"text","text":"test"\}\]\}$/m,
          `auth/${scenario}: the tool call with the token\n${stdout}\n${stderr}`);
      } else {
        assert.match(stderr, /still answers insufficient_scope/, `auth/${scenario}\n${stderr}`);
        assert.doesNotMatch(stdout, /^result:/m, `auth/${scenario}`);
      }
    }
    for (const [i, r] of runs.entries()) {
      assert.equal(r.code, 0, `the ${SUITES[i][0]} suite exited ${r.code}\n${r.stdout}`);
    }
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
