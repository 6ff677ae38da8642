// Server-to-client requests and passed-on capabilities through the gateway
// (issue 11): the official TypeScript SDK client (@modelcontextprotocol/sdk,
// fetched by scripts/fetch-fixtures) with sampling, elicitation and roots
// handlers, against the real server-everything run by the daemon, through
// `corral serve --stdio`, the gateway unix socket and Streamable HTTP — side by
// side with the same client on server-everything alone.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';

import {
  CORRAL, FIXTURES, REPO, cleanupRoot, corral, corralEnv, emptyPkg, expectExit, installFixture,
  newRoot, socketPath, startDaemon, waitFor, waitReady, withTimeout,
} from './lib.mjs';

const SDK = path.join(FIXTURES, 'sdk/node_modules/@modelcontextprotocol/sdk/dist/esm');
const sdk = async (p) => import(pathToFileURL(path.join(SDK, p)).href);
const EVERYTHING = path.join(FIXTURES,
  'everything/node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const ROOT_URI = 'file:///srv/corral-test-root';
const ASKING = path.join(REPO, 'tests/fixtures/asking-server.mjs');
const MODERN = path.join(REPO, 'tests/fixtures/modern-server.mjs');
const SDK2 = path.join(FIXTURES, 'sdk2/node_modules');
const CONDITIONAL = ['trigger-sampling-request', 'trigger-elicitation-request', 'get-roots-list'];

/* The SDK's newline-delimited JSON over a unix socket (the SDK ships stdio
 * and HTTP transports; this is its stdio framing on a socket). */
class SocketTransport {
  constructor(file) { this.file = file; }

  async start() {
    const { ReadBuffer, serializeMessage } = await sdk('shared/stdio.js');
    this.serialize = serializeMessage;
    this.buf = new ReadBuffer();
    this.sock = net.connect(this.file);
    await new Promise((resolve, reject) => {
      this.sock.once('connect', resolve);
      this.sock.once('error', reject);
    });
    this.sock.on('data', (d) => {
      this.buf.append(d);
      for (let m; (m = this.buf.readMessage());) this.onmessage?.(m);
    });
    this.sock.on('close', () => this.onclose?.());
    this.sock.on('error', (e) => this.onerror?.(e));
  }

  async send(msg) { this.sock.write(this.serialize(msg)); }

  async close() { this.sock.end(); }
}

/* A client with every client feature; what the handlers saw is in c.seen. */
async function featureClient(transport, { caps, strict = false } = {}) {
  const { Client } = await sdk('client/index.js');
  const types = await sdk('types.js');
  const capabilities = caps ?? {
    sampling: {}, elicitation: { form: {}, url: {} }, roots: { listChanged: true },
  };
  const c = new Client({ name: 'corral-features-test', version: '1.0.0' },
    { capabilities, enforceStrictCapabilities: strict });
  c.seen = { sampling: [], elicitation: [], roots: 0 };
  if (capabilities.sampling) {
    c.setRequestHandler(types.CreateMessageRequestSchema, async (req) => {
      c.seen.sampling.push(req.params);
      if (c.samplingDelay) await new Promise((r) => setTimeout(r, c.samplingDelay));
      return {
        role: 'assistant', model: 'corral-test-model',
        content: { type: 'text', text: `sampled by ${c.tag ?? 'client'}` },
      };
    });
  }
  if (capabilities.elicitation) {
    c.setRequestHandler(types.ElicitRequestSchema, async (req) => {
      c.seen.elicitation.push(req.params);
      return { action: 'accept', content: { name: 'Corral Tester', check: true } };
    });
  }
  if (capabilities.roots) {
    c.setRequestHandler(types.ListRootsRequestSchema, async () => {
      c.seen.roots++;
      return { roots: [{ uri: ROOT_URI, name: 'test root' }] };
    });
  }
  await withTimeout(c.connect(transport), 30000, 'SDK connect');
  return c;
}

const text = (res) => (res.content ?? []).filter((x) => x.type === 'text').map((x) => x.text).join('\n');

async function transportFor(kind, root, base) {
  if (kind === 'stdio') {
    const { StdioClientTransport } = await sdk('client/stdio.js');
    return new StdioClientTransport({
      command: CORRAL, args: ['--root', root, 'serve', '--stdio'], env: corralEnv(), stderr: 'pipe',
    });
  }
  if (kind === 'socket') return new SocketTransport(socketPath(root));
  if (kind === 'http') {
    const { StreamableHTTPClientTransport } = await sdk('client/streamableHttp.js');
    return new StreamableHTTPClientTransport(new URL(`${base}/mcp`));
  }
  if (kind === 'http-scoped') {
    const { StreamableHTTPClientTransport } = await sdk('client/streamableHttp.js');
    return new StreamableHTTPClientTransport(new URL(`${base}/servers/everything/mcp`));
  }
  const { StdioClientTransport } = await sdk('client/stdio.js');
  return new StdioClientTransport({ command: process.execPath, args: [EVERYTHING, 'stdio'],
    stderr: 'pipe' });
}

describe('server-to-client requests through the gateway', { timeout: 600000 }, () => {
  let root;
  let daemon;
  let base;
  let direct;

  before(async () => {
    root = newRoot('features');
    await installFixture(root, 'everything');
    expectExit(await corral(['install', emptyPkg(root, 'asking'), '--name', 'asking', '--yes', '--',
      process.execPath, ASKING], { root }), 0, 'install asking-server');
    // A 2026-07-28 server (the SDK v2) that refuses initialize: only a
    // server/discover probe and per-request _meta get it ready.
    const modernPkg = emptyPkg(root, 'modern');
    fs.copyFileSync(MODERN, path.join(modernPkg, 'modern-server.mjs'));
    fs.cpSync(SDK2, path.join(modernPkg, 'node_modules'), { recursive: true });
    expectExit(await corral(['install', modernPkg, '--name', 'modern', '--yes', '--',
      process.execPath, 'modern-server.mjs', '--modern-only'], { root }), 0, 'install modern-server');
    fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
    fs.writeFileSync(path.join(root, 'etc/corral.json'), JSON.stringify({ http: { level: 'trusted' } }));
    daemon = await startDaemon(root, { args: ['--http', '127.0.0.1:0'],
      env: { CORRAL_REQUEST_TIMEOUT_MS: '20000' } });
    await waitReady(root, ['everything', 'asking', 'modern']);
    base = daemon.httpBase();
    direct = await featureClient(await transportFor('direct'));
  });

  after(async () => {
    if (direct) await direct.close();
    if (daemon) await daemon.kill();
    cleanupRoot(root);
  });

  for (const kind of ['stdio', 'socket', 'http', 'http-scoped']) {
    describe(`through ${kind}`, () => {
      const scoped = kind === 'http-scoped';
      const name = (t) => (scoped ? t : `everything__${t}`);
      let c;

      before(async () => { c = await featureClient(await transportFor(kind, root, base)); c.tag = kind; });
      after(async () => { if (c) await c.close(); });

      test('capabilities and instructions are passed on', async () => {
        const caps = c.getServerCapabilities();
        assert.equal(caps.resources?.subscribe, true, JSON.stringify(caps));
        assert.equal(caps.tools?.listChanged, true);
        const ins = c.getInstructions() ?? '';
        const own = direct.getInstructions() ?? '';
        assert.ok(own.length > 0, 'server-everything gives instructions');
        assert.ok(ins.includes(own.slice(0, 60)), `instructions lack the server's: ${ins.slice(0, 200)}`);
        if (!scoped) assert.match(ins, /## everything/);
      });

      test('the conditional tools appear as they do on the server alone', async () => {
        const mine = (await c.listTools()).tools.map((t) => t.name)
          .filter((n) => scoped || n.startsWith('everything__'));
        const alone = (await direct.listTools()).tools.map((t) => t.name);
        for (const t of CONDITIONAL) {
          assert.ok(alone.includes(t), `${t} missing on the server alone`);
          assert.ok(mine.includes(name(t)), `${name(t)} missing through ${kind}: ${mine}`);
        }
        const stripped = mine.map((n) => n.replace(/^everything__/, '')).sort();
        assert.deepEqual(stripped, [...alone].sort());
      });

      test('sampling reaches this client and its answer the server', async () => {
        const before0 = c.seen.sampling.length;
        const res = await c.callTool({ name: name('trigger-sampling-request'),
          arguments: { prompt: 'hello sampling', maxTokens: 7 } });
        assert.notEqual(res.isError, true, text(res));
        assert.equal(c.seen.sampling.length, before0 + 1);
        const got = c.seen.sampling.at(-1);
        assert.equal(got.maxTokens, 7);
        assert.match(JSON.stringify(got.messages), /hello sampling/);
        assert.match(text(res), new RegExp(`sampled by ${kind}`));
        const alone = await direct.callTool({ name: 'trigger-sampling-request',
          arguments: { prompt: 'hello sampling', maxTokens: 7 } });
        assert.equal(text(res).replace(kind, 'client'), text(alone));
      });

      test('elicitation (form) reaches this client', async () => {
        const n = c.seen.elicitation.length;
        const res = await c.callTool({ name: name('trigger-elicitation-request'), arguments: {} });
        assert.notEqual(res.isError, true, text(res));
        assert.equal(c.seen.elicitation.length, n + 1);
        assert.ok(c.seen.elicitation.at(-1).requestedSchema, 'a form schema was passed');
        assert.match(text(res), /Corral Tester/);
      });

      test("roots/list is answered with this client's roots", async () => {
        const res = await c.callTool({ name: name('get-roots-list'), arguments: {} });
        assert.notEqual(res.isError, true, text(res));
        assert.ok(c.seen.roots >= 1, 'the roots callback was called');
        assert.match(text(res), new RegExp(ROOT_URI));
      });

      test('error shapes: unknown tool has no internal data, bad arguments are -32602', async () => {
        const { McpError } = await sdk('types.js');
        const unknown = c.request({ method: 'tools/call',
          params: { name: name('no-such-tool'), arguments: {} } },
        (await sdk('types.js')).CallToolResultSchema);
        if (scoped) {
          // /servers/NAME/mcp is the server: it answers names it does not list.
          const res = await unknown;
          assert.equal(res.isError, true, JSON.stringify(res));
        } else {
          await assert.rejects(unknown, (e) => {
            assert.ok(e instanceof McpError);
            assert.equal(e.code, -32602);
            assert.equal(e.data?.exit, undefined, JSON.stringify(e.data));
            return true;
          });
        }
        await assert.rejects(c.request({ method: 'tools/call',
          params: { name: name('echo'), arguments: ['not', 'an', 'object'] } },
        (await sdk('types.js')).CallToolResultSchema), (e) => e.code === -32602);
      });
    });
  }

  test('corral info says roots outside the binds are not reachable', async () => {
    const r = await corral(['info', 'everything'], { root });
    expectExit(r, 0, 'info everything');
    assert.match(r.stdout, /^roots: +clients' roots are passed on as given; paths outside the mounts above are not reachable/m);
  });

  for (const kind of ['socket', 'stdio', 'http']) {
    test(`a strict-capability client subscribes through ${kind}`, async () => {
      const c = await featureClient(await transportFor(kind, root, base), { strict: true });
      try {
        const res = await c.subscribeResource({ uri: 'demo://resource/static/document/architecture.md' });
        assert.deepEqual(res, {});
        await c.unsubscribeResource({ uri: 'demo://resource/static/document/architecture.md' });
      } finally {
        await c.close();
      }
    });
  }

  test('subscriptions are re-sent after a server restarts', async () => {
    const types = await sdk('types.js');
    const URI = 'demo://resource/static/document/architecture.md';
    const c = await featureClient(await transportFor('socket', root), { strict: true });
    const updates = [];
    c.setNotificationHandler(types.ResourceUpdatedNotificationSchema, (n) => updates.push(n.params.uri));
    // server-everything's toggle-subscriber-updates sends updates for what
    // its session subscribed to: at once, then every 5 s, until toggled off.
    const toggle = () => c.callTool({ name: 'everything__toggle-subscriber-updates', arguments: {} });
    try {
      await c.subscribeResource({ uri: URI });
      await toggle();
      await waitFor(() => updates.length > 0, { timeout: 15000, what: 'an update before the restart' });
      await toggle();
      expectExit(await corral(['restart', 'everything'], { root }), 0, 'restart everything');
      await waitReady(root, ['everything']);
      updates.length = 0;
      await toggle();
      await waitFor(() => updates.length > 0, { timeout: 20000, what: 'an update after the restart' });
      assert.deepEqual([...new Set(updates)], [URI]);
      await toggle();
      await c.unsubscribeResource({ uri: URI });
    } finally {
      await c.close();
    }
  });

  for (const kind of ['stdio', 'socket']) {
    test(`tasks through ${kind}: server-everything's task tool, SERVER__ID ids`, async () => {
      const types = await sdk('types.js');
      const c = await featureClient(await transportFor(kind, root, base));
      try {
        const created = await c.request({ method: 'tools/call', params: {
          name: 'everything__simulate-research-query', arguments: { topic: kind }, task: { ttl: 60000 } } },
        types.CreateTaskResultSchema);
        const taskId = created.task.taskId;
        assert.match(taskId, /^everything__./);
        let status;
        for (let i = 0; i < 200; i++) {
          status = await c.request({ method: 'tasks/get', params: { taskId } }, types.GetTaskResultSchema);
          if (status.status === 'completed' || status.status === 'failed') break;
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.equal(status.status, 'completed', JSON.stringify(status));
        const res = await c.request({ method: 'tasks/result', params: { taskId } }, types.CallToolResultSchema);
        assert.match(text(res), new RegExp(`Research Report: ${kind}`));
      } finally {
        await c.close();
      }
    });
  }

  test('two clients calling at once each get their own sampling request', async () => {
    const a = await featureClient(await transportFor('socket', root));
    const b = await featureClient(await transportFor('stdio', root));
    a.tag = 'A'; b.tag = 'B';
    a.samplingDelay = 300; b.samplingDelay = 300;
    try {
      const [ra, rb] = await Promise.all([
        a.callTool({ name: 'everything__trigger-sampling-request', arguments: { prompt: 'from A' } }),
        b.callTool({ name: 'everything__trigger-sampling-request', arguments: { prompt: 'from B' } }),
      ]);
      // Over stdio a server's request names no call: each client gets one
      // request, but which one is the server's order (README, architecture).
      assert.equal(a.seen.sampling.length, 1, 'A got one sampling request');
      assert.equal(b.seen.sampling.length, 1, 'B got one sampling request');
      const prompts = [...a.seen.sampling, ...b.seen.sampling]
        .map((p) => p.messages[0].content.text.replace(/.*context: /, '')).sort();
      assert.deepEqual(prompts, ['from A', 'from B']);
      const answers = [text(ra), text(rb)].map((t) => t.match(/sampled by (A|B)/)?.[1]).sort();
      assert.deepEqual(answers, ['A', 'B']);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('two calls in flight: the k-th sampling request goes to the k-th call, roots between', async () => {
    // asking-server holds both calls, asks roots/list for each, then
    // sampling for each, in the order it read the calls: each client must
    // get the sampling request made for its own call.
    const a = await featureClient(await transportFor('socket', root));
    const b = await featureClient(await transportFor('stdio', root));
    a.tag = 'A'; b.tag = 'B';
    try {
      const [ra, rb] = await withTimeout(Promise.all([
        a.callTool({ name: 'asking__pair', arguments: { tag: 'from A' } }),
        b.callTool({ name: 'asking__pair', arguments: { tag: 'from B' } }),
      ]), 30000, 'the paired calls');
      const prompts = (c) => c.seen.sampling.map((p) => p.messages[0].content.text);
      assert.deepEqual(prompts(a), ['context: from A']);
      assert.deepEqual(prompts(b), ['context: from B']);
      assert.equal(text(ra), 'from A: sampled by A');
      assert.equal(text(rb), 'from B: sampled by B');
      // (server-everything asks each client's roots as it connects, too.)
      assert.ok(a.seen.roots >= 1, 'A answered roots/list');
      assert.ok(b.seen.roots >= 1, 'B answered roots/list');
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('a client without sampling gets an error, not a hang', async () => {
    const c = await featureClient(await transportFor('socket', root), { caps: { roots: {} } });
    try {
      const res = await withTimeout(c.callTool({ name: 'everything__trigger-sampling-request',
        arguments: { prompt: 'nobody samples' } }).catch((e) => ({ isError: true, content: [{ type: 'text', text: e.message }] })),
      15000, 'the call to fail');
      assert.equal(res.isError, true);
      assert.match(text(res), /does not support sampling|Method not found/i);
    } finally {
      await c.close();
    }
  });

  test('a client that never answers: the server gets an error within the timeout', async () => {
    const { Client } = await sdk('client/index.js');
    const types = await sdk('types.js');
    const c = new Client({ name: 'silent', version: '1' }, { capabilities: { sampling: {} } });
    let cancelled = false;
    c.setRequestHandler(types.CreateMessageRequestSchema, (req, extra) => new Promise((_, reject) => {
      extra.signal.addEventListener('abort', () => { cancelled = true; reject(new Error('aborted')); });
    }));
    await c.connect(await transportFor('socket', root));
    try {
      const t0 = Date.now();
      // The call itself may take longer than the gateway's 20 s for requests.
      const res = await c.callTool({ name: 'everything__trigger-sampling-request',
        arguments: { prompt: 'silence' }, _meta: { 'corral/timeoutMs': 50000 } }, undefined,
      { timeout: 60000 })
        .catch((e) => ({ isError: true, content: [{ type: 'text', text: e.message }] }));
      assert.equal(res.isError, true, text(res));
      assert.ok(Date.now() - t0 < 45000, 'answered within the gateway timeout');
      assert.ok(cancelled, 'the client was told the request was cancelled');
      assert.match(text(res), /did not answer within 20000 ms/);
    } finally {
      await c.close();
    }
  });

  test("a client's cancelled call cancels the server's request to it", async () => {
    const { Client } = await sdk('client/index.js');
    const types = await sdk('types.js');
    const c = new Client({ name: 'canceller', version: '1' }, { capabilities: { sampling: {} } });
    let asked;
    const aborted = new Promise((resolve) => {
      c.setRequestHandler(types.CreateMessageRequestSchema, (req, extra) => new Promise((_, reject) => {
        asked?.();
        extra.signal.addEventListener('abort', () => { resolve(true); reject(new Error('aborted')); });
      }));
    });
    const sent = new Promise((resolve) => { asked = resolve; });
    await c.connect(await transportFor('socket', root));
    try {
      const ac = new AbortController();
      const call = c.callTool({ name: 'everything__trigger-sampling-request',
        arguments: { prompt: 'cancel me' } }, undefined, { signal: ac.signal }).catch((e) => e);
      await withTimeout(sent, 15000, 'the sampling request to reach the client');
      ac.abort('changed my mind');
      await call;
      assert.equal(await withTimeout(aborted, 15000, "the server's cancellation to reach the client"),
        true);
    } finally {
      await c.close();
    }
  });

  test('tasks on the aggregate /mcp: task ids are SERVER__ID, tasks/list walks the servers', async () => {
    const types = await sdk('types.js');
    const c = await featureClient(await transportFor('http', root, base));
    const statuses = [];
    c.setNotificationHandler(types.TaskStatusNotificationSchema, (n) => statuses.push(n.params));
    try {
      assert.ok(c.getServerCapabilities().tasks?.requests?.tools?.call, JSON.stringify(c.getServerCapabilities()));
      const created = await c.request({ method: 'tools/call', params: {
        name: 'everything__simulate-research-query', arguments: { topic: 'corral' }, task: { ttl: 60000 } } },
      types.CreateTaskResultSchema);
      const taskId = created.task.taskId;
      assert.match(taskId, /^everything__./);
      let status;
      for (let i = 0; i < 200; i++) {
        status = await c.request({ method: 'tasks/get', params: { taskId } }, types.GetTaskResultSchema);
        if (status.status === 'completed' || status.status === 'failed') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(status.status, 'completed', JSON.stringify(status));
      assert.equal(status.taskId, taskId);
      // The server's notifications/tasks/status carry the namespaced id.
      await waitFor(() => statuses.some((n) => n.status === 'completed'),
        { timeout: 15000, what: 'notifications/tasks/status (completed)' });
      assert.ok(statuses.every((n) => n.taskId === taskId), JSON.stringify(statuses));
      const res = await c.request({ method: 'tasks/result', params: { taskId } }, types.CallToolResultSchema);
      assert.match(text(res), /Research Report: corral/);
      const related = res._meta?.['io.modelcontextprotocol/related-task'];
      if (related) assert.equal(related.taskId, taskId);
      const seen = [];
      let cursor;
      for (let i = 0; i < 20; i++) {
        const page = await c.request({ method: 'tasks/list', params: cursor ? { cursor } : {} },
          types.ListTasksResultSchema);
        seen.push(...page.tasks.map((t) => t.taskId));
        cursor = page.nextCursor;
        if (!cursor) break;
      }
      assert.ok(seen.includes(taskId), `tasks/list: ${seen}`);
      assert.ok(seen.every((t) => t.startsWith('everything__')), String(seen));
      await assert.rejects(c.request({ method: 'tasks/get', params: { taskId: 'nosuch__1' } },
        types.GetTaskResultSchema), /-32602|unknown task/);
    } finally {
      await c.close();
    }
  });

  test('tasks on /servers/NAME/mcp: the server\'s task tool runs as a task', async () => {
    const types = await sdk('types.js');
    const c = await featureClient(await transportFor('http-scoped', root, base));
    try {
      assert.ok(c.getServerCapabilities().tasks, 'the tasks capability is passed on');
      const created = await c.request({ method: 'tools/call', params: {
        name: 'simulate-research-query', arguments: { topic: 'corral' }, task: { ttl: 60000 } } },
      types.CreateTaskResultSchema);
      const taskId = created.task.taskId;
      assert.ok(taskId);
      let status;
      for (let i = 0; i < 200; i++) {
        status = await c.request({ method: 'tasks/get', params: { taskId } }, types.GetTaskResultSchema);
        if (status.status === 'completed' || status.status === 'failed') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(status.status, 'completed', JSON.stringify(status));
      const res = await c.request({ method: 'tasks/result', params: { taskId } },
        types.CallToolResultSchema);
      assert.match(text(res), /Research Report: corral/);
    } finally {
      await c.close();
    }
  });

  /* A 2026-07-28 client on one entry point: ask(msg) sends a request and
   * resolves with its answer; notes holds the notifications seen. */
  async function modernClient(kind) {
    const notes = [];
    if (kind === 'http') {
      return {
        notes,
        async ask(msg, headers = {}) {
          const p = msg.params ?? {};
          const name = p.name ?? p.uri;
          const h = { 'content-type': 'application/json', accept: 'application/json, text/event-stream',
            'mcp-protocol-version': p._meta?.['io.modelcontextprotocol/protocolVersion'] ?? '2026-07-28',
            'mcp-method': msg.method,
            ...(name ? { 'mcp-name': name } : {}), ...headers };
          const r = await fetch(`${base}/mcp`, { method: 'POST', headers: h,
            body: JSON.stringify({ jsonrpc: '2.0', ...msg }) });
          const body = await r.text();
          const lines = r.headers.get('content-type')?.includes('text/event-stream')
            ? body.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)))
            : [JSON.parse(body)];
          for (const l of lines) if (l.method) notes.push(l);
          return Object.assign(lines.find((l) => l.id === msg.id), { status: r.status });
        },
        async close() {},
      };
    }
    const t = await transportFor(kind, root, base);
    const waiting = new Map();
    t.onmessage = (m) => {
      if (m.id !== undefined && waiting.has(m.id)) waiting.get(m.id)(m);
      else notes.push(m);
    };
    await t.start();
    return {
      notes,
      ask(msg) {
        const p = new Promise((resolve) => waiting.set(msg.id, resolve));
        t.send({ jsonrpc: '2.0', ...msg });
        return withTimeout(p, 20000, `an answer to ${msg.method} on ${kind}`);
      },
      send(msg) { return t.send({ jsonrpc: '2.0', ...msg }); },
      close: () => t.close(),
    };
  }
  const meta26 = (caps = {}) => ({ 'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientCapabilities': caps,
    'io.modelcontextprotocol/clientInfo': { name: 'corral-2026-test', version: '1' } });

  for (const kind of ['socket', 'stdio', 'http']) {
    test(`MCP 2026-07-28 per request through ${kind}: discover, resultType, MRTR from a 2025 server`, async () => {
      const c = await modernClient(kind);
      try {
        const d = await c.ask({ id: 'd1', method: 'server/discover', params: { _meta: meta26() } });
        assert.ok(d.result, JSON.stringify(d));
        assert.deepEqual(d.result.supportedVersions.slice(0, 2), ['2026-07-28', '2025-11-25']);
        assert.ok(d.result.capabilities.tools, JSON.stringify(d.result.capabilities));
        assert.equal(d.result.resultType, 'complete');
        assert.equal(d.result._meta['io.modelcontextprotocol/serverInfo'].name, 'corral');
        assert.match(d.result.instructions, /## everything/);

        const l = await c.ask({ id: 2, method: 'tools/list', params: { _meta: meta26() } });
        assert.equal(l.result.resultType, 'complete');
        assert.equal(l.result.ttlMs, 0);
        assert.equal(l.result.cacheScope, 'private');
        assert.ok(l.result.tools.some((t) => t.name === 'everything__trigger-sampling-request'));

        const old = await c.ask({ id: 3, method: 'tools/list',
          params: { _meta: { ...meta26(), 'io.modelcontextprotocol/protocolVersion': '2099-01-01' } } });
        assert.equal(old.error?.code, -32022, JSON.stringify(old));
        assert.equal(old.error.data.requested, '2099-01-01');
        assert.ok(old.error.data.supported.includes('2026-07-28'));
        const ping = await c.ask({ id: 4, method: 'ping', params: { _meta: meta26() } });
        assert.equal(ping.error?.code, -32601, JSON.stringify(ping));
        const bare = await c.ask({ id: 5, method: 'server/discover', params: {} });
        assert.equal(bare.error?.code, -32602, JSON.stringify(bare));
        if (kind === 'http') {
          assert.equal(ping.status, 404);
          assert.equal(bare.status, 400);
          assert.equal(old.status, 400);
        }

        // server-everything (2025-11-25) asks for sampling during the call:
        // the 2026 client gets input_required and answers on a retry.
        const name = 'everything__trigger-sampling-request';
        const args = { prompt: `from 2026 over ${kind}` };
        const first = await c.ask({ id: 6, method: 'tools/call',
          params: { name, arguments: args, _meta: meta26({ sampling: {} }) } });
        assert.equal(first.result?.resultType, 'input_required', JSON.stringify(first));
        const [key, req] = Object.entries(first.result.inputRequests)[0];
        assert.equal(req.method, 'sampling/createMessage');
        assert.match(JSON.stringify(req.params.messages), new RegExp(`from 2026 over ${kind}`));
        assert.equal(typeof first.result.requestState, 'string');

        const forged = await c.ask({ id: 7, method: 'tools/call', params: { name, arguments: args,
          requestState: `${first.result.requestState.slice(0, -4)}ffff`, inputResponses: {},
          _meta: meta26({ sampling: {} }) } });
        assert.equal(forged.error?.code, -32602, JSON.stringify(forged));

        const done = await c.ask({ id: 8, method: 'tools/call', params: { name, arguments: args,
          requestState: first.result.requestState,
          inputResponses: { [key]: { role: 'assistant', model: 'm',
            content: { type: 'text', text: `sampled by the 2026 client on ${kind}` } } },
          _meta: meta26({ sampling: {} }) } });
        assert.equal(done.result?.resultType, 'complete', JSON.stringify(done));
        assert.match(done.result.content[0].text, new RegExp(`sampled by the 2026 client on ${kind}`));

        // Without the capability: MissingRequiredClientCapability.
        const nocap = await c.ask({ id: 9, method: 'tools/call',
          params: { name, arguments: args, _meta: meta26() } });
        assert.equal(nocap.error?.code, -32021, JSON.stringify(nocap));
        assert.deepEqual(nocap.error.data.requiredCapabilities, { sampling: {} });
        if (kind === 'http') assert.equal(nocap.status, 400);

        if (kind === 'socket') {
          const e1 = await c.ask({ id: 10, method: 'tools/call', params: {
            name: 'everything__trigger-elicitation-request', arguments: {},
            _meta: meta26({ elicitation: { form: {} } }) } });
          const [ek, er] = Object.entries(e1.result.inputRequests)[0];
          assert.equal(er.method, 'elicitation/create');
          const e2 = await c.ask({ id: 11, method: 'tools/call', params: {
            name: 'everything__trigger-elicitation-request', arguments: {},
            requestState: e1.result.requestState,
            inputResponses: { [ek]: { action: 'accept', content: { name: 'Modern Tester', check: true } } },
            _meta: meta26({ elicitation: { form: {} } }) } });
          assert.match(JSON.stringify(e2.result), /Modern Tester/);
        }
      } finally {
        await c.close();
      }
    });
  }

  test('MCP 2026-07-28 on HTTP: Mcp-Method/Mcp-Name checked, GET and DELETE 405, no session', async () => {
    const c = await modernClient('http');
    const wrongMethod = await c.ask({ id: 1, method: 'tools/list', params: { _meta: meta26() } },
      { 'mcp-method': 'prompts/list' });
    assert.equal(wrongMethod.status, 400);
    assert.equal(wrongMethod.error.code, -32020);
    const wrongName = await c.ask({ id: 2, method: 'tools/call',
      params: { name: 'everything__echo', arguments: { message: 'x' }, _meta: meta26() } },
    { 'mcp-name': 'everything__add' });
    assert.equal(wrongName.error.code, -32020);
    const b64 = await c.ask({ id: 3, method: 'tools/call',
      params: { name: 'everything__echo', arguments: { message: 'x' }, _meta: meta26() } },
    { 'mcp-name': `=?base64?${Buffer.from('everything__echo').toString('base64')}?=` });
    assert.equal(b64.result?.content?.[0]?.text, 'Echo: x', JSON.stringify(b64));
    const versionMismatch = await c.ask({ id: 4, method: 'tools/list',
      params: { _meta: { ...meta26(), 'io.modelcontextprotocol/protocolVersion': '2099-01-01' } } },
    { 'mcp-protocol-version': '2026-07-28' });
    assert.equal(versionMismatch.error.code, -32020);
    for (const method of ['GET', 'DELETE']) {
      const r = await fetch(`${base}/mcp`, { method, headers: { 'mcp-protocol-version': '2026-07-28' } });
      assert.equal(r.status, 405, method);
    }
    const r = await fetch(`${base}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json',
      accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'tools/list' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/list', params: { _meta: meta26() } }) });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('mcp-session-id'), null);
  });

  test('MCP 2026-07-28 tasks extension: a 2025 server\'s task tool as resultType task, tasks/get, notifications/tasks', async () => {
    const EXT = 'io.modelcontextprotocol/tasks';
    const ext = meta26({ extensions: { [EXT]: {} } });
    const c = await modernClient('socket');
    try {
      const d = await c.ask({ id: 1, method: 'server/discover', params: { _meta: meta26() } });
      assert.deepEqual(d.result.capabilities.extensions?.[EXT], {}, JSON.stringify(d.result.capabilities));
      assert.equal(d.result.capabilities.tasks, undefined);
      // Without the extension a taskSupport "required" tool is -32021.
      const no = await c.ask({ id: 2, method: 'tools/call', params: {
        name: 'everything__simulate-research-query', arguments: { topic: 'corral' }, _meta: meta26() } });
      assert.equal(no.error?.code, -32021, JSON.stringify(no));
      assert.deepEqual(no.error.data.requiredCapabilities, { extensions: { [EXT]: {} } });
      const created = await c.ask({ id: 3, method: 'tools/call', params: {
        name: 'everything__simulate-research-query', arguments: { topic: 'corral' }, _meta: ext } });
      const r = created.result;
      assert.equal(r?.resultType, 'task', JSON.stringify(created));
      assert.match(r.taskId, /^everything__./);
      assert.equal(r.ttlMs, 300000);
      assert.equal(r.pollIntervalMs, 1000);
      assert.equal(r.task, undefined, 'the task is inline');
      c.send({ id: 'T', method: 'subscriptions/listen',
        params: { notifications: { taskIds: [r.taskId] }, _meta: ext } });
      await waitFor(() => c.notes.some((n) => n.method === 'notifications/subscriptions/acknowledged'),
        { timeout: 15000, what: 'the acknowledgement' });
      assert.deepEqual(c.notes.find((n) => n.method === 'notifications/subscriptions/acknowledged')
        .params.notifications, { taskIds: [r.taskId] });
      let got;
      for (let i = 0; i < 300; i++) {
        got = (await c.ask({ id: 10 + i, method: 'tasks/get', params: { taskId: r.taskId, _meta: ext } })).result;
        if (got?.status !== 'working') break;
        await new Promise((res) => setTimeout(res, 100));
      }
      assert.equal(got.status, 'completed', JSON.stringify(got));
      assert.equal(got.resultType, 'complete');
      assert.equal(got.taskId, r.taskId);
      assert.match(got.result.content[0].text, /Research Report: corral/);
      await waitFor(() => c.notes.some((n) => n.method === 'notifications/tasks' && n.params.status === 'completed'),
        { timeout: 15000, what: 'notifications/tasks (completed)' });
      const done = c.notes.find((n) => n.method === 'notifications/tasks' && n.params.status === 'completed');
      assert.equal(done.params.taskId, r.taskId);
      assert.equal(done.params._meta['io.modelcontextprotocol/subscriptionId'], 'T');
      assert.match(done.params.result.content[0].text, /Research Report: corral/);
      const upd = await c.ask({ id: 400, method: 'tasks/update',
        params: { taskId: r.taskId, inputResponses: { nosuch: {} }, _meta: ext } });
      assert.deepEqual(upd.result, { resultType: 'complete', _meta: upd.result._meta }, JSON.stringify(upd));
      const noext = await c.ask({ id: 401, method: 'tasks/get', params: { taskId: r.taskId, _meta: meta26() } });
      assert.equal(noext.error?.code, -32021, JSON.stringify(noext));
      const unknown = await c.ask({ id: 402, method: 'tasks/get', params: { taskId: 'everything__nosuch', _meta: ext } });
      assert.equal(unknown.error?.code, -32602, JSON.stringify(unknown));
      // Input the server asks for during a task: inputRequests, answered by tasks/update.
      const t3 = (await c.ask({ id: 500, method: 'tools/call', params: {
        name: 'everything__simulate-research-query', arguments: { topic: 'python', ambiguous: true },
        _meta: ext } })).result;
      assert.equal(t3?.resultType, 'task', JSON.stringify(t3));
      let asked;
      for (let i = 0; i < 300 && !asked; i++) {
        const g = (await c.ask({ id: 501 + i, method: 'tasks/get', params: { taskId: t3.taskId, _meta: ext } })).result;
        assert.notEqual(g.status, 'completed', `completed without asking: ${JSON.stringify(g)}`);
        if (g.status === 'input_required' && Object.keys(g.inputRequests ?? {}).length) asked = g;
        else await new Promise((res) => setTimeout(res, 100));
      }
      assert.ok(asked, 'the task asked for input');
      const [key, req] = Object.entries(asked.inputRequests)[0];
      assert.equal(req.method, 'elicitation/create');
      assert.match(req.params.message, /python/);
      assert.equal(req.params._meta?.['io.modelcontextprotocol/related-task'], undefined);
      const up = await c.ask({ id: 900, method: 'tasks/update', params: { taskId: t3.taskId,
        inputResponses: { [key]: { action: 'accept', content: { interpretation: 'snake' } } }, _meta: ext } });
      assert.equal(up.result?.resultType, 'complete', JSON.stringify(up));
      let fin;
      for (let i = 0; i < 300; i++) {
        fin = (await c.ask({ id: 901 + i, method: 'tasks/get', params: { taskId: t3.taskId, _meta: ext } })).result;
        if (fin.status === 'completed' || fin.status === 'failed') break;
        await new Promise((res) => setTimeout(res, 100));
      }
      assert.equal(fin.status, 'completed', JSON.stringify(fin));
      assert.match(fin.result.content[0].text, /Clarification\*\*: snake/);
      // tasks/cancel of a running task: acknowledged empty, then cancelled.
      const t2 = (await c.ask({ id: 403, method: 'tools/call', params: {
        name: 'everything__simulate-research-query', arguments: { topic: 'x' }, _meta: ext } })).result;
      const cancel = await c.ask({ id: 404, method: 'tasks/cancel', params: { taskId: t2.taskId, _meta: ext } });
      assert.equal(cancel.result?.resultType, 'complete', JSON.stringify(cancel));
      assert.equal(cancel.result.taskId, undefined);
      const after = (await c.ask({ id: 405, method: 'tasks/get', params: { taskId: t2.taskId, _meta: ext } })).result;
      assert.equal(after.status, 'cancelled', JSON.stringify(after));
    } finally {
      await c.close();
    }
  });
  test('MCP 2026-07-28 subscriptions/listen: acknowledged first, list changes tagged', async () => {
    const c = await modernClient('socket');
    try {
      c.send({ id: 'listen-1', method: 'subscriptions/listen',
        params: { notifications: { toolsListChanged: true }, _meta: meta26() } });
      await waitFor(() => c.notes.length > 0, { timeout: 15000, what: 'the acknowledgement' });
      assert.equal(c.notes[0].method, 'notifications/subscriptions/acknowledged');
      assert.equal(c.notes[0].params._meta['io.modelcontextprotocol/subscriptionId'], 'listen-1');
      assert.deepEqual(c.notes[0].params.notifications, { toolsListChanged: true });
      expectExit(await corral(['restart', 'asking'], { root }), 0, 'restart asking');
      await waitFor(() => c.notes.some((n) => n.method === 'notifications/tools/list_changed'),
        { timeout: 30000, what: 'tools/list_changed on the listen stream' });
      for (const n of c.notes.slice(1)) {
        assert.equal(n.params?._meta?.['io.modelcontextprotocol/subscriptionId'], 'listen-1', JSON.stringify(n));
        assert.ok(n.method !== 'notifications/prompts/list_changed', 'only what the filter asked');
      }
      await waitReady(root, ['asking']);
    } finally {
      await c.close();
    }
  });
  test('a 2026-07-28 server: found by server/discover, spoken to per request', async () => {
    const st = await corral(['status', '--json'], { root });
    const units = JSON.parse(st.stdout);
    const unit = (Array.isArray(units) ? units : units.units ?? units.servers ?? [])
      .find((x) => x.name === 'modern');
    assert.equal(unit?.protocol_version, '2026-07-28', st.stdout);
    // A 2025 client: the server sees 2026-07-28 and this client's capabilities.
    const c = await featureClient(new SocketTransport(socketPath(root)), { caps: { sampling: {} } });
    try {
      const tools = (await c.listTools()).tools.map((t) => t.name);
      assert.ok(tools.includes('modern__echo') && tools.includes('modern__confirm'), String(tools));
      assert.match(c.getInstructions() ?? '', /## modern\n+A 2026-07-28 server for corral tests/);
      const r = await c.callTool({ name: 'modern__echo', arguments: { text: 'hi' } });
      assert.equal(text(r), 'echo: hi version=2026-07-28 caps=sampling');
      // A list change reaches corral on its subscriptions/listen stream.
      assert.equal(text(await c.callTool({ name: 'modern__grow', arguments: {} })), 'grew');
      await waitFor(async () => (await c.listTools()).tools.some((t) => t.name === 'modern__grown'),
        { timeout: 15000, what: 'modern__grown after the list change' });
    } finally {
      await c.close();
    }
    // A 2026 client: its own capabilities go upstream, and the server's
    // input_required and the retry pass through untouched.
    const m = await modernClient('socket');
    try {
      const e = await m.ask({ id: 1, method: 'tools/call',
        params: { name: 'modern__echo', arguments: { text: 'x' }, _meta: meta26({ elicitation: {} }) } });
      assert.equal(e.result?.content?.[0]?.text, 'echo: x version=2026-07-28 caps=elicitation', JSON.stringify(e));
      assert.equal(e.result.resultType, 'complete');
      const q = await m.ask({ id: 2, method: 'tools/call',
        params: { name: 'modern__confirm', arguments: {}, _meta: meta26({ elicitation: {} }) } });
      assert.equal(q.result?.resultType, 'input_required', JSON.stringify(q));
      assert.equal(q.result.requestState, 'confirm-1');
      assert.equal(q.result.inputRequests.ok.method, 'elicitation/create');
      const a = await m.ask({ id: 3, method: 'tools/call',
        params: { name: 'modern__confirm', arguments: {}, requestState: 'confirm-1',
          inputResponses: { ok: { action: 'accept', content: { yes: true } } }, _meta: meta26({ elicitation: {} }) } });
      assert.equal(a.result?.content?.[0]?.text, 'confirmed: {"yes":true} state=confirm-1', JSON.stringify(a));
    } finally {
      await m.close();
    }
  });
  test('resources/subscribe to a 2026-07-28 server: one listen stream upstream, updates to the subscribers', async () => {
    const types = await sdk('types.js');
    const URI = 'modern://counter';
    const OTHER = 'modern://other';
    const watch = (c) => {
      c.updates = [];
      c.setNotificationHandler(types.ResourceUpdatedNotificationSchema, (n) => c.updates.push(n.params));
    };
    const bump = async (c, which) => text(await c.callTool({ name: 'modern__bump', arguments: which ? { which } : {} }));
    const settle = () => new Promise((r) => setTimeout(r, 300));
    // A strict client refuses to subscribe unless resources.subscribe is declared.
    const a = await featureClient(await transportFor('socket', root), { strict: true });
    const b = await featureClient(await transportFor('http', root, base), { strict: true });
    const m = await modernClient('stdio');
    watch(a); watch(b);
    try {
      assert.equal(a.getServerCapabilities().resources?.subscribe, true);
      assert.deepEqual(await a.subscribeResource({ uri: URI }), {});
      await bump(a);
      await waitFor(() => a.updates.length === 1, { timeout: 15000, what: 'the first update' });
      assert.deepEqual(a.updates[0], { uri: URI }, 'no upstream subscription id leaks');
      // Another URI: a new stream upstream replaces the first; each update
      // still reaches each subscriber once.
      assert.deepEqual(await b.subscribeResource({ uri: OTHER }), {});
      m.send({ id: 'L1', method: 'subscriptions/listen',
        params: { notifications: { resourceSubscriptions: [URI] }, _meta: meta26() } });
      await waitFor(() => m.notes.some((n) => n.method === 'notifications/subscriptions/acknowledged'),
        { timeout: 15000, what: 'the acknowledgement' });
      assert.equal(await bump(b), 'counter=2');
      assert.equal(await bump(b, 'other'), 'other=1');
      await waitFor(() => b.updates.length === 1 && a.updates.length === 2 &&
        m.notes.some((n) => n.method === 'notifications/resources/updated'),
      { timeout: 15000, what: 'the second update on all three' });
      await settle();
      assert.deepEqual(a.updates, [{ uri: URI }, { uri: URI }], 'a: one copy of each update');
      assert.deepEqual(b.updates, [{ uri: OTHER }], 'b: only what it subscribed to');
      const upd = m.notes.filter((n) => n.method === 'notifications/resources/updated');
      assert.equal(upd.length, 1, JSON.stringify(upd));
      assert.equal(upd[0].params.uri, URI);
      assert.equal(upd[0].params._meta['io.modelcontextprotocol/subscriptionId'], 'L1');
      // a and the listen leave: the stream narrows to OTHER.
      await m.close();
      await a.unsubscribeResource({ uri: URI });
      await bump(b);
      await bump(b, 'other');
      await waitFor(() => b.updates.length === 2, { timeout: 15000, what: 'the third update' });
      await settle();
      assert.equal(a.updates.length, 2, `no update after unsubscribe: ${JSON.stringify(a.updates)}`);
      assert.deepEqual(b.updates, [{ uri: OTHER }, { uri: OTHER }]);
      // Subscriptions are re-sent after the unit restarts.
      expectExit(await corral(['restart', 'modern'], { root }), 0, 'restart modern');
      await waitReady(root, ['modern']);
      await waitFor(async () => { await bump(b, 'other'); return b.updates.length >= 3; },
        { timeout: 30000, interval: 500, what: 'an update after the restart' });
      await b.unsubscribeResource({ uri: OTHER });
    } finally {
      await a.close();
      await b.close();
      await m.close();
    }
  });
  for (const kind of ['socket', 'http']) {
    test(`a 2026-07-28 server's input_required reaches a 2025 client through ${kind} as requests`, async () => {
      const c = await featureClient(await transportFor(kind, root, base));
      c.tag = kind;
      try {
        const r = await c.callTool({ name: 'modern__confirm', arguments: {} });
        assert.equal(text(r), 'confirmed: {"name":"Corral Tester","check":true} state=confirm-1');
        assert.equal(c.seen.elicitation.length, 1);
        assert.equal(c.seen.elicitation[0].message, 'Confirm?');
        // Two rounds: sampling, then an elicitation that names the sample.
        const p = await c.callTool({ name: 'modern__pick', arguments: {} });
        assert.equal(text(p), `picked sampled by ${kind} then accept`);
        assert.equal(c.seen.sampling.length, 1);
        assert.equal(c.seen.elicitation[1].message, `Keep sampled by ${kind}?`);
      } finally {
        await c.close();
      }
    });
  }
  test('MCP 2026-07-28 on HTTP: Mcp-Param-* headers checked against x-mcp-header arguments', async () => {
    const m = await modernClient('http');
    const call = (args, headers) => m.ask({ id: 7, method: 'tools/call',
      params: { name: 'modern__where', arguments: args, _meta: meta26() } }, headers);
    const ok = await call({ region: 'eu', n: 3 }, { 'mcp-param-region': 'eu', 'mcp-param-n': '3' });
    assert.equal(ok.status, 200, JSON.stringify(ok));
    assert.equal(ok.result?.content?.[0]?.text, 'region=eu n=3');
    const b64 = await call({ region: 'Zürich' },
      { 'mcp-param-region': `=?base64?${Buffer.from('Zürich').toString('base64')}?=` });
    assert.equal(b64.result?.content?.[0]?.text, 'region=Zürich n=undefined', JSON.stringify(b64));
    for (const [args, headers, why] of [
      [{ region: 'eu' }, {}, 'missing header'],
      [{ region: 'eu' }, { 'mcp-param-region': 'us' }, 'other value'],
      [{ region: 'eu', n: 3 }, { 'mcp-param-region': 'eu', 'mcp-param-n': '4' }, 'other number'],
      [{ region: 'Hello' }, { 'mcp-param-region': '=?base64?SGVsbG8?=' }, 'bad base64 padding'],
      [{ region: 'eu' }, { 'mcp-param-region': 'eu', 'mcp-param-n': '1' }, 'header without argument'],
    ]) {
      const r = await call(args, headers);
      assert.equal(r.status, 400, `${why}: ${JSON.stringify(r)}`);
      assert.equal(r.error?.code, -32020, why);
    }
  });
  test('MCP 2026-07-28 logLevel: the unit\'s log messages reach the request that asked', async () => {
    const m = await modernClient('socket');
    try {
      const ask = async (id, level) => {
        const meta = level ? { ...meta26(), 'io.modelcontextprotocol/logLevel': level } : meta26();
        const r = await m.ask({ id, method: 'tools/call', params: { name: 'modern__chatty', arguments: {}, _meta: meta } });
        assert.equal(r.result?.content?.[0]?.text, 'chatted', JSON.stringify(r));
      };
      await ask('l1', 'info');
      const logs = () => m.notes.filter((n) => n.method === 'notifications/message');
      await waitFor(() => logs().length === 1, { timeout: 5000, what: 'the log message' });
      assert.equal(logs()[0].params.data, 'chatty says hi');
      assert.equal(logs()[0].params.logger, 'modern');
      await ask('l2', 'error'); // above info: nothing
      await ask('l3', undefined); // not asked: nothing
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(logs().length, 1, JSON.stringify(logs()));
    } finally {
      await m.close();
    }
  });
});
