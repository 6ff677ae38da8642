// Pagination on both sides: a server that pages its 250 tools 25 at a time
// (tests/fixtures/many-tools.mjs) behind the gateway, whose own pages hold at
// most 100.  The supervisor must fetch every page from the server, and a
// client following nextCursor must see every tool exactly once.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  McpClient, REPO, cleanupRoot, corral, emptyPkg, expectExit, newRoot, resultText, socketPath,
  startDaemon, status, unitOf, waitReady,
} from './lib.mjs';

const COUNT = 250;
const FIXTURE = path.join(REPO, 'tests/fixtures/many-tools.mjs');
const expected = Array.from({ length: COUNT }, (_, i) => `many__t${String(i).padStart(3, '0')}`);

describe('paginated tool lists', { timeout: 300000 }, () => {
  let root;
  let daemon;

  before(async () => {
    root = newRoot('page');
    expectExit(await corral(['install', emptyPkg(root, 'many'), '--name', 'many', '--yes', '--',
      process.execPath, FIXTURE, String(COUNT), '25'], { root }), 0, 'install many-tools');
    daemon = await startDaemon(root);
    await waitReady(root, ['many']);
  });

  after(async () => {
    if (daemon) await daemon.kill();
    cleanupRoot(root);
  });

  test('status counts every tool of the server', async () => {
    const u = unitOf(await status(root), 'many');
    const n = Array.isArray(u.tools) ? u.tools.length : u.tools;
    assert.equal(n, COUNT, `status tools: ${JSON.stringify(u)}`);
  });

  test('the gateway pages the list; following nextCursor yields every tool once', async () => {
    const c = await McpClient.connect(socketPath(root));
    try {
      await c.initialize();
      const first = await c.request('tools/list', {});
      assert.ok(first.tools.length > 0 && first.tools.length <= 100,
        `first page has ${first.tools.length} tools`);
      assert.equal(typeof first.nextCursor, 'string', 'a first page of a long list has a nextCursor');
      const all = (await c.listTools()).map((t) => t.name).filter((n) => !n.startsWith('corral__'));
      assert.equal(all.length, COUNT);
      assert.deepEqual([...all].sort(), expected);
      // A cursor the gateway never issued is an invalid-params error, not a crash.
      await assert.rejects(c.request('tools/list', { cursor: 'not-a-cursor' }), (e) => e.code === -32602);
      const res = await c.callTool('many__t249', {});
      assert.equal(resultText(res), 't249');
    } finally {
      await c.close();
    }
  });

  test('corral tools shows them all', async () => {
    const r = expectExit(await corral(['tools', '--json'], { root }), 0, 'tools --json');
    for (const n of [expected[0], expected[99], expected[100], expected[COUNT - 1]]) {
      assert.ok(r.stdout.includes(n), `tools --json lacks ${n}`);
    }
  });

  test('SIGTERM: exit 0', async () => {
    const res = await daemon.stop();
    assert.deepEqual(res, { code: 0, signal: null }, daemon.output());
    daemon = null;
  });
});
