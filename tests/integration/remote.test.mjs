// Remote MCP servers as units (issue 12): the real server-everything served
// over its own Streamable HTTP and HTTP+SSE transports on 127.0.0.1,
// installed with `corral install URL --remote`, its tools listed and called
// through the daemon's gateway with the same names as a local server's; the
// server killed and restarted behind corral; bad answers refused at install.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';

import {
  FIXTURES, McpClient, RpcError, SLOW, cleanupRoot, corral, expectExit, expectOneLineError, newRoot, onTty,
  resultText, socketPath, startDaemon, status, storeSnapshot, expectSameTree, unitOf,
  waitReady, waitStatus,
} from './lib.mjs';
import { freePort, startEverything, startPeer } from './remoteutil.mjs';

const SCALE = '10'; // CORRAL_TEST_TIMESCALE: unavailable retries every 0.5 s, pings every 3 s
const REQUEST_TIMEOUT_MS = 6000 * SLOW; // the gateway's, for the slow remote
const SDK = path.join(FIXTURES, 'sdk/node_modules/@modelcontextprotocol/sdk/dist/esm');
const sdk = async (p) => import(pathToFileURL(path.join(SDK, p)).href);

async function install(root, url, args = [], opts = {}) {
  const r = await corral(['install', url, '--remote', '--yes', ...args], { root, ...opts });
  return r;
}

describe('remote units', { timeout: 600000 }, () => {
  let root;
  let daemon;
  let httpServer;
  let sseServer;
  let httpPort;
  let ssePort;
  let gwPort;

  before(async () => {
    root = newRoot('remote');
    httpPort = await freePort();
    ssePort = await freePort();
    [httpServer, sseServer] = await Promise.all([
      startEverything('streamableHttp', httpPort), startEverything('sse', ssePort),
    ]);
  });

  after(async () => {
    if (daemon) await daemon.kill();
    await httpServer?.stop();
    await sseServer?.stop();
    cleanupRoot(root);
  });

  test('install records the endpoint, transport and server version', async () => {
    let r = await install(root, `http://127.0.0.1:${httpPort}/mcp`, ['--name', 'ev']);
    expectExit(r, 0, 'install --remote (Streamable HTTP)');
    assert.match(r.stdout, /installed ev \(remote http:\/\/127\.0\.0\.1:\d+\/mcp over Streamable HTTP\)/);
    const m = JSON.parse(fs.readFileSync(path.join(root, 'servers/ev/manifest.json'), 'utf8'));
    assert.equal(m.runtime.backend, 'remote');
    assert.deepEqual(m.runtime.command, [`http://127.0.0.1:${httpPort}/mcp`]);
    assert.equal(m.runtime.transport, 'http');
    assert.equal(m.source.kind, 'remote');
    assert.match(m.source.resolved.version, /^\d+\.\d+\.\d+/, 'serverInfo.version recorded');

    // A 2024-11-05 server: asked for explicitly, and found by the fallback.
    r = await install(root, `http://127.0.0.1:${ssePort}/sse`, ['--name', 'evsse', '--transport', 'sse']);
    expectExit(r, 0, 'install --remote --transport sse');
    r = await install(root, `http://127.0.0.1:${ssePort}/sse`, ['--name', 'evfb']);
    expectExit(r, 0, 'install --remote (falls back to HTTP+SSE)');
    assert.match(r.stdout, /over HTTP\+SSE/);
    const fb = JSON.parse(fs.readFileSync(path.join(root, 'servers/evfb/manifest.json'), 'utf8'));
    assert.equal(fb.runtime.transport, 'sse', 'the fallback is recorded');
  });

  test('corral probe: server info, tools and one call, by URL and by name', async () => {
    let r = await corral(['probe', '--json', `http://127.0.0.1:${httpPort}/mcp`, '--call', 'echo', '{"message":"probed"}'], { root });
    expectExit(r, 0, 'probe URL --call');
    let j = JSON.parse(r.stdout);
    assert.equal(j.transport, 'streamable-http');
    // server/discover is refused (a 2025 server): the initialize fallback.
    assert.equal(j.protocolVersion, '2025-11-25');
    assert.ok(j.tools.some((t) => t.name === 'get-sum'));
    assert.equal(j.result.content[0].text, 'Echo: probed');
    r = await corral(['probe', '--json', 'evsse'], { root });
    expectExit(r, 0, 'probe NAME');
    j = JSON.parse(r.stdout);
    assert.equal(j.transport, 'sse');
    assert.ok(j.tools.length > 5);
    r = await corral(['probe', 'http://example.com/mcp'], { root });
    expectOneLineError(r, ['insecure-http'], 'probe of plain http beyond loopback');
  });

  test('tools are listed and called through the gateway like a local server\'s', async () => {
    // corral's own HTTP endpoint in front of the remote units too.
    gwPort = await freePort();
    fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
    fs.writeFileSync(path.join(root, 'etc/corral.json'), JSON.stringify({
      http: { listen: [{ addr: `127.0.0.1:${gwPort}`, level: 'anchor' }] },
    }));
    daemon = await startDaemon(root, {
      env: { CORRAL_TEST_TIMESCALE: SCALE, CORRAL_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS) },
    });
    await waitReady(root, ['ev', 'evsse', 'evfb']);
    const st = await status(root);
    for (const n of ['ev', 'evsse', 'evfb']) {
      const u = unitOf(st, n);
      assert.equal(u.backend, 'remote');
      assert.ok(u.tools > 5, `${n}: ${u.tools} tools`);
    }
    const c = await McpClient.connect(socketPath(root));
    try {
      await c.initialize();
      const tools = await c.waitTools((n) => ['ev__echo', 'evsse__echo', 'evfb__get-sum'].every((t) => n.includes(t)),
        'the remote units\' tools');
      assert.ok(tools.some((t) => t.name === 'ev__trigger-long-running-operation'));
      assert.equal(resultText(await c.callTool('ev__echo', { message: 'over streamable http' })),
        'Echo: over streamable http');
      assert.equal(resultText(await c.callTool('evsse__echo', { message: 'over sse' })), 'Echo: over sse');
      assert.match(resultText(await c.callTool('evfb__get-sum', { a: 40, b: 2 })), /\b42\b/);

      // Progress comes back over the POST's event stream, both transports.
      for (const unit of ['ev', 'evsse']) {
        const seen = [];
        const res = await c.request('tools/call', {
          name: `${unit}__trigger-long-running-operation`, arguments: { duration: 1, steps: 3 },
        }, { onProgress: (p) => seen.push(p), timeout: 30000 });
        assert.match(resultText(res), /completed/i, `${unit}: ${JSON.stringify(res)}`);
        assert.equal(seen.length, 3, `${unit}: progress ${JSON.stringify(seen)}`);
      }

      // Cancellation goes to the remote server: the call ends at once.
      const { id, promise } = c.start('tools/call', {
        name: 'ev__trigger-long-running-operation', arguments: { duration: 20, steps: 20 },
      }, { onProgress: () => {}, timeout: 30000 });
      await new Promise((r) => setTimeout(r, 500));
      c.cancel(id);
      const t0 = Date.now();
      await assert.rejects(promise);
      assert.ok(Date.now() - t0 < 5000);
      assert.equal(resultText(await c.callTool('ev__echo', { message: 'still fine' })), 'Echo: still fine');
    } finally {
      await c.close();
    }
  });

  test('through corral\'s HTTP endpoint; a slow remote delays no other unit and times out as an error', async () => {
    // The official SDK client over Streamable HTTP to corral, which is a
    // Streamable HTTP / SSE client to the remotes.
    const { Client } = await sdk('client/index.js');
    const { StreamableHTTPClientTransport } = await sdk('client/streamableHttp.js');
    const client = new Client({ name: 'remote-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${gwPort}/mcp`)));
    try {
      const { tools } = await client.listTools();
      assert.ok(tools.some((t) => t.name === 'evsse__echo'), tools.map((t) => t.name).join(' '));
      const r = await client.callTool({ name: 'evsse__echo', arguments: { message: 'over http to sse' } });
      assert.equal(r.content[0].text, 'Echo: over http to sse');
    } finally {
      await client.close();
    }

    // A call the remote answers only after 60 s: the other units answer at
    // once meanwhile, and the caller gets the gateway's timeout as an error.
    const c = await McpClient.connect(socketPath(root));
    try {
      await c.initialize();
      const t0 = Date.now();
      const slow = c.callTool('ev__trigger-long-running-operation', { duration: 60, steps: 2 },
        { timeout: REQUEST_TIMEOUT_MS + 30000 });
      slow.catch(() => {});
      await new Promise((r) => setTimeout(r, 300));
      for (const unit of ['evsse', 'evfb']) {
        const t1 = Date.now();
        assert.equal(resultText(await c.callTool(`${unit}__echo`, { message: 'not blocked' })), 'Echo: not blocked');
        assert.ok(Date.now() - t1 < REQUEST_TIMEOUT_MS / 2, `${unit} answered in ${Date.now() - t1} ms`);
      }
      await assert.rejects(slow, (e) => e instanceof RpcError && /time/i.test(e.message), 'the slow call');
      const waited = Date.now() - t0;
      assert.ok(waited >= REQUEST_TIMEOUT_MS - 1000 && waited < REQUEST_TIMEOUT_MS + 20000, `timed out after ${waited} ms`);
      // The unit itself is fine afterwards.
      assert.equal(resultText(await c.callTool('ev__echo', { message: 'after the timeout' })), 'Echo: after the timeout');
    } finally {
      await c.close();
    }
  });

  test('the server killed and restarted behind corral: errors meanwhile, then recovery', async () => {
    const c = await McpClient.connect(socketPath(root));
    try {
      await c.initialize();
      await c.waitTools((n) => n.includes('ev__echo'), 'ev__echo');
      await httpServer.stop();
      // The session's GET stream ends and cannot reconnect: the unit leaves ready.
      const down = await waitStatus(root, (s) => unitOf(s, 'ev')?.state !== 'ready', 'ev to leave ready', 30000);
      const u = unitOf(down, 'ev');
      assert.match(u.last_error ?? '', /reach|refused|connect|ended/i, JSON.stringify(u));
      // Callers get an error naming the unit, not silence.
      const t0 = Date.now();
      await assert.rejects(c.callTool('ev__echo', { message: 'down' }, { timeout: 20000 }),
        (e) => e instanceof RpcError && /ev/.test(e.message));
      assert.ok(Date.now() - t0 < 10000, 'the error came quickly');
      // The other remote units are not affected.
      assert.equal(resultText(await c.callTool('evsse__echo', { message: 'unaffected' })), 'Echo: unaffected');
      // Still down well past the crash-loop window (at scale): unavailable, not failed.
      await new Promise((r) => setTimeout(r, 8000));
      const still = unitOf(await status(root), 'ev');
      assert.notEqual(still.state, 'failed', JSON.stringify(still));

      httpServer = await startEverything('streamableHttp', httpPort);
      await waitReady(root, ['ev'], 60000);
      await c.waitTools((n) => n.includes('ev__echo'), 'ev__echo after the restart');
      assert.equal(resultText(await c.callTool('ev__echo', { message: 'recovered' })), 'Echo: recovered');
    } finally {
      await c.close();
    }
  });

  test('a server that answers 401 is installed and waits for authorization', async () => {
    const peer = await startPeer((req, body, res) => {
      res.writeHead(401, {
        'WWW-Authenticate': `Bearer resource_metadata="http://127.0.0.1/.well-known/oauth-protected-resource"`,
      });
      res.end();
    });
    try {
      const r = await install(root, peer.url, ['--name', 'guarded', '--header', 'X-Team: blue',
        '--secret-header', 'X-Api-Key'], { input: 'sekrit-value-1234\n' });
      expectExit(r, 0, 'install of a 401 server');
      const dir = path.join(root, 'servers/guarded');
      const m = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
      assert.deepEqual(m.runtime.headers, { 'X-Team': 'blue', 'X-Api-Key': null });
      const secrets = path.join(dir, 'secrets.json');
      assert.equal(fs.statSync(secrets).mode & 0o777, 0o600);
      assert.equal(JSON.parse(fs.readFileSync(secrets, 'utf8')).headers['X-Api-Key'], 'sekrit-value-1234');
      assert.ok(!fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8').includes('sekrit'));
      // The probe sent both headers.
      assert.equal(peer.requests[0].headers['x-team'], 'blue');
      assert.equal(peer.requests[0].headers['x-api-key'], 'sekrit-value-1234');

      await corral(['reload'], { root });
      const st = await waitStatus(root, (s) => unitOf(s, 'guarded')?.state === 'pending_auth',
        'guarded to wait for authorization', 30000);
      const u = unitOf(st, 'guarded');
      assert.match(u.last_error, /needs authorization.*corral auth start guarded/);
      assert.equal(u.restarts, 0, 'a 401 is not a crash');
      // Not retried in a loop: the server saw one connection attempt, and
      // still only that one well past the unavailable retry period.
      const seen = peer.requests.length;
      await new Promise((r) => setTimeout(r, 2000));
      assert.equal(peer.requests.length, seen, 'no retries while pending authorization');
      assert.equal(unitOf(await status(root), 'guarded').state, 'pending_auth');
      const info = await corral(['info', 'guarded', '--json'], { root });
      assert.ok(!info.stdout.includes('sekrit'), 'the secret stays out of info');
      const log = path.join(root, 'log');
      for (const f of fs.existsSync(log) ? fs.readdirSync(log) : []) {
        assert.ok(!fs.readFileSync(path.join(log, f), 'utf8').includes('sekrit'), `secret in ${f}`);
      }
      await corral(['uninstall', 'guarded', '--yes'], { root });
    } finally {
      await peer.close();
    }
  });

  test('smithery-hosted: resolved through a Smithery registry stand-in to its HTTP deployment', async () => {
    // A hosted server that wants authorization: it records what corral sends.
    const guarded = await startPeer((req, body, res) => { res.writeHead(401); res.end(); });
    // GET /servers/{qualifiedName} of the Smithery registry API, with its
    // fields: qualifiedName, displayName, remote, deploymentUrl, connections.
    const registry = await startPeer((req, body, res) => {
      if (req.headers.authorization !== 'Bearer smithery-test-key') {
        res.writeHead(401, { 'Content-Type': 'application/json' });
        return res.end('{"error":"unauthorized"}');
      }
      const name = decodeURIComponent(req.url.replace(/^\/servers\//, ''));
      const docs = {
        '@acme/everything': {
          qualifiedName: '@acme/everything', displayName: 'Everything', remote: true,
          deploymentUrl: `http://127.0.0.1:${httpPort}`,
          connections: [{ type: 'http', deploymentUrl: `http://127.0.0.1:${httpPort}/mcp`, configSchema: {} }],
          security: { scanPassed: true }, tools: [],
        },
        // A configSchema as the API publishes one (JSON Schema of an object).
        '@acme/configured': {
          qualifiedName: '@acme/configured', displayName: 'Configured', remote: true,
          deploymentUrl: guarded.url.replace(/\/mcp$/, ''),
          connections: [{
            type: 'http', deploymentUrl: guarded.url,
            configSchema: {
              type: 'object', required: ['apiKey', 'region'], additionalProperties: false,
              properties: {
                apiKey: { type: 'string', description: 'Your Acme API key' },
                region: { type: 'string', enum: ['eu', 'us'], description: 'Data region' },
                maxResults: { type: 'integer', default: 10 },
                verbose: { type: 'boolean' },
              },
            },
          }],
        },
        // Smithery's x-from: one property read from a header, one from a
        // query parameter of another name; an object in dot notation.
        '@acme/xfrom': {
          qualifiedName: '@acme/xfrom', displayName: 'x-from', remote: true,
          deploymentUrl: guarded.url.replace(/\/mcp$/, ''),
          connections: [{
            type: 'http', deploymentUrl: guarded.url,
            configSchema: {
              type: 'object', required: ['token'],
              properties: {
                token: { type: 'string', description: 'Acme token', 'x-from': { header: 'x-acme-token' } },
                region: { type: 'string', 'x-from': { query: 'acme_region' } },
                model: { type: 'object' },
                limit: { type: 'integer', default: 3 },
              },
            },
          }],
        },
        '@acme/local-only': {
          qualifiedName: '@acme/local-only', remote: false,
          connections: [{ type: 'stdio', configSchema: {} }],
        },
      };
      if (!docs[name]) {
        res.writeHead(404, { 'Content-Type': 'application/json' });
        return res.end('{"error":"not found"}');
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify(docs[name]));
    });
    const env = { CORRAL_SMITHERY_REGISTRY: registry.url.replace(/\/mcp$/, ''), SMITHERY_API_KEY: 'smithery-test-key' };
    try {
      let r = await corral(['install', 'smithery-hosted:@acme/everything', '--yes', '--name', 'smith'], { root, env });
      expectExit(r, 0, 'install smithery-hosted:');
      assert.equal(registry.requests[0].url, '/servers/@acme/everything');
      const m = JSON.parse(fs.readFileSync(path.join(root, 'servers/smith/manifest.json'), 'utf8'));
      assert.equal(m.source.kind, 'smithery-hosted');
      assert.equal(m.source.spec, 'smithery-hosted:@acme/everything');
      assert.equal(m.runtime.backend, 'remote');
      assert.deepEqual(m.runtime.command, [`http://127.0.0.1:${httpPort}/mcp`]);
      await corral(['reload'], { root });
      await waitReady(root, ['smith']);
      r = await corral(['call', 'smith__echo', 'message=via smithery'], { root });
      expectExit(r, 0, 'call smith__echo');
      assert.match(r.stdout, /Echo: via smithery/);
      await corral(['uninstall', 'smith', '--yes'], { root });

      // configSchema: what is missing or wrong is named, nothing is stored.
      const before = storeSnapshot(root);
      const cfgInstall = (args, opts = {}) => corral(['install', 'smithery-hosted:@acme/configured', '--yes',
        '--name', 'configured', ...args], { root, env, ...opts });
      r = await cfgInstall([]);
      expectOneLineError(r, ['needs config', 'apiKey (Your Acme API key)', 'region', '--set'], 'missing config');
      assert.equal(r.code, 64);
      assert.doesNotMatch(r.stderr, /maxResults/, 'a property with a default is not asked for');
      r = await cfgInstall(['--set', 'apiKey=k', '--set', 'region=asia']);
      expectOneLineError(r, ['region', '"eu"'], 'a value outside the enum');
      r = await cfgInstall(['--set', 'apiKey=k', '--set', 'region=eu', '--set', 'maxResults=many']);
      expectOneLineError(r, ['maxResults', 'integer'], 'a non-integer');
      r = await cfgInstall(['--set', 'apiKey=k', '--set', 'region=eu', '--set', 'colour=red']);
      expectOneLineError(r, ['colour', 'apiKey, region, maxResults, verbose'], 'an unknown key');
      expectSameTree(before, storeSnapshot(root));
      assert.equal(guarded.requests.length, 0, 'nothing was sent to the server');

      r = await cfgInstall(['--set', 'apiKey=-', '--set', 'region=eu', '--set', 'maxResults=5', '--set', 'verbose=true'],
        { input: 'acme-secret-4711\n' });
      expectExit(r, 0, 'install smithery-hosted: with config');
      // Sent as Smithery's hosted servers read it: config=BASE64(JSON) in the query.
      const sent = new URL(guarded.requests[0].url, 'http://x');
      assert.equal(sent.pathname, '/mcp');
      assert.deepEqual(JSON.parse(Buffer.from(sent.searchParams.get('config'), 'base64').toString()),
        { apiKey: 'acme-secret-4711', region: 'eu', maxResults: 5, verbose: true });
      // Kept as a secret: never in the manifest, info or status.
      const dir = path.join(root, 'servers/configured');
      assert.ok(!fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8').includes('config='));
      assert.equal(fs.statSync(path.join(dir, 'secrets.json')).mode & 0o777, 0o600);
      await corral(['reload'], { root });
      const st = await waitStatus(root, (x) => unitOf(x, 'configured')?.state === 'pending_auth', 'configured to start');
      assert.ok(!JSON.stringify(st).includes('config='), 'the query stays out of status');
      const info = await corral(['info', 'configured', '--json'], { root });
      assert.ok(!info.stdout.includes('config=') && !info.stdout.includes('4711'));
      const seen = guarded.requests.at(-1);
      assert.ok(guarded.requests.length >= 2 && new URL(seen.url, 'http://x').searchParams.get('config'),
        'the unit sends the config too');
      await corral(['uninstall', 'configured', '--yes'], { root });

      // --config FILE, and Smithery's x-from: a header, a renamed query
      // parameter, dot notation; the header a secret of the unit.
      const cfgFile = `${root}-xfrom.json`;
      fs.writeFileSync(cfgFile, JSON.stringify({ token: 'tok-4712', region: 'eu', model: { name: 'm1' }, limit: 7 }));
      let n = guarded.requests.length;
      r = await corral(['install', 'smithery-hosted:@acme/xfrom', '--yes', '--name', 'xfrom', '--config', cfgFile], { root, env });
      fs.rmSync(cfgFile);
      expectExit(r, 0, 'install smithery-hosted: with --config');
      let req = guarded.requests[n];
      let q = new URL(req.url, 'http://x').searchParams;
      assert.equal(req.headers['x-acme-token'], 'tok-4712');
      assert.deepEqual([q.get('acme_region'), q.get('model.name'), q.get('limit'), q.get('token')], ['eu', 'm1', '7', null]);
      assert.deepEqual(JSON.parse(Buffer.from(q.get('config'), 'base64').toString()),
        { token: 'tok-4712', region: 'eu', model: { name: 'm1' }, limit: 7 });
      const xm = fs.readFileSync(path.join(root, 'servers/xfrom/manifest.json'), 'utf8');
      assert.deepEqual(JSON.parse(xm).runtime.headers, { 'x-acme-token': null });
      assert.ok(!xm.includes('tok-4712'));
      await corral(['uninstall', 'xfrom', '--yes'], { root });
      // On a terminal, each property not given is asked (an empty answer: left
      // out).  (Typed ahead here, so the terminal itself echoes the answers.)
      n = guarded.requests.length;
      r = await onTty(['install', 'smithery-hosted:@acme/xfrom', '--yes', '--name', 'xfrom', '--set', 'region=us'],
        { root, env, input: 'tok-tty-99\n\n\n' });
      expectExit(r, 0, 'install smithery-hosted: on a terminal');
      assert.match(r.stdout, /token \(Acme token\): /);
      req = guarded.requests[n];
      q = new URL(req.url, 'http://x').searchParams;
      assert.equal(req.headers['x-acme-token'], 'tok-tty-99');
      assert.deepEqual([q.get('acme_region'), q.get('model.name'), q.get('limit')], ['us', null, null]);
      await corral(['uninstall', 'xfrom', '--yes'], { root });

      r = await corral(['install', 'smithery-hosted:@acme/missing', '--yes'], { root, env });
      expectOneLineError(r, ['no server', '@acme/missing'], 'a name the registry does not know');
      assert.equal(r.code, 66);
      r = await corral(['install', 'smithery-hosted:@acme/local-only', '--yes'], { root, env });
      expectOneLineError(r, ['not hosted'], 'a server that only runs locally');
      assert.equal(r.code, 69);
      r = await corral(['install', 'smithery-hosted:@acme/everything', '--yes'], { root, env: { ...env, SMITHERY_API_KEY: 'wrong' } });
      expectOneLineError(r, ['SMITHERY_API_KEY'], 'a refused key');
      assert.equal(r.code, 77);
    } finally {
      await registry.close();
      await guarded.close();
    }
  });

  test('bad endpoints fail the install with one clear line and store nothing', async () => {
    const before = storeSnapshot(root);
    // Plain http:// beyond loopback.
    let r = await install(root, 'http://example.com/mcp', ['--name', 'plain']);
    expectOneLineError(r, ['http://', 'insecure'], 'install of http:// to another host');
    expectExit(r, 64);
    // Nothing listening.
    const dead = await freePort();
    r = await install(root, `http://127.0.0.1:${dead}/mcp`, ['--name', 'dead']);
    expectExit(r, 69, 'install of an unreachable URL');
    expectOneLineError(r, ['reach'], 'install of an unreachable URL');
    // An HTML page.
    const html = await startPeer((req, body, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<html><body>Welcome</body></html>');
    });
    // An event stream whose event never ends, growing past the cap.
    const endless = await startPeer((req, body, res) => {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      const chunk = `data: ${'x'.repeat(1 << 20)}\n`;
      let sent = 0;
      const more = () => {
        while (sent < 40 && res.write(chunk)) sent++;
        if (sent < 40) res.once('drain', more);
        else res.end();
      };
      more();
    });
    // A 5xx.
    const broken = await startPeer((req, body, res) => { res.writeHead(503); res.end('maintenance'); });
    try {
      r = await install(root, html.url, ['--name', 'html']);
      expectOneLineError(r, ['text/html'], 'install of an HTML page');
      assert.equal(r.code, 76, r.stderr);
      r = await install(root, endless.url, ['--name', 'endless']);
      expectOneLineError(r, ['over'], 'install of an endless event');
      assert.equal(r.code, 76, r.stderr);
      r = await install(root, broken.url, ['--name', 'broken']);
      expectOneLineError(r, ['503'], 'install of a 503');
      assert.equal(r.code, 69, r.stderr);
    } finally {
      await html.close();
      await endless.close();
      await broken.close();
    }
    expectSameTree(before, storeSnapshot(root));
  });
});
