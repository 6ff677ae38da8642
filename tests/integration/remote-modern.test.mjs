// Remote MCP 2026-07-28 servers (issue 11): a server on the official
// TypeScript SDK v2 (@modelcontextprotocol/server 2.4.0, createMcpHandler,
// 2025 traffic refused) served over Streamable HTTP on 127.0.0.1
// (tests/fixtures/modern-http-server.mjs).  `corral probe URL` and a remote
// unit must find it with server/discover and speak 2026-07-28 to it: every
// POST with MCP-Protocol-Version and Mcp-Method (Mcp-Name, Mcp-Param-* where
// they apply), no initialize, no session, no GET stream, no DELETE; list
// changes on a subscriptions/listen stream; the server's input_required
// passed to a 2026 client and asked of a 2025 one; a cancelled call's
// stream closed.  The 2025 fallback against server-everything is in
// remote.test.mjs.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  FIXTURES, McpClient, REPO, cleanupRoot, corral, expectExit, newRoot, resultText, socketPath,
  startDaemon, status, unitOf, waitFor, waitReady,
} from './lib.mjs';

const SERVER = path.join(REPO, 'tests/fixtures/modern-http-server.mjs');
const META = (caps = {}) => ({
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': caps,
  'io.modelcontextprotocol/clientInfo': { name: 'remote-modern-test', version: '1' },
});

async function startModern() {
  const child = spawn(process.execPath, [SERVER, '--modern-only'], {
    env: { ...process.env, CORRAL_SDK2_DIR: path.join(FIXTURES, 'sdk2') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  await waitFor(() => {
    if (child.exitCode !== null) throw Object.assign(new Error(`the SDK v2 server exited:\n${err}`), { fatal: true });
    return /listening /.test(out);
  }, { timeout: 30000, what: 'the SDK v2 HTTP server to listen' });
  return {
    url: out.match(/listening (\S+)/)[1],
    /* Every request the server saw: {http, method, headers} (MCP headers). */
    log: () => err.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/* A 2025 client on the gateway socket that accepts every elicitation with
 * {yes: true}. */
async function client25(root) {
  const c = await McpClient.connect(socketPath(root));
  const dispatch = c._dispatch.bind(c);
  c._dispatch = (msg) => {
    if (msg.method === 'elicitation/create' && msg.id !== undefined) {
      c.serverRequests.push(msg);
      c._send({ jsonrpc: '2.0', id: msg.id, result: { action: 'accept', content: { yes: true } } });
      return;
    }
    dispatch(msg);
  };
  await c.initialize({ capabilities: { elicitation: { form: {} } } });
  return c;
}

describe('remote MCP 2026-07-28 servers', { timeout: 300000 }, () => {
  let root;
  let srv;
  let daemon;

  before(async () => {
    root = newRoot('remote-modern');
    srv = await startModern();
  });

  after(async () => {
    if (daemon) await daemon.kill();
    await srv?.stop();
    cleanupRoot(root);
  });

  test('corral probe finds it with server/discover and calls with the 2026-07-28 headers', async () => {
    const r = await corral(['probe', '--json', srv.url, '--call', 'where', '{"region":"Zürich","n":2}'], { root });
    expectExit(r, 0, 'probe URL');
    const j = JSON.parse(r.stdout);
    assert.equal(j.protocolVersion, '2026-07-28', r.stdout);
    assert.equal(j.serverInfo.name, 'modern-http-fixture', r.stdout);
    assert.equal(j.result.content[0].text, 'region=Zürich n=2');
    const log = srv.log();
    assert.deepEqual(log.map((e) => e.method), ['server/discover', 'tools/list', 'tools/call'], JSON.stringify(log));
    for (const e of log) {
      assert.equal(e.http, 'POST');
      assert.equal(e.headers['mcp-protocol-version'], '2026-07-28', JSON.stringify(e));
      assert.equal(e.headers['mcp-method'], e.method, JSON.stringify(e));
      assert.equal(e.headers['mcp-session-id'], undefined);
    }
    const call = log[2].headers;
    assert.equal(call['mcp-name'], 'where');
    assert.equal(call['mcp-param-region'], `=?base64?${Buffer.from('Zürich').toString('base64')}?=`);
    assert.equal(call['mcp-param-n'], '2');
  });

  test('a remote unit speaks 2026-07-28: calls, MRTR both eras, list changes, cancellation', async () => {
    const seen = srv.log().length;
    let r = await corral(['install', srv.url, '--remote', '--yes', '--name', 'm26'], { root });
    expectExit(r, 0, 'install --remote of a 2026-07-28 server');
    daemon = await startDaemon(root, { env: { CORRAL_TEST_TIMESCALE: '10' } });
    await waitReady(root, ['m26']);
    assert.equal(unitOf(await status(root), 'm26').protocol_version, '2026-07-28');

    const c = await client25(root);
    try {
      const names = (await c.listTools()).map((t) => t.name);
      for (const n of ['m26__echo', 'm26__confirm', 'm26__where', 'm26__grow']) assert.ok(names.includes(n), String(names));
      // The server sees 2026-07-28 and this client's capabilities.
      assert.equal(resultText(await c.callTool('m26__echo', { text: 'hi' })), 'echo: hi version=2026-07-28 caps=elicitation');
      assert.equal(resultText(await c.callTool('m26__where', { region: 'eu', n: 7 })), 'region=eu n=7');
      // input_required → an elicitation to this 2025 client, then the retry.
      assert.equal(resultText(await c.callTool('m26__confirm', {})), 'confirmed: {"yes":true} state=confirm-1');
      assert.equal(c.serverRequests.filter((m) => m.method === 'elicitation/create').length, 1);
      // A list change reaches corral on its subscriptions/listen stream.
      assert.equal(resultText(await c.callTool('m26__grow', {})), 'grew');
      await c.waitTools((n) => n.includes('m26__grown'), 'm26__grown after the list change', 20000);
      // Cancelling a call closes its stream: the server's handler is aborted.
      const { id } = c.start('tools/call', { name: 'm26__slow', arguments: { ms: 30000 } });
      await waitFor(() => srv.log().some((e) => e.method === 'tools/call' && e.headers['mcp-name'] === 'slow'),
        { timeout: 15000, what: 'the slow call to reach the server' });
      c.cancel(id);
      await waitFor(() => srv.log().some((e) => e.event === 'cancelled'),
        { timeout: 15000, what: 'the server to see the slow call cancelled' });
    } finally {
      await c.close();
    }

    // A 2026 client: the server's input_required and the retry pass through.
    const m = await McpClient.connect(socketPath(root));
    try {
      const q = await m.request('tools/call', { name: 'm26__confirm', arguments: {}, _meta: META({ elicitation: {} }) });
      assert.equal(q.resultType, 'input_required', JSON.stringify(q));
      assert.equal(q.requestState, 'confirm-1');
      assert.equal(q.inputRequests.ok.method, 'elicitation/create');
      const a = await m.request('tools/call', { name: 'm26__confirm', arguments: {}, requestState: 'confirm-1',
        inputResponses: { ok: { action: 'accept', content: { yes: false } } }, _meta: META({ elicitation: {} }) });
      assert.equal(resultText(a), 'confirmed: {"yes":false} state=confirm-1', JSON.stringify(a));
    } finally {
      await m.close();
    }

    await daemon.stop();
    daemon = null;
    const log = srv.log().slice(seen);
    assert.ok(log.some((e) => e.method === 'subscriptions/listen'), 'a subscriptions/listen stream was opened');
    for (const e of log.filter((x) => x.http)) {
      assert.equal(e.http, 'POST', `only POSTs: ${JSON.stringify(e)}`);
      assert.notEqual(e.method, 'initialize');
      assert.equal(e.headers['mcp-protocol-version'], '2026-07-28', JSON.stringify(e));
      assert.equal(e.headers['mcp-method'], e.method, JSON.stringify(e));
      if (['tools/call', 'prompts/get', 'resources/read'].includes(e.method)) assert.ok(e.headers['mcp-name'], JSON.stringify(e));
    }
    assert.ok(fs.existsSync(path.join(root, 'servers/m26/manifest.json')));
  });
});
