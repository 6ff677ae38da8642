// MCP over HTTP: the daemon's Streamable HTTP and HTTP+SSE endpoints, used by
// the official TypeScript SDK client (@modelcontextprotocol/sdk, fetched by
// scripts/fetch-fixtures) against real server-everything, plus curl for the
// raw protocol and bad input, permission levels, and many idle or slow
// connections.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';

import {
  FIXTURES, SANITIZE, cleanupRoot, corral, expectExit, installFixture, newRoot, resultText, run,
  sleep, startDaemon, waitFor, waitReady, withTimeout,
} from './lib.mjs';

const SDK = path.join(FIXTURES, 'sdk/node_modules/@modelcontextprotocol/sdk/dist/esm');
const sdk = async (p) => import(pathToFileURL(path.join(SDK, p)).href);
const BODY_MAX = 65536;
const JSON_SSE = 'application/json, text/event-stream';

function ports(output) {
  return [...output.matchAll(/MCP over HTTP on \S+ \(port (\d+), level (\w+)\)/g)]
    .map((m) => ({ port: Number(m[1]), level: m[2] }));
}

async function sdkClient(url, kind = 'streamable') {
  const { Client } = await sdk('client/index.js');
  const transport = kind === 'sse'
    ? new (await sdk('client/sse.js')).SSEClientTransport(new URL(url))
    : new (await sdk('client/streamableHttp.js')).StreamableHTTPClientTransport(new URL(url));
  const client = new Client({ name: 'corral-http-test', version: '1.0.0' });
  await withTimeout(client.connect(transport), 30000, `SDK connect to ${url}`);
  return client;
}

/* curl with status and headers: {status, headers (lowercase), body}. */
async function curl(args) {
  const r = await run('curl', ['-sS', '-D', '-', '--max-time', '20', ...args]);
  assert.equal(r.code, 0, `curl ${args.join(' ')}: ${r.stderr}`);
  const blocks = r.stdout.split('\r\n\r\n');
  let i = 0;
  while (/^HTTP\/1\.1 100/.test(blocks[i])) i++;
  const head = blocks[i].split('\r\n');
  const headers = {};
  for (const line of head.slice(1)) {
    const k = line.indexOf(':');
    headers[line.slice(0, k).toLowerCase()] = line.slice(k + 1).trim();
  }
  return { status: Number(head[0].split(' ')[1]), headers, body: blocks.slice(i + 1).join('\r\n\r\n') };
}

function post(url, body, headers = {}) {
  const h = { 'content-type': 'application/json', accept: JSON_SSE, ...headers };
  const args = ['-X', 'POST', url, '--data-binary', typeof body === 'string' ? body : JSON.stringify(body)];
  for (const [k, v] of Object.entries(h)) if (v !== undefined) args.push('-H', `${k}: ${v}`);
  return curl(args);
}

const INIT = {
  jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'curl', version: '1' } },
};

async function rawSession(url) {
  const r = await post(url, INIT);
  assert.equal(r.status, 200, r.body);
  const sid = r.headers['mcp-session-id'];
  assert.match(sid, /^[0-9a-f]{32}$/);
  assert.equal((await post(url, { jsonrpc: '2.0', method: 'notifications/initialized' },
    { 'mcp-session-id': sid })).status, 202);
  return sid;
}

describe('MCP over HTTP', { timeout: 900000 }, () => {
  let root;
  let daemon;
  let base; // http://127.0.0.1:PORT, level trusted
  let pub; // the same on a public listener

  before(async () => {
    root = newRoot('http');
    await installFixture(root, 'everything');
    fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
    fs.writeFileSync(path.join(root, 'etc/corral.json'), JSON.stringify({
      http: {
        level: 'trusted',
        max_body_bytes: BODY_MAX,
        listen: [{ addr: '127.0.0.1:0', level: 'public' }],
      },
    }));
    daemon = await startDaemon(root, { args: ['--http', '127.0.0.1:0'] });
    await waitReady(root, ['everything']);
    const p = ports(daemon.output());
    assert.equal(p.length, 2, daemon.output());
    pub = `http://127.0.0.1:${p.find((x) => x.level === 'public').port}`;
    base = `http://127.0.0.1:${p.find((x) => x.level === 'trusted').port}`;
  });

  after(async () => {
    if (daemon) await daemon.kill();
    cleanupRoot(root);
  });

  test('/healthz answers', async () => {
    const r = await curl([`${base}/healthz`]);
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { status: 'ok' });
  });

  describe('the SDK client over Streamable HTTP on /mcp', () => {
    let c;
    before(async () => { c = await sdkClient(`${base}/mcp`); });
    after(async () => { if (c) await c.close(); });

    test('lists the aggregated tools and calls one', async () => {
      const { tools } = await c.listTools();
      const names = tools.map((t) => t.name).filter((n) => !n.startsWith('corral__'));
      assert.ok(names.includes('everything__echo'), names.join(' '));
      assert.ok(names.every((n) => n.startsWith('everything__')), names.join(' '));
      const res = await c.callTool({ name: 'everything__echo', arguments: { message: 'over http' } });
      assert.equal(resultText(res), 'Echo: over http');
    });

    test('progress arrives on the request stream, then the result', async () => {
      const seen = [];
      const res = await c.callTool({
        name: 'everything__trigger-long-running-operation', arguments: { duration: 1, steps: 4 },
      }, undefined, { onprogress: (p) => seen.push(p.progress), timeout: 30000 });
      assert.deepEqual(seen, [1, 2, 3, 4]);
      assert.match(resultText(res), /Long running operation completed/);
    });

    test('a cancelled call rejects at once and the session goes on', async () => {
      const ac = new AbortController();
      const started = Date.now();
      const p = c.callTool({
        name: 'everything__trigger-long-running-operation', arguments: { duration: 30, steps: 30 },
      }, undefined, { signal: ac.signal, onprogress: () => {}, timeout: 60000 });
      await sleep(500);
      ac.abort('test cancels');
      await assert.rejects(p);
      assert.ok(Date.now() - started < 10000, 'the cancelled call did not end promptly');
      const res = await c.callTool({ name: 'everything__get-sum', arguments: { a: 2, b: 3 } });
      assert.match(resultText(res), /5/);
    });
  });

  test('the SDK client on /servers/everything/mcp sees the server\'s own names', async () => {
    const c = await sdkClient(`${base}/servers/everything/mcp`);
    try {
      assert.match(c.getServerVersion()?.name ?? '', /everything|mcp-servers/i);
      const { tools } = await c.listTools();
      const names = tools.map((t) => t.name);
      assert.ok(names.includes('echo') && names.includes('get-sum'), names.join(' '));
      assert.ok(!names.some((n) => n.includes('__')), names.join(' '));
      const seen = [];
      const res = await c.callTool({ name: 'trigger-long-running-operation',
        arguments: { duration: 1, steps: 2 } }, undefined, { onprogress: (p) => seen.push(p.progress) });
      assert.deepEqual(seen, [1, 2]);
      assert.match(resultText(res), /completed/);
      // Cancellation through the single-server endpoint too.
      const ac = new AbortController();
      const started = Date.now();
      const p = c.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 30, steps: 30 } },
        undefined, { signal: ac.signal, onprogress: () => {}, timeout: 60000 });
      await sleep(500);
      ac.abort('test cancels');
      await assert.rejects(p);
      assert.ok(Date.now() - started < 10000, 'the cancelled call did not end promptly');
      assert.match(resultText(await c.callTool({ name: 'get-sum', arguments: { a: 2, b: 3 } })), /5/);
    } finally {
      await c.close();
    }
  });

  for (const p of ['/sse', '/servers/everything/sse']) {
    test(`the SDK's 2024-11-05 SSE client on ${p}`, async () => {
      const c = await sdkClient(`${base}${p}`, 'sse');
      try {
        const { tools } = await c.listTools();
        const echo = p === '/sse' ? 'everything__echo' : 'echo';
        assert.ok(tools.some((t) => t.name === echo), tools.map((t) => t.name).join(' '));
        const res = await c.callTool({ name: echo, arguments: { message: 'legacy' } });
        assert.equal(resultText(res), 'Echo: legacy');
      } finally {
        await c.close();
      }
    });
  }

  describe('raw protocol and bad input', () => {
    test('415 for a body that is not JSON by Content-Type', async () => {
      const r = await post(`${base}/mcp`, INIT, { 'content-type': 'text/plain' });
      assert.equal(r.status, 415);
    });

    test('406 when the client does not accept both JSON and SSE', async () => {
      const r = await post(`${base}/mcp`, INIT, { accept: 'application/json' });
      assert.equal(r.status, 406);
    });

    test('400 with a JSON-RPC parse error for malformed JSON', async () => {
      const r = await post(`${base}/mcp`, '{"jsonrpc": "2.0", "id": 1, "method": ');
      assert.equal(r.status, 400);
      assert.equal(JSON.parse(r.body).error.code, -32700);
    });

    test('413 for a body over the cap', async () => {
      const big = JSON.stringify({ ...INIT, params: { ...INIT.params, pad: 'x'.repeat(BODY_MAX) } });
      const r = await post(`${base}/mcp`, big);
      assert.equal(r.status, 413);
    });

    test('404 for an unknown session, 400 without one', async () => {
      const list = { jsonrpc: '2.0', id: 2, method: 'tools/list' };
      assert.equal((await post(`${base}/mcp`, list, { 'mcp-session-id': 'f'.repeat(32) })).status, 404);
      assert.equal((await post(`${base}/mcp`, list)).status, 400);
    });

    test('DELETE ends a session; it is 404 afterwards', async () => {
      const sid = await rawSession(`${base}/mcp`);
      const list = { jsonrpc: '2.0', id: 2, method: 'tools/list' };
      const ok = await post(`${base}/mcp`, list, { 'mcp-session-id': sid });
      assert.equal(ok.status, 200);
      assert.equal(ok.headers['content-type'], 'application/json');
      assert.ok(JSON.parse(ok.body).result.tools.length > 0);
      const del = await curl(['-X', 'DELETE', `${base}/mcp`, '-H', `mcp-session-id: ${sid}`]);
      assert.equal(del.status, 200);
      assert.equal((await post(`${base}/mcp`, list, { 'mcp-session-id': sid })).status, 404);
    });

    test('an unsupported MCP-Protocol-Version is 400', async () => {
      const sid = await rawSession(`${base}/mcp`);
      const r = await post(`${base}/mcp`, { jsonrpc: '2.0', id: 2, method: 'ping' },
        { 'mcp-session-id': sid, 'mcp-protocol-version': '1999-01-01' });
      assert.equal(r.status, 400);
      const ok = await post(`${base}/mcp`, { jsonrpc: '2.0', id: 3, method: 'ping' },
        { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' });
      assert.equal(ok.status, 200);
    });

    test('403 for an Origin not allowed; loopback origins get CORS headers', async () => {
      const bad = await post(`${base}/mcp`, INIT, { origin: 'http://evil.example' });
      assert.equal(bad.status, 403);
      const good = await post(`${base}/mcp`, INIT, { origin: 'http://localhost:3000' });
      assert.equal(good.status, 200);
      assert.equal(good.headers['access-control-allow-origin'], 'http://localhost:3000');
      assert.match(good.headers['access-control-expose-headers'], /Mcp-Session-Id/i);
    });

    test('404 for unknown paths and servers', async () => {
      assert.equal((await post(`${base}/nope`, INIT)).status, 404);
      assert.equal((await post(`${base}/servers/nosuch/mcp`, INIT)).status, 404);
      assert.equal((await post(`${base}/servers/Bad_Name/mcp`, INIT)).status, 404);
    });

    test('a stream cut mid-way resumes with Last-Event-ID', async () => {
      const url = `${base}/servers/everything/mcp`;
      const sid = await rawSession(url);
      const ac = new AbortController();
      const res = await fetch(url, {
        method: 'POST', signal: ac.signal,
        headers: { 'content-type': 'application/json', accept: JSON_SSE, 'mcp-session-id': sid },
        body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: {
          name: 'trigger-long-running-operation', arguments: { duration: 2, steps: 4 },
          _meta: { progressToken: 'resume' } } }),
      });
      assert.equal(res.headers.get('content-type'), 'text/event-stream');
      const reader = res.body.getReader();
      let text = '';
      while (!/\n\n/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
      const first = text.match(/^id: (\S+)/m)[1];
      ac.abort(); // the client's connection is cut after one event
      const r = await curl([url, '-H', `mcp-session-id: ${sid}`, '-H', 'accept: text/event-stream',
        '-H', `last-event-id: ${first}`]);
      assert.equal(r.status, 200);
      const events = r.body.split('\n\n').filter((e) => e.includes('data: '))
        .map((e) => JSON.parse(e.match(/^data: (.*)$/m)[1]));
      assert.ok(events.length >= 1, r.body);
      const last = events.at(-1);
      assert.equal(last.id, 7, r.body);
      assert.match(last.result.content[0].text, /completed/);
      const progress = events.filter((e) => e.method === 'notifications/progress').map((e) => e.params.progress);
      // Everything after the last event the client saw, and nothing before it.
      assert.deepEqual(progress, [2, 3, 4], r.body);
    });
  });

  describe('permission levels', () => {
    test('a public listener sees no trusted server; calls fail like unknown ones', async () => {
      const c = await sdkClient(`${pub}/mcp`);
      try {
        assert.deepEqual((await c.listTools()).tools, []);
        const hidden = await c.callTool({ name: 'everything__echo', arguments: { message: 'x' } })
          .then(() => null, (e) => e.message);
        const unknown = await c.callTool({ name: 'nosuchsrv__echo', arguments: { message: 'x' } })
          .then(() => null, (e) => e.message);
        assert.ok(hidden && unknown);
        assert.equal(hidden.replaceAll('everything', 'X'), unknown.replaceAll('nosuchsrv', 'X'));
      } finally {
        await c.close();
      }
      assert.equal((await post(`${pub}/servers/everything/mcp`, INIT)).status, 404);
    });

    test('corral access lowers a server to public and hides one tool', async () => {
      // Connected sessions hear list_changed when what their level reaches
      // changes: the public one (everything appears) and the trusted one
      // (echo disappears), on /mcp and on the single-server endpoint.
      const { ToolListChangedNotificationSchema } = await sdk('types.js');
      const heard = { pub: 0, base: 0, scoped: 0 };
      const listeners = {
        pub: await sdkClient(`${pub}/mcp`),
        base: await sdkClient(`${base}/mcp`),
        scoped: await sdkClient(`${base}/servers/everything/mcp`),
      };
      for (const [k, c] of Object.entries(listeners)) {
        c.setNotificationHandler(ToolListChangedNotificationSchema, () => { heard[k]++; });
      }
      // The SDK opens its GET stream after initialize; give it a moment.
      await sleep(500);
      try {
        expectExit(await corral(['access', 'everything', 'public'], { root }), 0, 'access');
        await waitFor(() => heard.pub > 0 && heard.base > 0 && heard.scoped > 0,
          { timeout: 20000, what: `list_changed after corral access (heard ${JSON.stringify(heard)})` });
        for (const k of Object.keys(heard)) heard[k] = 0;
        expectExit(await corral(['access', 'everything', 'anchor', '--tool', 'echo'], { root }), 0,
          'access --tool');
        await waitFor(() => heard.pub > 0 && heard.base > 0 && heard.scoped > 0,
          { timeout: 20000, what: `list_changed after access --tool (heard ${JSON.stringify(heard)})` });
        assert.ok(!(await listeners.scoped.listTools()).tools.some((t) => t.name === 'echo'));
        // The single-server endpoint is the server itself: a hidden tool
        // answers exactly as the server answers a name it does not have.
        const hidden = await listeners.scoped.callTool({ name: 'echo', arguments: { message: 'x' } })
          .then((r) => JSON.stringify(r), (e) => `error ${e.code} ${e.message}`);
        const unknown = await listeners.scoped.callTool({ name: 'nosuch', arguments: { message: 'x' } })
          .then((r) => JSON.stringify(r), (e) => `error ${e.code} ${e.message}`);
        assert.doesNotMatch(hidden, /Echo: x|corral-unlisted/);
        assert.equal(hidden.replaceAll('echo', 'T'), unknown.replaceAll('nosuch', 'T'));

        const info = await corral(['info', 'everything'], { root });
        assert.match(info.stdout, /access:\s+public/);
        assert.match(info.stdout, /tool echo: anchor/);
        for (const url of [`${pub}/mcp`, `${base}/mcp`]) {
          const c = await sdkClient(url);
          try {
            const names = await waitFor(async () => {
              const n = (await c.listTools()).tools.map((t) => t.name);
              return n.includes('everything__get-sum') && !n.includes('everything__echo') ? n : null;
            }, { timeout: 20000, what: `everything to be public and echo anchor on ${url}` });
            assert.ok(names.length > 5, names.join(' '));
            const hidden = await c.callTool({ name: 'everything__echo', arguments: { message: 'x' } })
              .then(() => null, (e) => e.message);
            const unknown = await c.callTool({ name: 'everything__nosuch', arguments: { message: 'x' } })
              .then(() => null, (e) => e.message);
            assert.equal(hidden.replaceAll('echo', 'T'), unknown.replaceAll('nosuch', 'T'));
            const sum = await c.callTool({ name: 'everything__get-sum', arguments: { a: 1, b: 1 } });
            assert.match(resultText(sum), /2/);
          } finally {
            await c.close();
          }
        }
        // The control socket is anchor: it still reaches the tool.
        const r = await corral(['call', 'everything__echo', 'message=anchor'], { root });
        expectExit(r, 0, 'call everything__echo over the unix socket');
        assert.match(r.stdout, /Echo: anchor/);
      } finally {
        for (const c of Object.values(listeners)) await c.close().catch(() => {});
        expectExit(await corral(['access', 'everything', 'trusted'], { root }), 0, 'access back');
        expectExit(await corral(['access', 'everything', 'trusted', '--tool', 'echo'], { root }), 0,
          'access --tool back');
      }
    });
  });

  test('idle connections and a slow-drip client do not stop others', { timeout: 300000 }, async () => {
    const N = SANITIZE ? 2000 : 10000;
    const port = Number(new URL(base).port);
    const socks = [];
    try {
      for (let i = 0; i < N; i++) {
        const s = net.connect(port, '127.0.0.1');
        s.on('error', () => {});
        socks.push(s);
        if (i % 500 === 499) await sleep(20);
      }
      await waitFor(() => socks.every((s) => s.readyState === 'open' || s.destroyed),
        { timeout: 60000, what: `${N} connections to open` });
      const drip = net.connect(port, '127.0.0.1');
      drip.on('error', () => {});
      const req = 'POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n';
      let i = 0;
      const timer = setInterval(() => { if (i < req.length) drip.write(req[i++]); }, 50);
      try {
        const c = await sdkClient(`${base}/mcp`);
        try {
          const res = await withTimeout(
            c.callTool({ name: 'everything__echo', arguments: { message: 'still served' } }),
            30000, 'a call while many connections are idle');
          assert.equal(resultText(res), 'Echo: still served');
        } finally {
          await c.close();
        }
        assert.equal((await curl([`${base}/healthz`])).status, 200);
      } finally {
        clearInterval(timer);
        drip.destroy();
      }
      const open = socks.filter((s) => s.readyState === 'open').length;
      assert.ok(open > N * 0.9, `only ${open} of ${N} idle connections were accepted`);
    } finally {
      for (const s of socks) s.destroy();
    }
  });
});

describe('HTTP listener settings', { timeout: 300000 }, () => {
  let root;
  before(() => { root = newRoot('http-cfg'); });
  after(() => cleanupRoot(root));

  test('a non-loopback listener without auth is refused', async () => {
    const r = await corral(['daemon', '--http', '0.0.0.0:0'], { root, timeout: 30000 });
    expectExit(r, 78, 'daemon --http 0.0.0.0:0');
    assert.match(r.stderr, /^corral: daemon: .*without authentication/m);
  });

  test('"auth": "none" allows it, with a warning', async () => {
    fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
    fs.writeFileSync(path.join(root, 'etc/corral.json'), JSON.stringify({ http: { auth: 'none' } }));
    const d = await startDaemon(root, { args: ['--http', '0.0.0.0:0'] });
    try {
      assert.match(d.output(), /without authentication/);
      const port = ports(d.output())[0].port;
      // Every listing says so.
      const st = await corral(['status'], { root });
      expectExit(st, 0, 'status');
      assert.match(st.stdout, /^warning: 0\.0\.0\.0:0 serves MCP without authentication/m);
      const js = JSON.parse((await corral(['status', '--json'], { root })).stdout);
      assert.deepEqual(js.http.map((l) => [l.auth, l.loopback, l.port]), [['none', false, port]]);
      assert.equal((await curl([`http://127.0.0.1:${port}/healthz`])).status, 200);
    } finally {
      await d.stop();
    }
  });

  test('a bad listen address is a usage error', async () => {
    fs.rmSync(path.join(root, 'etc/corral.json'), { force: true });
    const r = await corral(['daemon', '--http', 'nowhere'], { root, timeout: 30000 });
    expectExit(r, 64, 'daemon --http nowhere');
    assert.match(r.stderr, /invalid HTTP listen address 'nowhere'/);
  });

  test('TLS with a certificate from corral.json', async () => {
    const dir = path.join(root, 'tls');
    fs.mkdirSync(dir, { recursive: true });
    const gen = await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
      '-subj', '/CN=localhost', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')]);
    assert.equal(gen.code, 0, gen.stderr);
    fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
    fs.writeFileSync(path.join(root, 'etc/corral.json'), JSON.stringify({
      http: { listen: ['127.0.0.1:0'],
        tls: { cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem') } },
    }));
    const d = await startDaemon(root);
    try {
      const port = ports(d.output())[0].port;
      const r = await curl(['--cacert', path.join(dir, 'cert.pem'), `https://localhost:${port}/healthz`]);
      assert.equal(r.status, 200);
      const plain = await run('curl', ['-sS', '--max-time', '10', `http://127.0.0.1:${port}/healthz`]);
      assert.notEqual(plain.stdout, '{"status":"ok"}', 'plain HTTP was answered on a TLS listener');
    } finally {
      await d.stop();
    }
  });
});

describe('HTTP with bearer tokens (corral token)', { timeout: 300000 }, () => {
  let root;
  let daemon;
  let base;
  const tokens = {};

  before(async () => {
    root = newRoot('http-auth');
    await installFixture(root, 'everything');
    fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
    fs.writeFileSync(path.join(root, 'etc/corral.json'), JSON.stringify({
      auth: { resource: 'http://127.0.0.1/mcp' },
      http: { level: 'anchor', public_url: 'http://127.0.0.1', listen: ['127.0.0.1:0'] },
    }));
    for (const [user, level] of [['alice', 'trusted'], ['bob', 'public']]) {
      const r = await corral(['token', 'create', '--user', user, '--level', level, '--json'], { root });
      expectExit(r, 0, `token create ${user}`);
      tokens[user] = JSON.parse(r.stdout);
    }
    // An earlier version's tokens.json: the daemon moves it into state.db.
    tokens.carol = { id: 'c0ffee000001', token: `corral_c0ffee000001_${'k'.repeat(43)}` };
    fs.writeFileSync(path.join(root, 'tokens.json'), JSON.stringify({
      version: 1,
      tokens: [{ id: tokens.carol.id, user: 'carol', level: 'trusted',
        sha256: crypto.createHash('sha256').update(tokens.carol.token).digest('hex'),
        created_at: '2026-01-01T00:00:00Z' }],
    }), { mode: 0o600 });
    daemon = await startDaemon(root, { env: { CORRAL_LOG: 'info' } });
    await waitReady(root, ['everything']);
    base = `http://127.0.0.1:${ports(daemon.output())[0].port}`;
  });

  after(async () => {
    if (daemon) await daemon.kill();
    cleanupRoot(root);
  });

  test('no token or a wrong one: 401 with WWW-Authenticate naming the metadata', async () => {
    for (const auth of [undefined, 'Bearer corral_nope_nope', 'Basic YWxpY2U6eA==']) {
      const r = await post(`${base}/mcp`, INIT, { authorization: auth });
      assert.equal(r.status, 401, `${auth}: ${r.body}`);
      assert.match(r.headers['www-authenticate'],
        /^Bearer .*resource_metadata="http:\/\/127\.0\.0\.1\/\.well-known\/oauth-protected-resource\/mcp"/);
    }
  });

  test('the protected-resource metadata (RFC 9728), per path', async () => {
    for (const [p, want] of [['', '/mcp'], ['/mcp', '/mcp'],
      ['/servers/everything/mcp', '/servers/everything/mcp']]) {
      const r = await curl([`${base}/.well-known/oauth-protected-resource${p}`]);
      assert.equal(r.status, 200, r.body);
      assert.equal(JSON.parse(r.body).resource, `http://127.0.0.1${want}`);
    }
  });

  test('a token\'s user level caps the listener\'s; revoking it locks the user out', async () => {
    const withToken = async (user) => {
      const { Client } = await sdk('client/index.js');
      const { StreamableHTTPClientTransport } = await sdk('client/streamableHttp.js');
      const c = new Client({ name: 'corral-auth-test', version: '1.0.0' });
      await c.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${tokens[user].token}` } },
      }));
      return c;
    };
    const alice = await withToken('alice');
    try {
      const names = (await alice.listTools()).tools.map((t) => t.name);
      assert.ok(names.includes('everything__echo'), names.join(' '));
      const res = await alice.callTool({ name: 'everything__echo', arguments: { message: 'alice' } });
      assert.equal(resultText(res), 'Echo: alice');
    } finally {
      await alice.close();
    }
    const bob = await withToken('bob');
    try {
      assert.deepEqual((await bob.listTools()).tools, []);
    } finally {
      await bob.close();
    }
    // A session belongs to the user that opened it.
    const sid = (await post(`${base}/mcp`, INIT, { authorization: `Bearer ${tokens.alice.token}` }))
      .headers['mcp-session-id'];
    const stolen = await post(`${base}/mcp`, { jsonrpc: '2.0', id: 2, method: 'tools/list' },
      { authorization: `Bearer ${tokens.bob.token}`, 'mcp-session-id': sid });
    assert.equal(stolen.status, 404);
    expectExit(await corral(['token', 'revoke', tokens.alice.id], { root }), 0, 'token revoke');
    const r = await post(`${base}/mcp`, INIT, { authorization: `Bearer ${tokens.alice.token}` });
    assert.equal(r.status, 401);
  });

  test('while the daemon runs it alone writes tokens: import, create, revoke at once', async () => {
    // CORRAL_TEST_NO_STATE_WRITE makes any read-write open of state.db by
    // the CLI fail: each verb below must go through the daemon.
    const env = { CORRAL_TEST_NO_STATE_WRITE: '1' };
    const bearer = (t) => ({ authorization: `Bearer ${t}` });
    assert.ok(!fs.existsSync(path.join(root, 'tokens.json')), 'tokens.json was not imported');
    assert.match(daemon.output(), /1 API token\(s\) moved from \S+tokens\.json/);
    assert.equal((await post(`${base}/mcp`, INIT, bearer(tokens.carol.token))).status, 200);

    const c = expectExit(await corral(['token', 'create', '--user', 'dave', '--level', 'trusted',
      '--json'], { root, env }), 0, 'token create');
    const dave = JSON.parse(c.stdout);
    assert.match(dave.token, /^corral_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    // Known at the very next request, no reload.
    assert.equal((await post(`${base}/mcp`, INIT, bearer(dave.token))).status, 200);
    const list = JSON.parse(expectExit(await corral(['token', 'list', '--json'], { root, env }), 0).stdout);
    assert.deepEqual(list.map((e) => e.user).sort(), ['bob', 'carol', 'dave']);
    expectExit(await corral(['token', 'revoke', dave.id], { root, env }), 0, 'token revoke');
    // Refused at the very next request.
    assert.equal((await post(`${base}/mcp`, INIT, bearer(dave.token))).status, 401);
    const again = await corral(['token', 'revoke', dave.id], { root, env });
    assert.equal(again.code, 66, again.stderr);
    assert.match(daemon.output(), new RegExp(`API token ${dave.id} created for dave \\(trusted\\)`));
    assert.match(daemon.output(), new RegExp(`API token ${dave.id} revoked`));
    // Only hashes in the files.
    const db = path.join(root, 'state.db');
    const raw = Buffer.concat([db, `${db}-wal`].filter((f) => fs.existsSync(f))
      .map((f) => fs.readFileSync(f)));
    for (const t of [dave.token, tokens.carol.token, tokens.bob.token]) {
      assert.ok(!raw.includes(t.slice(20)), 'a token is in state.db');
    }
  });
});
