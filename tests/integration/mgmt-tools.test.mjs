// Management over MCP (issue 15): the gateway's own corral__* tools, called
// by the official TypeScript SDK client over `serve --stdio` (bridged to the
// daemon's gateway socket) and over Streamable HTTP.  An install is made
// disabled and enabled only when the client's elicitation handler accepts;
// a decline leaves it disabled, and so does a client without elicitation
// (with the way to confirm in the result).  In a system-mode store a real
// local user (useradd, removed after) is refused what only admins may do.
// corral.json "management": {"enabled": false} takes the tools away.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';

import {
  CORRAL, FIXTURES, MOCK_SERVER, cleanupRoot, corral, corralEnv, emptyPkg, expectExit, installMock,
  newRoot, startDaemon, waitFor, waitReady, withTimeout,
} from './lib.mjs';

const SDK = path.join(FIXTURES, 'sdk/node_modules/@modelcontextprotocol/sdk/dist/esm');
const sdk = async (p) => import(pathToFileURL(path.join(SDK, p)).href);

/* A local package whose bin is the mock server (no dependencies: quick to
 * install), for `corral__install {source: DIR}`. */
function mockPkg(root) {
  const dir = emptyPkg(root, 'mgmt-pkg');
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({
    name: 'mgmt-mock', version: '1.2.3', bin: { 'mgmt-mock': 'server.mjs' },
  }));
  fs.copyFileSync(MOCK_SERVER, path.join(dir, 'server.mjs'));
  return dir;
}
const TOOLS = ['auth_complete', 'auth_start', 'auth_status', 'disable', 'enable', 'install', 'list',
  'restart', 'status', 'uninstall'].map((t) => `corral__${t}`);

/* An SDK client on `corral serve --stdio` (prefix: a command that runs it as
 * another user), with an elicitation handler when answer is given: answer(req)
 * → the ElicitResult. */
async function stdioClient(root, { answer, prefix = [] } = {}) {
  const { Client } = await sdk('client/index.js');
  const { StdioClientTransport } = await sdk('client/stdio.js');
  const { ElicitRequestSchema } = await sdk('types.js');
  const c = new Client({ name: 'corral-mgmt-test', version: '1.0.0' },
    { capabilities: answer ? { elicitation: {} } : {} });
  const asked = [];
  if (answer) {
    c.setRequestHandler(ElicitRequestSchema, async (req) => {
      asked.push(req.params);
      return answer(req.params);
    });
  }
  const argv = [...prefix, CORRAL, '--root', root, 'serve', '--stdio'];
  await withTimeout(c.connect(new StdioClientTransport({
    command: argv[0], args: argv.slice(1), env: corralEnv({ HOME: '/nonexistent' }), stderr: 'pipe',
  })), 30000, 'serve --stdio connects');
  return { c, asked };
}

async function httpClient(base) {
  const { Client } = await sdk('client/index.js');
  const { StreamableHTTPClientTransport } = await sdk('client/streamableHttp.js');
  const c = new Client({ name: 'corral-mgmt-test-http', version: '1.0.0' });
  await withTimeout(c.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`))), 30000,
    'the HTTP client connects');
  return c;
}

const manifest = (root, name) =>
  JSON.parse(fs.readFileSync(path.join(root, 'servers', name, 'manifest.json'), 'utf8'));
let PKG;
const text = (res) => res.content.map((x) => x.text).join('\n');

describe('management tools over MCP', { timeout: 300000 }, () => {
  let root;
  let daemon;
  let base;

  before(async () => {
    root = newRoot('mgmt');
    fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
    fs.writeFileSync(path.join(root, 'etc', 'corral.json'), JSON.stringify({
      http: { level: 'anchor', listen: ['127.0.0.1:0'] },
    }));
    await installMock(root, 'base');
    PKG = mockPkg(root);
    daemon = await startDaemon(root);
    await waitReady(root, ['base']);
    base = daemon.httpBase();
  });

  after(async () => {
    if (daemon) await daemon.kill();
    cleanupRoot(root);
  });

  test('listed with input and output schemas; install asks, and accepted it runs', async () => {
    const { c, asked } = await stdioClient(root, { answer: () => ({ action: 'accept', content: { enable: true } }) });
    try {
      const tools = (await c.listTools()).tools;
      const mine = tools.filter((t) => t.name.startsWith('corral__'));
      assert.deepEqual(mine.map((t) => t.name).sort(), TOOLS);
      for (const t of mine) {
        assert.equal(t.inputSchema.type, 'object', t.name);
        assert.equal(t.outputSchema.type, 'object', t.name);
      }
      assert.ok(tools.some((t) => t.name === 'base__echo'));
      let progress = 0;
      const res = await c.callTool({ name: 'corral__install', arguments: { source: PKG, name: 'mem1' } },
        undefined, { onprogress: () => { progress++; }, timeout: 120000 });
      assert.ok(!res.isError, text(res));
      const s = res.structuredContent;
      assert.equal(s.name, 'mem1');
      assert.equal(s.confirmation, 'accepted');
      assert.equal(s.enabled, true);
      assert.equal(s.state, 'ready', s.message);
      assert.deepEqual(JSON.parse(text(res)), s, 'the text is the same JSON');
      assert.ok(progress >= 2, `progress notifications: ${progress}`);
      // What the user was shown before anything ran.
      assert.equal(asked.length, 1);
      for (const k of ['source:', 'version:', 'command:', 'sandbox:', 'network:']) {
        assert.ok(asked[0].message.includes(k), `${k} in ${asked[0].message}`);
      }
      assert.equal(asked[0].requestedSchema.properties.enable.type, 'boolean');
      assert.equal(manifest(root, 'mem1').enabled, true);
      const g = await c.callTool({ name: 'mem1__echo', arguments: { text: 'hi' } });
      assert.ok(!g.isError, text(g));
      const list = (await c.callTool({ name: 'corral__list', arguments: {} })).structuredContent.servers;
      assert.deepEqual(list.map((x) => x.name).sort(), ['base', 'mem1']);
    } finally {
      await c.close();
    }
  });

  test('declined: installed and disabled; corral__enable asks again', async () => {
    let say = 'decline';
    const { c, asked } = await stdioClient(root, { answer: () => (say === 'decline' ? { action: 'decline' } : { action: 'accept', content: { enable: true } }) });
    try {
      const res = await c.callTool({ name: 'corral__install', arguments: { source: PKG, name: 'mem2' } },
        undefined, { timeout: 120000 });
      assert.ok(!res.isError, text(res));
      assert.equal(res.structuredContent.confirmation, 'declined');
      assert.equal(res.structuredContent.enabled, false);
      assert.match(res.structuredContent.message, /corral enable mem2/);
      assert.equal(manifest(root, 'mem2').enabled, false);
      const call = await c.callTool({ name: 'mem2__echo', arguments: { text: 'hi' } }).catch((e) => e);
      assert.ok(call instanceof Error || call.isError, 'a declined server is not callable');
      say = 'accept';
      const en = await c.callTool({ name: 'corral__enable', arguments: { name: 'mem2' } }, undefined, { timeout: 60000 });
      assert.equal(en.structuredContent.confirmation, 'accepted', text(en));
      assert.equal(en.structuredContent.state, 'ready', text(en));
      assert.equal(asked.length, 2);
      assert.equal(manifest(root, 'mem2').enabled, true);
    } finally {
      await c.close();
    }
  });

  test('a client without elicitation (HTTP): installed, disabled, told how to confirm; the other verbs', async () => {
    const c = await httpClient(base);
    try {
      const res = await c.callTool({ name: 'corral__install', arguments: { source: PKG, name: 'mem3' } },
        undefined, { timeout: 120000 });
      assert.ok(!res.isError, text(res));
      assert.equal(res.structuredContent.confirmation, 'unavailable');
      assert.equal(res.structuredContent.enabled, false);
      assert.equal(res.structuredContent.state, 'disabled');
      assert.match(res.structuredContent.message, /`corral enable mem3`/);
      assert.equal(manifest(root, 'mem3').enabled, false);
      const en = await c.callTool({ name: 'corral__enable', arguments: { name: 'mem3' } });
      assert.equal(en.structuredContent.confirmation, 'unavailable');
      assert.equal(manifest(root, 'mem3').enabled, false);

      const st = (await c.callTool({ name: 'corral__status', arguments: { name: 'mem1' } })).structuredContent;
      assert.deepEqual(st.servers.map((u) => [u.name, u.state]), [['mem1', 'ready']]);
      const rs = await c.callTool({ name: 'corral__restart', arguments: { name: 'mem1' } });
      assert.ok(!rs.isError, text(rs));
      const dis = await c.callTool({ name: 'corral__disable', arguments: { name: 'mem1' } });
      assert.equal(dis.structuredContent.state, 'disabled', text(dis));
      assert.equal(manifest(root, 'mem1').enabled, false);
      const un = await c.callTool({ name: 'corral__uninstall', arguments: { name: 'mem3' } });
      assert.ok(!un.isError, text(un));
      assert.ok(!fs.existsSync(path.join(root, 'servers', 'mem3')));
      const missing = await c.callTool({ name: 'corral__uninstall', arguments: { name: 'mem3' } });
      assert.ok(missing.isError);
      assert.match(text(missing), /no such server 'mem3'/);
      const bad = await c.callTool({ name: 'corral__install', arguments: { source: '--force' } });
      assert.ok(bad.isError, 'an option is not a source');
      const auth = await c.callTool({ name: 'corral__auth_status', arguments: {} });
      assert.deepEqual(auth.structuredContent, { servers: [] });
      const as = await c.callTool({ name: 'corral__auth_start', arguments: { name: 'base' } });
      assert.ok(as.isError);
      assert.match(text(as), /not a remote server/);
    } finally {
      await c.close();
    }
  });

  test('a cancelled corral__install: its verb is killed, nothing of it is left in the store', async () => {
    // An npm registry that takes the request and never answers: the verb
    // waits (curl gives up only after 30 s) until it is killed.
    const sockets = [];
    const stall = http.createServer(() => {});
    stall.on('connection', (sock) => sockets.push(sock));
    await new Promise((r) => stall.listen(0, '127.0.0.1', r));
    fs.writeFileSync(path.join(root, 'etc', 'corral.json'), JSON.stringify({
      http: { level: 'anchor', listen: ['127.0.0.1:0'] }, registry: `http://127.0.0.1:${stall.address().port}/`,
    }));
    expectExit(await corral(['reload'], { root }), 0, 'reload');
    const { c } = await stdioClient(root, { answer: () => ({ action: 'accept', content: { enable: true } }) });
    try {
      const ac = new AbortController();
      const call = c.callTool({ name: 'corral__install', arguments: { source: 'npm:corral-stalled-pkg', name: 'stalled' } },
        undefined, { signal: ac.signal, timeout: 120000 }).catch((e) => e);
      await waitFor(() => sockets.length > 0, { timeout: 60000, what: 'the install verb to ask the registry' });
      const closed = new Promise((r) => sockets[0].on('close', r));
      ac.abort('changed my mind');
      assert.ok((await call) instanceof Error, 'a cancelled request is not answered');
      // The verb is gone at once (a verb left running would hold the
      // connection until curl's 30 s low-speed limit).
      await withTimeout(closed, 15000, 'the killed verb\'s connection to close');
      const list = JSON.parse(expectExit(await corral(['list', '--json'], { root }), 0, 'list').stdout);
      assert.ok(!JSON.stringify(list).includes('stalled'), JSON.stringify(list));
      assert.ok(!fs.existsSync(path.join(root, 'servers', 'stalled')));
      await waitFor(() => fs.readdirSync(path.join(root, 'staging')).length === 0,
        { timeout: 15000, what: 'no staging leftover' });
    } finally {
      await c.close();
      for (const sock of sockets) sock.destroy();
      stall.close();
    }
  });

  test('"management": {"enabled": false} takes the tools away', async () => {
    fs.writeFileSync(path.join(root, 'etc', 'corral.json'), JSON.stringify({
      http: { level: 'anchor', listen: ['127.0.0.1:0'] }, management: { enabled: false },
    }));
    expectExit(await corral(['reload'], { root }), 0, 'reload');
    const { c } = await stdioClient(root);
    try {
      const names = (await c.listTools()).tools.map((t) => t.name);
      assert.ok(!names.some((n) => n.startsWith('corral__')), names.join(' '));
      assert.ok(names.includes('base__echo'));
      await assert.rejects(c.callTool({ name: 'corral__list', arguments: {} }), /unknown tool 'corral__list'/);
    } finally {
      await c.close();
    }
    const bad = await corral(['config', 'validate'], { root, input: '' });
    expectExit(bad, 0, 'the switch is a known key');
  });

  test('embedded `serve --stdio` (no daemon) serves them too', async () => {
    fs.writeFileSync(path.join(root, 'etc', 'corral.json'), '{}');
    await daemon.stop();
    const { c } = await stdioClient(root, { answer: () => ({ action: 'accept', content: { enable: true } }) });
    try {
      const dis = await c.callTool({ name: 'corral__disable', arguments: { name: 'mem2' } });
      assert.ok(!dis.isError, text(dis));
      assert.equal(manifest(root, 'mem2').enabled, false);
      const en = await c.callTool({ name: 'corral__enable', arguments: { name: 'mem2' } }, undefined, { timeout: 60000 });
      assert.equal(en.structuredContent.state, 'ready', text(en));
      const list = (await c.callTool({ name: 'corral__list', arguments: {} })).structuredContent.servers;
      assert.deepEqual(list.map((x) => [x.name, x.enabled]).sort(), [['base', true], ['mem1', false], ['mem2', true]]);
    } finally {
      await c.close();
    }
  });
});

// A system-mode store: a local user who is not an admin manages only what is
// theirs; the global server is an admin's.
const RUN = (process.pid % 46656).toString(36);
const SOCK_GROUP = `c15msock${RUN}`;
const ALICE = `c15malice${RUN}`;

describe('management tools in a system-mode store: admin rights', { timeout: 300000 }, () => {
  let root;
  let daemon;

  before(async () => {
    if (spawnSync('getent', ['group', SOCK_GROUP]).status !== 0) execFileSync('groupadd', ['--system', SOCK_GROUP]);
    if (spawnSync('id', ['-u', ALICE]).status !== 0) {
      execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', '-G', SOCK_GROUP, ALICE]);
    }
    root = newRoot('mgmtsys');
    fs.chmodSync(root, 0o755);
    fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
    fs.writeFileSync(path.join(root, 'etc', 'corral.json'), JSON.stringify({
      site: { socket_group: SOCK_GROUP, admin_group: `c15madm${RUN}` },
    }));
    await installMock(root, 'shared');
    PKG = mockPkg(root);
    daemon = await startDaemon(root, { args: ['--system'] });
    await waitReady(root, ['shared']);
  });

  after(async () => {
    if (daemon) await daemon.kill();
    cleanupRoot(root);
    spawnSync('userdel', [ALICE]);
    spawnSync('groupdel', [SOCK_GROUP]);
  });

  test('a non-admin is refused changes to a global server and what the site forbids; root is not', async () => {
    const prefix = ['setpriv', `--reuid=${ALICE}`, `--regid=${ALICE}`, '--init-groups', '--'];
    const { c } = await stdioClient(root, { prefix, answer: () => ({ action: 'accept', content: { enable: true } }) });
    try {
      const list = (await c.callTool({ name: 'corral__list', arguments: {} })).structuredContent.servers;
      assert.deepEqual(list.map((s) => [s.name, s.owner]), [['shared', null]]);
      for (const tool of ['corral__restart', 'corral__disable', 'corral__uninstall']) {
        const r = await c.callTool({ name: tool, arguments: { name: 'shared' } });
        assert.ok(r.isError, `${tool}: ${text(r)}`);
        assert.match(text(r), /admin/, tool);
      }
      const inst = await c.callTool({ name: 'corral__install', arguments: { source: PKG, name: 'alicemem' } },
        undefined, { timeout: 60000 });
      assert.ok(inst.isError, text(inst));
      assert.match(text(inst), /local sources are for admins/);
      assert.ok(!fs.existsSync(path.join(root, 'servers', 'alicemem')));
      // auth_* act for the caller (their own tokens): no remote server here.
      const auth = await c.callTool({ name: 'corral__auth_status', arguments: {} });
      assert.ok(!auth.isError, text(auth));
      assert.deepEqual(auth.structuredContent, { servers: [] });
      const as = await c.callTool({ name: 'corral__auth_start', arguments: { name: 'shared' } });
      assert.ok(as.isError);
      assert.match(text(as), /shared is not a remote server/);
      assert.equal(manifest(root, 'shared').enabled, true);
    } finally {
      await c.close();
    }
    const { c: admin } = await stdioClient(root);
    try {
      const r = await admin.callTool({ name: 'corral__restart', arguments: { name: 'shared' } });
      assert.ok(!r.isError, text(r));
    } finally {
      await admin.close();
    }
  });
});
