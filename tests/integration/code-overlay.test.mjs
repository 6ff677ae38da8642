// A writable view of the code: server-memory, installed from npm as a user
// would (no --env), keeps its graph beside its code in pkg/.  The native
// sandbox shows pkg/ as an overlay whose upper layer persists in
// data/NAME/overlay/, so the graph survives a daemon restart while the host's
// pkg/ stays byte-identical; `corral reset` discards it; the strict profile
// keeps pkg/ read-only.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  McpClient, cleanupRoot, corral, expectExit, expectSameTree, newRoot, resultText, socketPath,
  startDaemon, treeSnapshot, waitReady,
} from './lib.mjs';

const PKG = 'npm:@modelcontextprotocol/server-memory';

async function graph(c, server) {
  const res = await c.callTool(`${server}__read_graph`, {});
  assert.ok(!res.isError, `read_graph failed: ${resultText(res)}`);
  return JSON.parse(resultText(res));
}

async function withClient(root, fn) {
  const c = await McpClient.connect(socketPath(root));
  try {
    await c.initialize();
    return await fn(c);
  } finally {
    await c.close();
  }
}

describe('code overlay', { timeout: 600000 }, () => {
  let root;
  let daemon;
  let pkgBefore;

  before(async () => {
    root = newRoot('overlay');
    const r = await corral(['install', PKG, '--name', 'memory', '--yes'], { root, timeout: 240000 });
    expectExit(r, 0, `install ${PKG}`);
    const s = await corral(['install', PKG, '--name', 'frozen', '--sandbox', 'strict', '--yes',
      '--offline'], { root, timeout: 240000 });
    expectExit(s, 0, `install ${PKG} --sandbox strict`);
    pkgBefore = treeSnapshot(path.join(root, 'servers/memory/pkg'));
    daemon = await startDaemon(root);
    await waitReady(root, ['memory', 'frozen']);
  });

  after(async () => {
    if (daemon) await daemon.kill();
    cleanupRoot(root);
  });

  test('corral info says which view of the code a server gets', async () => {
    const a = await corral(['info', 'memory'], { root });
    expectExit(a, 0, 'info memory');
    assert.match(a.stdout, /^code:\s+writable overlay/m);
    const b = await corral(['info', 'frozen'], { root });
    assert.match(b.stdout, /^code:\s+read-only/m);
  });

  test('server-memory with no options stores and reads its graph across a restart', async () => {
    await withClient(root, async (c) => {
      const res = await c.callTool('memory__create_entities', {
        entities: [{ name: 'corral', entityType: 'project', observations: ['writes beside its code'] }],
      });
      assert.ok(!res.isError, `create_entities failed: ${resultText(res)}`);
      const g = await graph(c, 'memory');
      assert.deepEqual(g.entities.map((e) => e.name), ['corral']);
    });
    await daemon.stop();
    daemon = await startDaemon(root);
    await waitReady(root, ['memory']);
    await withClient(root, async (c) => {
      const g = await graph(c, 'memory');
      assert.deepEqual(g.entities.map((e) => e.name), ['corral'], 'the graph did not survive a restart');
    });
    // The write went to the upper layer, not to the host's pkg/.
    const upper = path.join(root, 'data/memory/overlay/upper');
    const files = [];
    const walk = (d) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else files.push(p);
      }
    };
    walk(upper);
    assert.ok(files.some((f) => f.endsWith('memory.jsonl')), `no graph in the upper layer: ${files}`);
    expectSameTree(pkgBefore, treeSnapshot(path.join(root, 'servers/memory/pkg')), 'the host pkg/');
  });

  test('the strict profile keeps pkg/ read-only', async () => {
    await withClient(root, async (c) => {
      const res = await c.callTool('frozen__create_entities', {
        entities: [{ name: 'x', entityType: 'y', observations: [] }],
      }).catch((e) => ({ isError: true, content: [{ type: 'text', text: e.message }] }));
      assert.ok(res.isError, 'create_entities worked on read-only code');
      assert.match(resultText(res), /EROFS|read-only/i);
    });
    assert.ok(!fs.existsSync(path.join(root, 'data/frozen/overlay')), 'a strict server got an overlay');
  });

  test('corral reset discards the changes, restarting the running server', async () => {
    const r = await corral(['reset', 'memory'], { root, timeout: 60000 });
    expectExit(r, 0, 'reset memory');
    assert.match(r.stdout, /discarded/);
    assert.ok(!fs.existsSync(path.join(root, 'data/memory/overlay/upper/node_modules/@modelcontextprotocol/server-memory/dist/memory.jsonl')));
    await waitReady(root, ['memory']);
    await withClient(root, async (c) => {
      const g = await graph(c, 'memory');
      assert.deepEqual(g.entities, [], 'reset kept the graph');
    });
    expectSameTree(pkgBefore, treeSnapshot(path.join(root, 'servers/memory/pkg')), 'the host pkg/');
    const again = await corral(['reset', 'nosuch'], { root });
    expectExit(again, 66, 'reset of a server that is not installed');
  });
});
