// Hot reload: the daemon watches corral.json and the store (inotify through
// libuv) and applies changes without a restart; a client session stays
// connected and sees list_changed; servers that did not change keep their
// pids; a broken corral.json is refused, reported in status and the log,
// and the running configuration is kept.  Also `corral config`.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  McpClient, cleanupRoot, corral, expectExit, installMock, newRoot, sleep, socketPath,
  startDaemon, status, unitOf, waitFor, waitReady, waitStatus,
} from './lib.mjs';

const pids = async (root, names) => {
  const st = await status(root);
  return Object.fromEntries(names.map((n) => [n, unitOf(st, n)?.pid]));
};

/* One connection to the gateway socket: 'answered' when initialize gets an
 * answer, 'refused' when the daemon closes it first. */
function probeGateway(sock) {
  return new Promise((resolve) => {
    const c = net.connect(sock);
    let done = false;
    const finish = (v) => { if (!done) { done = true; c.destroy(); resolve(v); } };
    c.on('connect', () => c.write(JSON.stringify({
      jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'probe', version: '1' } },
    }) + '\n'));
    c.on('data', () => finish('answered'));
    c.on('close', () => finish('refused'));
    c.on('error', () => finish('refused'));
    setTimeout(() => finish('timeout'), 10000);
  });
}

/* Writes path the way editors that rename over the file do. */
function renameOver(file, text) {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

describe('hot reload', { timeout: 240000 }, () => {
  let root; let daemon; let client; let config;

  before(async () => {
    root = newRoot('reload');
    for (const n of ['alpha', 'beta', 'gamma']) await installMock(root, n);
    config = path.join(root, 'etc/corral.json');
    daemon = await startDaemon(root);
    await waitReady(root, ['alpha', 'beta', 'gamma']);
    client = await McpClient.connect(socketPath(root));
    await client.initialize();
    await client.waitTools((names) => names.includes('gamma__echo'), 'the first tools');
  });

  after(async () => {
    if (client) await client.close().catch(() => {});
    if (daemon) await daemon.stop();
    cleanupRoot(root);
  });

  test('install and uninstall with a session open: list_changed, the others keep their pids', async () => {
    const before = await pids(root, ['alpha', 'beta']);
    const from = client.notifications.length;
    await installMock(root, 'delta');
    await client.waitNotification('notifications/tools/list_changed', { from });
    await client.waitTools((names) => names.includes('delta__echo'), 'delta listed');
    const from2 = client.notifications.length;
    expectExit(await corral(['uninstall', 'delta'], { root }), 0, 'uninstall');
    await client.waitNotification('notifications/tools/list_changed', { from: from2 });
    await client.waitTools((names) => !names.includes('delta__echo'), 'delta gone');
    assert.deepEqual(await pids(root, ['alpha', 'beta']), before, 'alpha and beta were not restarted');
    const r = await client.callTool('alpha__echo', { text: 'still here' });
    assert.match(JSON.stringify(r), /still here/);
  });

  test('a manifest changed by hand is picked up without corral reload (inotify)', async () => {
    const before = await pids(root, ['alpha', 'beta']);
    const from = client.notifications.length;
    const mf = path.join(root, 'servers/gamma/manifest.json');
    const m = JSON.parse(fs.readFileSync(mf, 'utf8'));
    m.enabled = false;
    renameOver(mf, JSON.stringify(m, null, 2));
    await waitStatus(root, (st) => unitOf(st, 'gamma')?.state === 'disabled', 'gamma disabled by the watcher');
    await client.waitNotification('notifications/tools/list_changed', { from });
    assert.deepEqual(await pids(root, ['alpha', 'beta']), before);
    m.enabled = true;
    renameOver(mf, JSON.stringify(m, null, 2));
    await waitReady(root, ['gamma']);
    assert.deepEqual(await pids(root, ['alpha', 'beta']), before);
  });

  test('corral.json: a broken edit is refused and reported, the old one kept; a fix clears it', async () => {
    const before = await pids(root, ['alpha', 'beta', 'gamma']);
    renameOver(config, JSON.stringify({ sandbox: { memory_mb: 256 } }));
    await sleep(1500);
    assert.equal((await status(root)).config_error, undefined);
    // An editor that truncates and writes: a half file for a moment is
    // never taken for the configuration, nor reported.
    const fd = fs.openSync(config, 'w');
    fs.writeSync(fd, '{"sandbox": {"memory_mb": ');
    await sleep(60);
    fs.writeSync(fd, '300}}');
    fs.closeSync(fd);
    await sleep(1500);
    assert.equal((await status(root)).config_error, undefined, 'a half-written file was reported');
    assert.ok(!/running configuration is kept/.test(daemon.output()), daemon.output());

    fs.writeFileSync(config, '{"sandbox": {"memroy_mb": 1}}');
    const st = await waitStatus(root, (s) => s.config_error, 'the broken corral.json reported');
    assert.match(st.config_error, /unknown key sandbox\.memroy_mb/);
    await waitFor(() => /unknown key sandbox\.memroy_mb; the running configuration is kept/.test(daemon.output()),
      { what: 'the refusal in the log' });
    const text = await corral(['status'], { root });
    assert.match(text.stdout, /config: refused, the running configuration is kept: .*memroy_mb/);
    const r = await corral(['reload'], { root });
    expectExit(r, 78, 'reload with a broken corral.json');
    assert.match(r.stderr, /^corral: reload: .*memroy_mb.*kept/m);
    assert.deepEqual(await pids(root, ['alpha', 'beta', 'gamma']), before, 'no server restarted');
    const echo = await client.callTool('beta__echo', { text: 'session alive' });
    assert.match(JSON.stringify(echo), /session alive/);

    // corral config refuses the same mistake, and its fix is picked up.
    let c = await corral(['config', 'set', 'sandbox.memroy_mb', '1'], { root });
    expectExit(c, 78);
    c = await corral(['config', 'set', '--unset', 'sandbox'], { root });
    expectExit(c, 0, 'config set --unset');
    await waitStatus(root, (s) => !s.config_error, 'the error cleared');
    assert.deepEqual(await pids(root, ['alpha', 'beta', 'gamma']), before);
  });

  test('corral.json edited with a session open: tool lists and gateway limits apply at once; keys read at start are reported', async () => {
    const before = await pids(root, ['alpha', 'beta', 'gamma']);
    const base = fs.existsSync(config) ? JSON.parse(fs.readFileSync(config, 'utf8')) : {};
    const write = (extra) => renameOver(config, JSON.stringify({ ...base, ...extra }, null, 2));

    // A deny list: the open session is told, and alpha's tools leave its list.
    let from = client.notifications.length;
    write({ tools: { deny: ['alpha__*'] } });
    await client.waitNotification('notifications/tools/list_changed', { from });
    await client.waitTools((names) => !names.includes('alpha__echo') && names.includes('beta__echo'), 'alpha denied');

    // Lower the gateway's connection cap to 2: the open session stays; one
    // more fits, the next is refused.  Raised again, it fits.
    const sock = socketPath(root);
    write({ tools: { deny: ['alpha__*'] }, gateway: { max_connections: 2, max_connections_per_user: 1, admin_reserved_connections: 1 } });
    const held = net.connect(sock);
    await new Promise((r) => held.once('connect', r));
    await waitFor(async () => (await probeGateway(sock)) === 'refused', { what: 'a third connection refused' });
    assert.match(JSON.stringify(await client.callTool('beta__echo', { text: 'kept' })), /kept/, 'the open session was kept');
    held.destroy();
    from = client.notifications.length;
    write({});
    await client.waitNotification('notifications/tools/list_changed', { from });
    await client.waitTools((names) => names.includes('alpha__echo'), 'alpha allowed again');
    const again = net.connect(sock);
    await new Promise((r) => again.once('connect', r));
    assert.equal(await probeGateway(sock), 'answered', 'the cap is back to the default');
    again.destroy();
    assert.match(daemon.output(), /gateway socket: refused \d+/);

    // "http" is read when the daemon starts: the change is said, not applied.
    write({ http: { max_body_bytes: 1048576 } });
    let st = await waitStatus(root, (x) => x.restart_needed, 'restart_needed in status');
    assert.equal(st.restart_needed, 'http');
    assert.match((await corral(['status'], { root })).stdout, /config: corral.json's http changed: restart the daemon to apply it/);
    const r = await corral(['reload'], { root });
    expectExit(r, 0, 'reload');
    assert.match(r.stdout, /corral.json's http changed: restart the daemon to apply it/);
    assert.match(daemon.output(), /corral.json: http changed: applied when the daemon restarts/);
    write({});
    st = await waitStatus(root, (x) => !x.restart_needed, 'restart_needed cleared');
    assert.deepEqual(await pids(root, ['alpha', 'beta', 'gamma']), before, 'no server restarted');
    assert.match(JSON.stringify(await client.callTool('alpha__echo', { text: 'same session' })), /same session/);
  });

  test('corral config: get, set with validation, edit through $EDITOR, validate', async () => {
    let r = await corral(['config', 'set', 'sandbox.memory_mb', '384'], { root });
    expectExit(r, 0);
    r = await corral(['config', 'get', 'sandbox.memory_mb'], { root });
    assert.equal(r.stdout.trim(), '384');
    r = await corral(['config', 'set', 'nosuchkey', 'x'], { root });
    expectExit(r, 78);
    assert.match(r.stderr, /unknown key nosuchkey/);
    // ${VAR} in corral.json: kept as written, checked as the daemon reads it.
    r = await corral(['config', 'set', 'registry', '${CORRAL_TEST_UNSET_REGISTRY}'], { root });
    expectExit(r, 78);
    assert.match(r.stderr, /\$\{CORRAL_TEST_UNSET_REGISTRY\} is not set/);
    r = await corral(['config', 'set', 'registry', '${CORRAL_TEST_UNSET_REGISTRY:-https://registry.npmjs.org/}'], { root });
    expectExit(r, 0);
    r = await corral(['config', 'get', 'registry'], { root });
    assert.equal(r.stdout.trim(), '${CORRAL_TEST_UNSET_REGISTRY:-https://registry.npmjs.org/}');
    // edit: an invalid edit is not applied; a valid one is.
    const before = fs.readFileSync(config, 'utf8');
    r = await corral(['config', 'edit'], { root, env: { VISUAL: undefined, EDITOR: 'sed -i s/384/"lots"/' } });
    expectExit(r, 78, 'an invalid edit');
    assert.match(r.stderr, /not applied \(your edit is in /);
    assert.equal(fs.readFileSync(config, 'utf8'), before);
    r = await corral(['config', 'edit'], { root, env: { VISUAL: undefined, EDITOR: 'sed -i s/384/512/' } });
    expectExit(r, 0, 'a valid edit');
    assert.equal(JSON.parse(fs.readFileSync(config, 'utf8')).sandbox.memory_mb, 512);
    r = await corral(['config', 'validate'], { root });
    expectExit(r, 0);
    assert.match(r.stdout, /valid/);
    await sleep(800);
    assert.equal((await status(root)).config_error, undefined);
  });
});
