// The main job on real servers: the npm packages @modelcontextprotocol/
// server-everything and server-memory installed into a temp store, run by the
// daemon, and used through both client entry points — the gateway unix socket
// and `corral serve --stdio` bridged to the daemon.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  MOCK_SERVER, McpClient, PROTOCOL_VERSION, cleanupRoot, corral, descendants, describePids, expectExit,
  installFixture, newRoot, pidAlive, processesUnder, resultText, sleep, socketPath, startDaemon,
  status, unitOf, waitFor, waitReady, waitStatus,
} from './lib.mjs';

const EXPECTED_TOOLS = ['everything__echo', 'everything__get-sum',
  'everything__trigger-long-running-operation', 'memory__create_entities', 'memory__read_graph'];

describe('gateway on a running daemon', { timeout: 600000 }, () => {
  let root;
  let daemon;

  before(async () => {
    root = newRoot('gw');
    await installFixture(root, 'everything');
    await installFixture(root, 'memory');
    daemon = await startDaemon(root);
    await waitReady(root, ['everything', 'memory']);
  });

  after(async () => {
    if (daemon) await daemon.kill();
    cleanupRoot(root);
  });

  for (const transport of ['gateway socket', 'serve --stdio bridge']) {
    describe(`through the ${transport}`, () => {
      let c;

      before(async () => {
        c = transport === 'gateway socket'
          ? await McpClient.connect(socketPath(root))
          : await McpClient.stdio(root);
      });

      after(async () => {
        if (c) await c.close();
      });

      test('initialize negotiates 2025-11-25 and offers tools', async () => {
        const res = await c.initialize();
        assert.equal(res.protocolVersion, PROTOCOL_VERSION);
        assert.ok(res.capabilities?.tools, `no tools capability: ${JSON.stringify(res.capabilities)}`);
        assert.ok(res.serverInfo?.name, 'serverInfo.name missing');
      });

      test('lists the tools of both servers, namespaced SERVER__NAME', async () => {
        const tools = await c.waitTools((n) => EXPECTED_TOOLS.every((t) => n.includes(t)),
          'every expected tool');
        // The gateway's own corral__* tools (management over MCP) aside.
        const names = tools.map((t) => t.name).filter((n) => !n.startsWith('corral__'));
        assert.equal(new Set(names).size, names.length, `duplicate tool names: ${names}`);
        for (const n of names) {
          assert.match(n, /^(everything|memory)__[^_]/, `tool ${n} is not namespaced by its server`);
        }
        // No tool leaks through under its bare name.
        assert.ok(!names.includes('echo'));
        const echo = tools.find((t) => t.name === 'everything__echo');
        assert.equal(echo.inputSchema?.type, 'object', 'inputSchema is passed through');
        assert.ok(echo.inputSchema.properties?.message, 'echo schema keeps its properties');
      });

      test('calls everything__echo', async () => {
        const msg = `hello through the ${transport}`;
        const res = await c.callTool('everything__echo', { message: msg });
        assert.equal(resultText(res), `Echo: ${msg}`);
        assert.notEqual(res.isError, true);
      });

      test('calls everything__get-sum and gets the sum', async () => {
        const res = await c.callTool('everything__get-sum', { a: 1234, b: 4321 });
        assert.match(resultText(res), /\b5555\b/);
      });

      test('memory__create_entities then memory__read_graph sees the entity', async () => {
        const entity = `corral-test-${transport.replace(/\W+/g, '-')}-${Date.now()}`;
        const created = await c.callTool('memory__create_entities', {
          entities: [{ name: entity, entityType: 'test', observations: ['made by corral'] }],
        });
        assert.notEqual(created.isError, true, resultText(created));
        const graph = await c.callTool('memory__read_graph', {});
        const text = resultText(graph) + JSON.stringify(graph.structuredContent ?? {});
        assert.ok(text.includes(entity), `entity ${entity} not in the graph: ${text.slice(0, 500)}`);
        // The graph lives in the server's data dir (--env MEMORY_FILE_PATH), not in its code.
        const file = path.join(root, 'data', 'memory', 'memory.jsonl');
        assert.ok(fs.readFileSync(file, 'utf8').includes(entity), `${file} lacks the entity`);
      });

      test('progress from everything__trigger-long-running-operation reaches the client', async () => {
        const seen = [];
        const { promise, progressToken } = c.start('tools/call', {
          name: 'everything__trigger-long-running-operation',
          arguments: { duration: 2, steps: 4 },
        }, { onProgress: (p) => seen.push(p), timeout: 30000 });
        const res = await promise;
        const atResult = seen.length;
        assert.match(resultText(res), /Long running operation completed/);
        await sleep(200);
        assert.equal(seen.length, 4, `expected 4 progress notifications, got ${JSON.stringify(seen)}`);
        assert.equal(atResult, 4, 'every progress notification arrives before the result');
        assert.deepEqual(seen.map((p) => p.progress), [1, 2, 3, 4]);
        for (const p of seen) {
          assert.equal(p.progressToken, progressToken, 'progress carries the client\'s own token');
          assert.equal(p.total, 4);
        }
      });

      test('cancelling a long call: no response for it, the server still answers', async () => {
        const progressed = [];
        const { id, promise } = c.start('tools/call', {
          name: 'everything__trigger-long-running-operation',
          arguments: { duration: 30, steps: 30 },
        }, { onProgress: (p) => progressed.push(p), timeout: 60000 });
        // Wait until the call demonstrably runs in the server.
        const deadline = Date.now() + 15000;
        while (progressed.length === 0 && Date.now() < deadline) await sleep(50);
        assert.ok(progressed.length > 0, 'the long call never reported progress');
        c.cancel(id);
        await assert.rejects(promise, (e) => e.cancelled === true);
        const echo = await c.callTool('everything__echo', { message: 'after cancel' });
        assert.equal(resultText(echo), 'Echo: after cancel');
        await sleep(2500);
        assert.equal(c.responses.get(id), undefined,
          `a response arrived for cancelled request ${id}: ${JSON.stringify(c.responses.get(id))}`);
      });

      test('unknown tools get a JSON-RPC error or an isError result, never silence', async () => {
        let answered = false;
        try {
          const res = await c.callTool('everything__no-such-tool', {}, { timeout: 20000 });
          answered = true;
          assert.equal(res.isError, true, `unknown tool did not fail: ${JSON.stringify(res)}`);
        } catch (e) {
          if (answered) throw e;
          assert.ok(e.code !== undefined, `no JSON-RPC error: ${e.message}`);
        }
        await assert.rejects(c.callTool('nosuchserver__echo', {}, { timeout: 20000 }),
          (e) => e.code !== undefined && /nosuchserver/.test(e.message));
      });

      if (transport === 'serve --stdio bridge') {
        test('the bridge runs no servers of its own', async () => {
          assert.deepEqual(describePids(descendants(c.child.pid)), [],
            'serve --stdio bridging to a daemon has child processes');
          const st = await status(root);
          const expected = new Set([daemon.pid, c.child.pid, ...st.units.map((u) => u.pid),
            ...descendants(daemon.pid)]);
          const extra = processesUnder(root).filter((p) => !expected.has(p.pid));
          assert.deepEqual(extra, [], 'processes besides the daemon\'s servers run in the store');
        });
      }
    });
  }

  test('kill -9 of a server: restarted and callable again', async () => {
    const st = await status(root);
    const u = unitOf(st, 'everything');
    assert.equal(u.state, 'ready');
    assert.ok(u.pid > 0, `no pid in status: ${JSON.stringify(u)}`);
    assert.ok(pidAlive(u.pid), `status pid ${u.pid} is not a live process`);
    const restartsBefore = u.restarts ?? 0;
    // The server's whole tree (a sandbox launcher may sit between the pid in
    // status and node): none of it may outlive the kill.
    const oldTree = [u.pid, ...descendants(u.pid)];
    process.kill(u.pid, 'SIGKILL');
    const after = await waitStatus(root, (s) => {
      const v = unitOf(s, 'everything');
      return v?.state === 'ready' && v.pid > 0 && v.pid !== u.pid;
    }, 'everything to be ready again with a new pid');
    const v = unitOf(after, 'everything');
    assert.ok(v.restarts >= restartsBefore + 1, `restarts did not grow: ${JSON.stringify(v)}`);
    assert.ok(pidAlive(v.pid));
    assert.ok(!pidAlive(u.pid), 'the killed process was not reaped');
    await waitFor(() => oldTree.every((p) => !pidAlive(p)), {
      timeout: 15000, what: 'the killed server\'s process tree to be gone',
    }).catch((e) => {
      throw new Error(`${e.message}\nstill alive: ${describePids(oldTree).join('; ')}`);
    });
    assert.ok(v.last_error, 'last_error says why it restarted');
    assert.match(String(v.last_error), /signal 9|killed/i);
    // Callable again through a fresh gateway connection...
    const c = await McpClient.connect(socketPath(root));
    try {
      await c.initialize();
      await c.waitTools((n) => n.includes('everything__echo'), 'everything__echo to be back');
      const res = await c.callTool('everything__echo', { message: 'back again' });
      assert.equal(resultText(res), 'Echo: back again');
    } finally {
      await c.close();
    }
    // ...and through the CLI.
    const r = await corral(['call', 'everything__echo', 'message=cli after restart'], { root });
    expectExit(r, 0, 'call after restart');
    assert.match(r.stdout, /Echo: cli after restart/);
  });

  test('install + reload: list_changed and the new tools; uninstall + reload removes them',
    async () => {
      const c = await McpClient.connect(socketPath(root));
      try {
        await c.initialize();
        const before = (await c.listTools()).map((t) => t.name);
        assert.ok(!before.some((n) => n.startsWith('notes__')));

        await installFixture(root, 'memory', 'notes');
        let mark = c.notifications.length;
        expectExit(await corral(['reload'], { root }), 0, 'reload after install');
        await c.waitNotification('notifications/tools/list_changed', { from: mark, timeout: 60000 });
        await waitReady(root, ['notes', 'everything', 'memory']);
        const tools = await c.waitTools((n) => n.includes('notes__read_graph'), 'notes__ tools');
        assert.ok(tools.some((t) => t.name === 'notes__create_entities'));
        const res = await c.callTool('notes__read_graph', {});
        assert.notEqual(res.isError, true, resultText(res));

        const st = await status(root);
        const notesPid = unitOf(st, 'notes').pid;
        const notesTree = [notesPid, ...descendants(notesPid)];
        mark = c.notifications.length;
        expectExit(await corral(['uninstall', 'notes'], { root }), 0, 'uninstall notes');
        expectExit(await corral(['reload'], { root }), 0, 'reload after uninstall');
        await c.waitNotification('notifications/tools/list_changed', { from: mark, timeout: 60000 });
        await c.waitTools((n) => !n.some((x) => x.startsWith('notes__')), 'notes__ tools to go away');
        const st2 = await waitStatus(root, (s) => !unitOf(s, 'notes'), 'the notes unit to go away');
        assert.ok(unitOf(st2, 'everything'), 'the other units stay');
        await sleep(200);
        assert.deepEqual(describePids(notesTree), [], 'the removed server\'s processes still run');
        // The others are untouched.
        const echo = await c.callTool('everything__echo', { message: 'still here' });
        assert.equal(resultText(echo), 'Echo: still here');
      } finally {
        await c.close();
      }
    });

  test('SIGTERM to the daemon: exit 0 and no process left behind', async () => {
    const st = await status(root);
    const pids = [st.pid, ...st.units.map((u) => u.pid)].filter((p) => p > 0);
    assert.equal(st.pid, daemon.pid);
    assert.ok(st.units.every((u) => !(u.state === 'ready') || pidAlive(u.pid)));
    assert.ok(pids.length >= 3, `expected the daemon and two servers, got ${pids}`);
    const tree = descendants(daemon.pid);
    for (const p of pids.slice(1)) assert.ok(tree.includes(p), `server pid ${p} is not the daemon's descendant`);
    const res = await daemon.stop();
    assert.deepEqual(res, { code: 0, signal: null }, `daemon exit: ${JSON.stringify(res)}\n${daemon.output()}`);
    await sleep(300);
    for (const p of pids) assert.ok(!pidAlive(p), `pid ${p} still alive after the daemon exited`);
    assert.deepEqual(describePids(tree), [], 'processes of the daemon\'s tree outlived it');
    assert.deepEqual(processesUnder(root), [], 'processes still run in the store');
    // With the daemon gone, the CLI says so.
    const r = await corral(['status'], { root });
    expectExit(r, 69, 'status after the daemon stopped');
  });
});

// Cancellation as the server sees it: tests/fixtures/mock-server.mjs records
// every notifications/cancelled it receives (MOCK_CANCEL_LOG) with the
// in-flight request its id maps to, and stops that request's work.  The
// client-side rejection above would pass even if the gateway dropped the
// notification; this does not.
describe('cancellation reaches the server', { timeout: 300000 }, () => {
  let root;
  let daemon;
  let cancelLog;

  before(async () => {
    root = newRoot('gw-cancel');
    cancelLog = path.join(root, 'data', 'canceller', 'cancelled.jsonl');
    const pkg = path.join(root, 'mockpkg');
    fs.mkdirSync(pkg);
    const r = await corral(['install', pkg, '--name', 'canceller', '--yes',
      '--env', `MOCK_CANCEL_LOG=${cancelLog}`, '--', process.execPath, MOCK_SERVER, 'ok'], { root });
    expectExit(r, 0, 'install the mock server');
    daemon = await startDaemon(root);
    await waitReady(root, ['canceller']);
  });

  after(async () => {
    if (daemon) await daemon.kill();
    cleanupRoot(root);
  });

  const records = () => (fs.existsSync(cancelLog)
    ? fs.readFileSync(cancelLog, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l))
    : []);

  for (const transport of ['gateway socket', 'serve --stdio bridge']) {
    test(`through the ${transport}: the server gets notifications/cancelled for its own id ` +
      'and stops', async () => {
      const c = transport === 'gateway socket'
        ? await McpClient.connect(socketPath(root))
        : await McpClient.stdio(root);
      try {
        await c.initialize();
        await c.waitTools((n) => n.includes('canceller__sleep'), 'canceller__sleep');
        const seenBefore = records().length;
        const progressed = [];
        const { id, promise } = c.start('tools/call', {
          name: 'canceller__sleep', arguments: { ms: 30000 },
        }, { onProgress: (p) => progressed.push(p), timeout: 60000 });
        await waitFor(() => progressed.length > 0, { timeout: 15000, what: 'progress from the sleep' });
        c.cancel(id, `test cancel via ${transport}`);
        await assert.rejects(promise, (e) => e.cancelled === true);
        const rec = await waitFor(() => records().slice(seenBefore)
          .find((x) => x.reason === `test cancel via ${transport}`),
        { timeout: 10000, what: 'the server to record the cancellation' })
          .catch((e) => { throw new Error(`${e.message}\nrecords: ${JSON.stringify(records())}`); });
        // The id is the gateway's upstream id, which the server maps to its
        // in-flight sleep: the cancellation named the right request.
        assert.equal(rec.method, 'tools/call', JSON.stringify(rec));
        assert.equal(rec.tool, 'sleep', `the cancelled id maps to no in-flight call: ${JSON.stringify(rec)}`);
        assert.equal(rec.stopped, true);
        // The work stopped: no progress after the server got the cancel.
        await sleep(500);
        const n = progressed.length;
        await sleep(500);
        assert.equal(progressed.length, n, 'progress kept coming after the cancel');
        // The server still answers, and nothing ever answers the cancelled id.
        const echo = await c.callTool('canceller__echo', { text: 'after cancel' });
        assert.equal(resultText(echo), 'after cancel');
        assert.equal(c.responses.get(id), undefined, 'a response arrived for the cancelled request');
      } finally {
        await c.close();
      }
    });
  }
});
