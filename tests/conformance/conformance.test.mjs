// The MCP conformance suite (npm @modelcontextprotocol/conformance, server
// mode) against corral's single-server endpoint /servers/everything/mcp (real
// server-everything on stdio behind corral) and, in the same run, against
// server-everything's own streamableHttp transport.  corral must score at
// least what the server scores alone and fail no scenario the server passes:
// whatever the suite finds in corral's HTTP path that the server gets right
// is corral's bug.
//
// Run by `make check-conformance` (once, not under the sanitizers), which
// installs node 22 and the suite with scripts/fetch-conformance and passes
// their paths in CORRAL_CONFORMANCE_NODE and CORRAL_CONFORMANCE_SUITE.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';

import {
  FIXTURES, cleanupRoot, corralEnv, installFixture, newRoot, run, startDaemon, waitFor,
  waitReady,
} from '../integration/lib.mjs';

const NODE22 = process.env.CORRAL_CONFORMANCE_NODE;
const SUITE = process.env.CORRAL_CONFORMANCE_SUITE;
const SUITE26 = process.env.CORRAL_CONFORMANCE_SUITE26; // the 0.2 line: 2026-07-28 scenarios
const EVERYTHING = path.join(FIXTURES,
  'everything/node_modules/@modelcontextprotocol/server-everything/dist/index.js');

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/* Runs the suite against url; returns {scenario: {passed, failed, failures}}
 * from the checks.json files it writes. */
async function conformance(url, outDir, { suite = SUITE, requirements } = {}) {
  fs.rmSync(outDir, { recursive: true, force: true });
  const args = [suite, 'server', '--url', url, '-o', outDir];
  if (requirements) args.push('--requirements', requirements);
  const r = await run(NODE22, args, { env: corralEnv(), timeout: 180000 });
  assert.ok(!r.timedOut && r.signal === null,
    `conformance against ${url} did not finish:\n${r.stdout}\n${r.stderr}`);
  const scores = {};
  for (const d of fs.readdirSync(outDir)) {
    const m = d.match(/^server-(.+)-\d{4}-\d\d-\d\dT[\d-]+Z$/);
    if (!m) continue;
    const file = path.join(outDir, d, 'checks.json');
    if (!fs.existsSync(file)) continue; // a scenario that crashed against a 2025-only server
    const checks = JSON.parse(fs.readFileSync(file, 'utf8'));
    const s = { passed: 0, failed: 0, failures: [], failedIds: [] };
    for (const c of checks) {
      if (c.status === 'SUCCESS') s.passed++;
      if (c.status === 'FAILURE') {
        s.failed++;
        s.failures.push(`${c.id}: ${c.errorMessage}`);
        s.failedIds.push(c.id);
      }
    }
    scores[m[1]] = s;
  }
  assert.ok(Object.keys(scores).length > 0,
    `conformance against ${url} wrote no results:\n${r.stdout}\n${r.stderr}`);
  return scores;
}

const total = (scores, k) => Object.values(scores).reduce((n, s) => n + s[k], 0);

let root;
let daemon;
let server; // server-everything's own streamableHttp transport
let corralUrl;
let serverUrl;

before(async () => {
  assert.ok(NODE22 && SUITE, 'CORRAL_CONFORMANCE_NODE and CORRAL_CONFORMANCE_SUITE are set ' +
    'by make check-conformance (scripts/fetch-conformance)');
  root = newRoot('conformance');
  await installFixture(root, 'everything');
  fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
  // server-everything's minimum level is the default, trusted.
  fs.writeFileSync(path.join(root, 'etc/corral.json'), JSON.stringify({ http: { level: 'trusted' } }));
  daemon = await startDaemon(root, { args: ['--http', '127.0.0.1:0'] });
  await waitReady(root, ['everything']);
  const m = daemon.output().match(/MCP over HTTP on \S+ \(port (\d+), level trusted\)/);
  assert.ok(m, daemon.output());
  corralUrl = `http://127.0.0.1:${m[1]}/servers/everything/mcp`;

  const port = await freePort();
  let out = '';
  server = spawn(process.execPath, [EVERYTHING, 'streamableHttp'], {
    env: corralEnv({ PORT: String(port) }), stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout.on('data', (d) => { out += d; });
  server.stderr.on('data', (d) => { out += d; });
  await waitFor(() => {
    if (server.exitCode !== null) throw Object.assign(new Error(`server-everything exited:\n${out}`), { fatal: true });
    return /listening on port/.test(out);
  }, { timeout: 30000, what: 'server-everything streamableHttp to listen' });
  serverUrl = `http://127.0.0.1:${port}/mcp`;
});

after(async () => {
  if (server && server.exitCode === null) server.kill('SIGKILL');
  if (daemon) await daemon.kill();
  cleanupRoot(root);
});

test('corral scores at least what server-everything scores, scenario by scenario', async (t) => {
  const out = path.join(root, 'conformance');
  const alone = await conformance(serverUrl, path.join(out, 'server-everything'));
  const behind = await conformance(corralUrl, path.join(out, 'corral'));

  const line = (name, s) => `${name}: ${total(s, 'passed')} checks passed, ${total(s, 'failed')} ` +
    `failed, ${Object.values(s).filter((x) => x.failed === 0 && x.passed > 0).length}/` +
    `${Object.keys(s).length} scenarios passed`;
  t.diagnostic(line('server-everything streamableHttp', alone));
  t.diagnostic(line('corral /servers/everything/mcp', behind));

  // The run means something: the server passes the basics on its own.
  for (const s of ['server-initialize', 'tools-list', 'ping']) {
    assert.ok(alone[s]?.passed > 0 && alone[s].failed === 0,
      `server-everything alone fails ${s}: ${JSON.stringify(alone[s])}`);
  }
  assert.deepEqual(Object.keys(behind).sort(), Object.keys(alone).sort(), 'the same scenarios ran');

  const regressions = Object.entries(alone)
    .filter(([k, s]) => s.failed === 0 && behind[k].failed > 0)
    .map(([k]) => `${k}: ${behind[k].failures.join('; ')}`);
  assert.deepEqual(regressions, [], 'scenarios server-everything passes and corral fails');
  assert.ok(total(behind, 'passed') >= total(alone, 'passed'),
    `corral passed ${total(behind, 'passed')} checks, server-everything ${total(alone, 'passed')}`);
});

test('0.2 suite, --requirements 2025-11-25: no check server-everything passes fails through corral', async (t) => {
  assert.ok(SUITE26, 'CORRAL_CONFORMANCE_SUITE26 is set by make check-conformance');
  const out = path.join(root, 'conformance-0.2-2025');
  const alone = await conformance(serverUrl, path.join(out, 'alone'), { suite: SUITE26, requirements: '2025-11-25' });
  const behind = await conformance(corralUrl, path.join(out, 'corral'), { suite: SUITE26, requirements: '2025-11-25' });
  t.diagnostic(`server-everything: ${total(alone, 'passed')} passed, ${total(alone, 'failed')} failed; ` +
    `corral: ${total(behind, 'passed')} passed, ${total(behind, 'failed')} failed`);
  // Check by check: a check the server passes alone must not fail through corral.
  const regressions = [];
  for (const [k, s] of Object.entries(behind)) {
    const aloneFailed = new Set(alone[k]?.failedIds ?? []);
    for (const id of s.failedIds) if (!aloneFailed.has(id)) regressions.push(`${k}: ${id}`);
  }
  assert.deepEqual(regressions, [], `checks that fail only through corral:\n${
    Object.values(behind).flatMap((s) => s.failures).join('\n')}`);
});

test('0.2 suite, --requirements 2026-07-28: corral in front of a 2025-only server serves 2026', async (t) => {
  // (server-everything alone, a 2025-only server, passes 11 checks of this
  // run and fails 145: not rerun here, to keep check-conformance short.)
  const out = path.join(root, 'conformance-0.2-2026');
  const behind = await conformance(corralUrl, path.join(out, 'corral'), { suite: SUITE26, requirements: '2026-07-28' });
  t.diagnostic(`2026-07-28 through corral: ${total(behind, 'passed')} checks passed, ` +
    `${total(behind, 'failed')} failed`);
  // The stateless scenarios a 2026 server passes with server-everything's
  // tools (the others call the suite's own diagnostic tools).
  const stateless = ['tools-list', 'tools-call-simple-text', 'tools-call-error', 'resources-list',
    'prompts-list', 'sep-2164-resource-not-found', 'dns-rebinding-protection', 'caching',
    'http-header-validation', 'server-sse-multiple-streams',
    'input-required-result-missing-input-response', 'input-required-result-unsupported-methods',
    'input-required-result-ignore-extra-params', 'input-required-result-validate-input'];
  const bad = stateless.filter((k) => !(behind[k]?.passed > 0 && behind[k].failed === 0))
    .map((k) => `${k}: ${JSON.stringify(behind[k]?.failures ?? 'did not run')}`);
  assert.deepEqual(bad, []);
  // server-stateless: every check but the two that need test_missing_capability.
  const needsTool = new Set(['sep-2575-server-rejects-undeclared-capability',
    'sep-2575-missing-capability-http-400']);
  assert.deepEqual(behind['server-stateless'].failedIds.filter((id) => !needsTool.has(id)), [],
    behind['server-stateless'].failures.join('\n'));
  assert.ok(behind['server-stateless'].passed >= 20, JSON.stringify(behind['server-stateless']));
});
