// Rate limits and guardrails on tool calls (issue 15): a result over
// limits.max_result_bytes is refused whole; a concurrency cap refuses the
// call past it at once; `corral limit set` (the state database) gives a
// token bucket per user per tool — N calls allowed, the N+1th refused with
// retryAfterMs, one more after waiting that long; refusals are audit rows
// with outcome "limited".  Counted, never timed.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  EX, McpClient, RpcError, cleanupRoot, corral, expectExit, expectOneLineError, installMock,
  newRoot, sleep, socketPath, startDaemon, waitFor, waitReady,
} from './lib.mjs';

const LIMITED = -32005;
const TOO_LARGE = -32006;

async function refused(p) {
  try {
    const r = await p;
    assert.fail(`expected a refusal, got ${JSON.stringify(r)}`);
  } catch (e) {
    if (!(e instanceof RpcError)) throw e;
    return e;
  }
}

describe('rate limits and guardrails', { timeout: 240000 }, () => {
  let root; let daemon; let client;

  before(async () => {
    root = newRoot('limits');
    await installMock(root, 'lim');
    fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
    fs.writeFileSync(path.join(root, 'etc/corral.json'), JSON.stringify({
      limits: { max_result_bytes: 4096, rules: [{ server: 'lim', tool: 'sleep', concurrent: 2 }] },
    }));
    daemon = await startDaemon(root);
    await waitReady(root, ['lim']);
    client = await McpClient.connect(socketPath(root));
    await client.initialize();
  });

  after(async () => {
    await client?.close();
    await daemon?.stop().catch(() => daemon.kill());
    cleanupRoot(root);
  });

  test('a result over max_result_bytes is refused whole, never truncated', async () => {
    const e = await refused(client.callTool('lim__echo', { text: 'x'.repeat(5000) }));
    assert.equal(e.code, TOO_LARGE, e.message);
    assert.match(e.rpcMessage, /result too large: lim__echo answered \d+ bytes, over the cap of 4096/);
    assert.ok(e.data.resultBytes > 5000 && e.data.maxResultBytes === 4096, JSON.stringify(e.data));
    const ok = await client.callTool('lim__echo', { text: 'x'.repeat(3000) });
    assert.equal(ok.content[0].text.length, 3000);
  });

  test('a concurrency cap refuses the call past it at once', async () => {
    const a = client.start('tools/call', { name: 'lim__sleep', arguments: { ms: 4000 } });
    const b = client.start('tools/call', { name: 'lim__sleep', arguments: { ms: 4000 } });
    const e = await refused(client.callTool('lim__sleep', { ms: 1 }));
    assert.equal(e.code, LIMITED, e.message);
    assert.equal(e.data.limit.reason, 'concurrency');
    assert.ok(e.data.retryAfterMs > 0, JSON.stringify(e.data));
    // Other tools of the server are not capped.
    await client.callTool('lim__echo', { text: 'meanwhile' });
    await a.promise;
    await b.promise;
    // The slots came back.
    await client.callTool('lim__sleep', { ms: 1 });
  });

  test('corral limit set: N calls, the N+1th refused with retryAfterMs, one more after it', async () => {
    expectExit(await corral(['limit', 'set', 'lim__echo', '--calls', '3', '--per', '12'], { root }), 0, 'limit set');
    const list = JSON.parse(expectExit(await corral(['limit', 'list', '--json'], { root }), 0, 'limit list').stdout);
    assert.equal(list.max_result_bytes, 4096);
    assert.deepEqual(list.rules.map((r) => [r.server, r.tool, r.calls, r.period_s, r.source]),
      [['lim', 'sleep', 0, 0, 'corral.json'], ['lim', 'echo', 3, 12, 'database']]);

    for (let i = 0; i < 3; i++) await client.callTool('lim__echo', { text: `call ${i}` });
    const e = await refused(client.callTool('lim__echo', { text: 'one too many' }));
    assert.equal(e.code, LIMITED, e.message);
    assert.equal(e.data.limit.reason, 'rate');
    assert.equal(e.data.limit.calls, 3);
    // A token every 4 s: the wait is at most that.
    assert.ok(e.data.retryAfterMs > 0 && e.data.retryAfterMs <= 4000, JSON.stringify(e.data));
    // Another tool is not counted in echo's bucket.
    await client.callTool('lim__sleep', { ms: 1 });

    await sleep(e.data.retryAfterMs + 20);
    await client.callTool('lim__echo', { text: 'refilled' });
    const again = await refused(client.callTool('lim__echo', { text: 'empty again' }));
    assert.equal(again.code, LIMITED);

    expectExit(await corral(['limit', 'clear', 'lim__echo'], { root }), 0, 'limit clear');
    for (let i = 0; i < 5; i++) await client.callTool('lim__echo', { text: `free ${i}` });
  });

  test('refusals are audit rows with outcome "limited"', async () => {
    let rows;
    await waitFor(async () => {
      rows = JSON.parse(expectExit(await corral(['audit', '--json'], { root }), 0, 'audit').stdout);
      return rows.filter((r) => r.outcome === 'limited').length >= 3;
    }, { timeout: 20000, what: 'three "limited" audit rows' });
    const limited = rows.filter((r) => r.outcome === 'limited');
    assert.deepEqual(limited.map((r) => r.tool).sort(), ['echo', 'echo', 'sleep']);
    assert.ok(limited.every((r) => r.server === 'lim' && r.duration_ms === 0 && r.response_bytes === 0));
    const big = rows.find((r) => r.tool === 'echo' && r.outcome === 'error');
    assert.ok(big, 'the oversize call is an "error" row');
  });

  test('bad limits are refused: the CLI and corral.json', async () => {
    expectOneLineError(expectExit(await corral(['limit', 'set', 'lim', '--calls', '3'], { root }), EX.USAGE), ['--per']);
    expectOneLineError(expectExit(await corral(['limit', 'set', 'lim'], { root }), EX.USAGE), ['limits nothing']);
    expectOneLineError(expectExit(await corral(['limit', 'clear', 'nothere'], { root }), EX.NOINPUT), ['nothere']);
    const r = await corral(['config', 'set', 'limits.rules', '[{"server":"x","calls":1}]'], { root });
    expectExit(r, EX.CONFIG);
    assert.match(r.stderr, /period_s/);
  });
});
