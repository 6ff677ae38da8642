// `corral serve --stdio` with no daemon: the embedded supervisor and gateway
// run in-process, the set-up-free default an MCP client config points at.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  McpClient, cleanupRoot, corral, descendants, describePids, installFixture, newRoot, processesUnder,
  resultText, sleep,
} from './lib.mjs';

describe('serve --stdio without a daemon (embedded)', { timeout: 300000 }, () => {
  let root;

  before(async () => {
    root = newRoot('emb');
    await installFixture(root, 'everything');
  });

  after(() => cleanupRoot(root));

  test('lists tools, calls echo, and exits on stdin EOF leaving nothing behind', async () => {
    // No daemon: the CLI says so, and serve must not need one.
    const st = await corral(['status'], { root });
    assert.equal(st.code, 69, `status without a daemon: ${st.code} ${st.stderr}`);

    const c = await McpClient.stdio(root);
    let closed = false;
    try {
      const init = await c.initialize();
      assert.equal(init.protocolVersion, '2025-11-25');
      const tools = await c.waitTools((n) => n.includes('everything__echo') && n.includes('everything__get-sum'),
        'the embedded server\'s tools');
      assert.ok(tools.every((t) => t.name.startsWith('everything__') || t.name.startsWith('corral__')),
        'only everything__ tools (and the gateway\'s own corral__*)');

      const echo = await c.callTool('everything__echo', { message: 'embedded hello' });
      assert.equal(resultText(echo), 'Echo: embedded hello');
      const sum = await c.callTool('everything__get-sum', { a: 20, b: 22 });
      assert.match(resultText(sum), /\b42\b/);

      // The embedded server runs under serve's own process tree.
      const tree = descendants(c.child.pid);
      assert.ok(tree.length >= 1, 'no server process under serve --stdio');

      const res = await c.close();
      closed = true;
      assert.deepEqual(res, { code: 0, signal: null }, `serve exit: ${JSON.stringify(res)}\n${c.stderr}`);
      await sleep(300);
      assert.deepEqual(describePids(tree), [], 'serve\'s servers outlived it');
      assert.deepEqual(processesUnder(root), [], 'processes left behind after serve exited');
      assert.deepEqual(c.badLines, [], 'serve wrote non-JSON to stdout');
    } finally {
      if (!closed) c.kill();
    }
  });

  test('an initialize with an older protocol version is negotiated down', async () => {
    const c = await McpClient.stdio(root);
    let tree = [];
    try {
      const init = await c.initialize({ protocolVersion: '2025-03-26' });
      assert.equal(init.protocolVersion, '2025-03-26');
      await c.waitTools((n) => n.includes('everything__echo'), 'everything__echo');
      tree = descendants(c.child.pid);
    } finally {
      const res = await c.close();
      assert.equal(res?.code, 0, c.stderr);
    }
    await sleep(300);
    assert.deepEqual(describePids(tree), []);
    assert.deepEqual(processesUnder(root), []);
  });
});
