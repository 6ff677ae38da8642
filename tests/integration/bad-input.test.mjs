// Bad input: each case gives a one-line error naming the problem and the exact
// sysexits code; the daemon keeps running; the store is unchanged.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  EX, FIXTURES, McpClient, cleanupRoot, corral, emptyPkg, expectExit, expectOneLineError,
  expectSameTree, installFixture, installMock, newRoot, resultText, sleep, socketPath, startDaemon, status,
  storeSnapshot, unitOf, waitReady, waitStatus,
} from './lib.mjs';

/* Runs corral, checks the exit code and the one-line error, and that the store
 * did not change. */
async function expectBad(root, args, code, names, { opts = {} } = {}) {
  const before = storeSnapshot(root);
  const r = await corral(args, { root, ...opts });
  const codes = Array.isArray(code) ? code : [code];
  assert.ok(codes.includes(r.code), `corral ${args.join(' ')}: expected exit ${codes.join(' or ')}, ` +
    `got ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  expectOneLineError(r, names, `corral ${args.join(' ')}`, { usageHint: codes.includes(EX.USAGE) });
  expectSameTree(before, storeSnapshot(root), `the store after corral ${args.join(' ')}`);
  return r;
}

describe('bad input', { timeout: 600000 }, () => {
  let root;
  let daemon;

  before(async () => {
    root = newRoot('bad');
    await installFixture(root, 'everything');
    await installFixture(root, 'memory');
  });

  after(async () => {
    if (daemon) await daemon.kill();
    cleanupRoot(root);
  });

  describe('without a daemon', () => {
    test('daemon verbs: 69 "daemon is not running"', async () => {
      for (const args of [['status'], ['status', '--json'], ['tools'], ['reload'],
        ['call', 'everything__echo', 'message=x'], ['restart', 'everything']]) {
        await expectBad(root, args, EX.UNAVAILABLE, ['daemon is not running']);
      }
    });

    // Registries that do not answer (registry.test.mjs has the rest).
    test('registries that do not answer: 69 naming them, nothing in the store', async () => {
      const env = { CORRAL_MCP_REGISTRY: 'http://127.0.0.1:1', CORRAL_SMITHERY_REGISTRY: 'http://127.0.0.1:1' };
      const cases = [
        ['smithery:someone/thing', 'Smithery registry'],
        ['registry:io.github.someone/thing', '127.0.0.1:1'],
      ];
      for (const [spec, what] of cases) {
        await expectBad(root, ['install', spec, '--yes'], EX.UNAVAILABLE, [what], { opts: { env } });
      }
      assert.deepEqual(fs.readdirSync(path.join(root, 'staging')), [], 'staging left behind');
      assert.ok(!fs.existsSync(path.join(root, 'servers', 'foo')));
    });

    test('a remote URL without --remote is a usage error', async () => {
      await expectBad(root, ['install', 'https://example.com/mcp', '--yes'], EX.USAGE, []);
    });

    test('install without --yes, not on a TTY: 64, nothing installed', async () => {
      const r = await expectBad(root, ['install', path.join(FIXTURES, 'everything'), '--name', 'noyes'],
        EX.USAGE, ['--yes']);
      assert.ok(!fs.existsSync(path.join(root, 'servers', 'noyes')), r.stderr);
      // Also with something on stdin: an answer that is not from a TTY is not consent.
      await expectBad(root, ['install', path.join(FIXTURES, 'everything'), '--name', 'noyes'],
        EX.USAGE, ['--yes'], { opts: { input: 'y\n' } });
    });

    test('bad server names: 64', async () => {
      for (const name of ['Bad__Name', 'bad__name', 'UPPER', '-leading', '../escape', 'a'.repeat(49), '']) {
        await expectBad(root, ['install', path.join(FIXTURES, 'everything'), '--name', name, '--yes'],
          EX.USAGE, ['name']);
      }
    });

    test('install from a directory that does not exist: 66', async () => {
      await expectBad(root, ['install', path.join(root, 'no-such-dir'), '--yes'], EX.NOINPUT,
        ['no-such-dir']);
    });

    test('a directory with neither a package.json bin nor a command: 65 or 64', async () => {
      const dir = emptyPkg(root, 'nobin');
      const before = storeSnapshot(root);
      const r = await corral(['install', dir, '--name', 'nobin', '--yes'], { root });
      assert.ok([EX.DATAERR, EX.USAGE].includes(r.code), `got ${r.code}: ${r.stderr}`);
      expectOneLineError(r, [], 'install of a dir without a command');
      expectSameTree(before, storeSnapshot(root));
    });

    test('unknown server for store verbs: 66', async () => {
      await expectBad(root, ['info', 'nosuch'], EX.NOINPUT, ['nosuch']);
      await expectBad(root, ['uninstall', 'nosuch'], EX.NOINPUT, ['nosuch']);
      await expectBad(root, ['enable', 'nosuch'], EX.NOINPUT, ['nosuch']);
      await expectBad(root, ['disable', 'nosuch'], EX.NOINPUT, ['nosuch']);
    });

    test('usage errors: 64', async () => {
      await expectBad(root, ['info'], EX.USAGE, []);
      await expectBad(root, ['install', '--yes'], EX.USAGE, []);
      await expectBad(root, ['list', '--bogus-option'], EX.USAGE, []);
    });
  });

  describe('with a daemon', () => {
    before(async () => {
      await installMock(root, 'garbage', 'garbage');
      await installMock(root, 'quitter', 'exit');
      await installMock(root, 'huge', 'oversize');
      await installMock(root, 'sleepy', 'slow-init');
      daemon = await startDaemon(root);
      await waitReady(root, ['everything', 'memory']);
    });

    /* After every case: the daemon still runs and answers. */
    async function daemonAlive() {
      assert.ok(daemon.running(), `the daemon exited:\n${daemon.output()}`);
      const st = await status(root);
      assert.equal(unitOf(st, 'everything')?.state, 'ready');
    }

    test('unknown server or tool: 66', async () => {
      await expectBad(root, ['call', 'nosuch__x'], EX.NOINPUT, ['nosuch']);
      await daemonAlive();
      await expectBad(root, ['call', 'everything__nosuch'], EX.NOINPUT, ['nosuch']);
      await daemonAlive();
      await expectBad(root, ['info', 'nosuch'], EX.NOINPUT, ['nosuch']);
      await daemonAlive();
    });

    test('a tool name without SERVER__ is a usage error', async () => {
      await expectBad(root, ['call', 'echo'], EX.USAGE, ['SERVER__']);
      await daemonAlive();
    });

    test('invalid JSON arguments: 65', async () => {
      await expectBad(root, ['call', 'everything__echo', '{bad'], EX.DATAERR, ['json']);
      await daemonAlive();
      await expectBad(root, ['call', 'everything__echo', '[1,2]'], EX.DATAERR, []);
      await daemonAlive();
    });

    test('arguments the server rejects (-32602): 65 with the server\'s reason', async () => {
      const r = await corral(['call', 'everything__get-sum', 'a=1', 'b=notanumber'], { root });
      assert.equal(r.code, EX.DATAERR, `exit ${r.code}: ${r.stderr}`);
      expectOneLineError(r, ['get-sum', /invalid|validation/i], 'call with a wrong argument type');
      await daemonAlive();
    });

    test('servers that print garbage, exit at once, or send an oversize message: failed/backoff ' +
      'with a reason', async () => {
        const broken = ['garbage', 'quitter', 'huge'];
        const st = await waitStatus(root, (s) => broken.every((n) => {
          const u = unitOf(s, n);
          return u && ['failed', 'backoff'].includes(u.state) && u.last_error;
        }), `${broken.join(', ')} to be failed or in backoff with a last_error`, 90000);
        for (const n of broken) {
          const u = unitOf(st, n);
          assert.ok(typeof u.last_error === 'string' && u.last_error.length > 0, JSON.stringify(u));
        }
        assert.match(unitOf(st, 'quitter').last_error, /exit|status/i);
        assert.match(unitOf(st, 'garbage').last_error, /json|protocol|malformed|parse/i);
        assert.match(unitOf(st, 'huge').last_error, /oversize|MiB|too (large|big)/i);
        // The human listing shows the states too.
        const h = expectExit(await corral(['status'], { root }), 0, 'status');
        assert.match(h.stdout, /garbage/);
        assert.match(h.stdout, /quitter/);
        await daemonAlive();
      });

    test('calling their tools: one-line error naming the server, exit 69', async () => {
      for (const n of ['garbage', 'quitter', 'huge']) {
        await expectBad(root, ['call', `${n}__echo`, 'message=x'], EX.UNAVAILABLE, [n]);
        await daemonAlive();
      }
      // Through the gateway: a JSON-RPC error naming the unit, never silence.
      const c = await McpClient.connect(socketPath(root));
      try {
        await c.initialize();
        await assert.rejects(c.callTool('quitter__echo', { message: 'x' }, { timeout: 30000 }),
          (e) => e.code !== undefined && /quitter/.test(e.message));
      } finally {
        await c.close();
      }
    });

    test('a unit still initializing answers at once with an error naming it and its state', async () => {
      const st = await status(root);
      const state = unitOf(st, 'sleepy')?.state;
      assert.ok(['initializing', 'backoff', 'starting'].includes(state), `sleepy is ${state}`);
      const t0 = Date.now();
      await expectBad(root, ['call', 'sleepy__echo', 'text=x'], EX.UNAVAILABLE, ['sleepy', /initializing|backoff|starting/]);
      assert.ok(Date.now() - t0 < 10000, 'the error took more than 10 s');
      await daemonAlive();
    });

    test('the other servers are unaffected', async () => {
      const e = expectExit(await corral(['call', 'everything__echo', 'message=unaffected'], { root }), 0,
        'echo');
      assert.match(e.stdout, /Echo: unaffected/);
      const c = await McpClient.connect(socketPath(root));
      try {
        await c.initialize();
        const tools = await c.waitTools((n) => n.includes('memory__read_graph'), 'memory tools');
        const names = tools.map((t) => t.name);
        assert.ok(!names.some((n) => /^(garbage|quitter|huge|sleepy)__/.test(n)),
          `tools of down units listed: ${names}`);
        const g = await c.callTool('memory__read_graph', {});
        assert.notEqual(g.isError, true, resultText(g));
      } finally {
        await c.close();
      }
    });

    test('malformed gateway input: a JSON-RPC error, the session and daemon survive', async () => {
      const c = await McpClient.connect(socketPath(root));
      try {
        await c.initialize();
        c.sendRaw('{this is not json\n');
        // A parse error comes back as a response with id null (JSON-RPC 2.0 §5.1).
        const deadline = Date.now() + 10000;
        while (!c.responses.has(null) && Date.now() < deadline) await sleep(50);
        assert.equal(c.responses.get(null)?.[0]?.error?.code, -32700,
          `no parse error response: ${JSON.stringify([...c.responses.entries()])}`);
        const res = await c.callTool('everything__echo', { message: 'still talking' });
        assert.equal(resultText(res), 'Echo: still talking');
      } finally {
        await c.close();
      }
      await daemonAlive();
    });

    test('malformed manifest: info and list 65, the daemon marks the unit failed and serves the others',
      async () => {
        const mpath = path.join(root, 'servers', 'memory', 'manifest.json');
        fs.writeFileSync(mpath, '{"manifest_version": 1, "name": garbage !!!');
        const snap = storeSnapshot(root);

        await expectBad(root, ['info', 'memory'], EX.DATAERR, ['memory']);
        const before = storeSnapshot(root);
        const l = await corral(['list'], { root });
        assert.equal(l.code, EX.DATAERR, `list: ${l.code}\n${l.stdout}\n${l.stderr}`);
        expectOneLineError(l, ['memory'], 'list with a malformed manifest');
        assert.match(l.stdout, /everything/, 'list still prints the other servers');
        assert.match(l.stdout, /garbage/);
        expectSameTree(before, storeSnapshot(root));

        expectExit(await corral(['reload'], { root }), 0, 'reload');
        const st = await waitStatus(root, (s) => unitOf(s, 'memory')?.state === 'failed',
          'the memory unit to be marked failed');
        assert.ok(unitOf(st, 'memory').last_error, JSON.stringify(unitOf(st, 'memory')));
        await daemonAlive();
        const e = expectExit(await corral(['call', 'everything__echo', 'message=after reload'], { root }), 0,
          'echo after reload');
        assert.match(e.stdout, /Echo: after reload/);
        await expectBad(root, ['call', 'memory__read_graph'], EX.UNAVAILABLE, ['memory']);
        expectSameTree(snap, storeSnapshot(root), 'the store after reload');
      });

    test('SIGTERM still stops the daemon cleanly', async () => {
      const res = await daemon.stop();
      assert.deepEqual(res, { code: 0, signal: null }, daemon.output());
      daemon = null;
    });
  });
});
