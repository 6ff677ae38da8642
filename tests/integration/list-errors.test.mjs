// A server whose tools/list fails after a good initialize (a remote API the
// server cannot reach, say) stays ready for what works (its prompts and
// resources), and `corral status` / `corral info` show the failure as the
// unit's last error.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  cleanupRoot, corral, expectExit, installMock, newRoot, startDaemon, status, unitOf, waitReady,
} from './lib.mjs';

describe('a failing list is the unit\'s last error', { timeout: 120000 }, () => {
  let root;
  let daemon;

  before(async () => {
    root = newRoot('listerr');
    await installMock(root, 'nolist', 'tools-fail');
    await installMock(root, 'fine', 'ok');
    daemon = await startDaemon(root);
    await waitReady(root, ['nolist', 'fine']);
  });

  after(async () => {
    if (daemon) await daemon.kill();
    cleanupRoot(root);
  });

  test('status: ready, no tools, last_error says tools/list failed and why', async () => {
    const st = await status(root);
    const u = unitOf(st, 'nolist');
    assert.equal(u.state, 'ready', JSON.stringify(u));
    assert.equal(Array.isArray(u.tools) ? u.tools.length : u.tools, 0);
    assert.equal(u.last_error, 'tools/list failed: fetch failed');
    assert.ok((Array.isArray(u.prompts) ? u.prompts.length : u.prompts) > 0, 'prompts still listed');
    assert.equal(unitOf(st, 'fine').last_error ?? null, null);
    const text = await corral(['status'], { root });
    expectExit(text, 0, 'status');
    assert.match(text.stdout, /nolist.*tools\/list failed: fetch failed/);
  });

  test('info shows it too', async () => {
    const r = await corral(['info', 'nolist', '--json'], { root });
    expectExit(r, 0, 'info --json');
    const j = JSON.parse(r.stdout);
    assert.equal(j.status.state, 'ready');
    assert.equal(j.status.last_error, 'tools/list failed: fetch failed');
    const t = await corral(['info', 'nolist'], { root });
    expectExit(t, 0, 'info');
    assert.match(t.stdout, /^state: +ready$/m);
    assert.match(t.stdout, /^error: +tools\/list failed: fetch failed$/m);
  });
});
