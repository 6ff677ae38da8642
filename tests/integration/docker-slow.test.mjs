// Issue 17, "What it must show": an engine that stalls does not stall the
// daemon.  A proxy on a unix socket in this test stands between the daemon
// and the real Docker engine and holds every Engine API answer for STALL_MS;
// while a docker server's container is being set up through it, a native
// server's tools/call through the gateway keeps answering within its normal
// timeout.  With the Engine API calls made on the loop's thread (before
// issue 17) each held answer froze the gateway for STALL_MS.

import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { startEngine } from './engines.mjs';
import {
  McpClient, cleanupRoot, corral, exclusiveLock, expectExit, installFixture, newRoot, resultText,
  socketPath, startDaemon, status, unitOf, waitFor, waitReady,
} from './lib.mjs';

const DOCKER_LOCK = '/tmp/corral-docker-tests.lock';
const STALL_MS = 4000;
const CALL_TIMEOUT_MS = 2500; // a native echo takes milliseconds

/* A unix-socket proxy to upstream that, while stalled, delivers every chunk
 * of every answer STALL_MS late (in order). */
function stallingProxy(file, upstream) {
  const state = { stalled: true, held: 0, conns: new Set(), requests: [] };
  const server = net.createServer((client) => {
    const up = net.connect(upstream);
    state.conns.add(client);
    const later = (fn) => {
      if (!state.stalled) return fn();
      state.held++;
      setTimeout(fn, STALL_MS);
    };
    let head = '';
    client.on('data', (d) => {
      // The request lines the daemon sends ("GET /path"), in order; libcurl
      // may send several on one kept-alive connection.
      head = (head + d.toString('latin1')).slice(-8192);
      for (;;) {
        const m = /(?:^|\n)(GET|POST|DELETE|PUT|HEAD) (\S+) HTTP\/1\.1\r\n/.exec(head);
        if (!m) break;
        state.requests.push(`${m[1]} ${m[2]}`);
        head = head.slice(m.index + m[0].length);
      }
      up.write(d);
    });
    client.on('end', () => up.end());
    up.on('data', (d) => later(() => { if (!client.destroyed) client.write(d); }));
    up.on('end', () => later(() => client.end()));
    const kill = () => { up.destroy(); client.destroy(); state.conns.delete(client); };
    client.on('error', kill);
    up.on('error', kill);
    client.on('close', kill);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(file, () => resolve({ server, state }));
  });
}

describe('a stalled engine does not stall the daemon', { timeout: 400000 }, () => {
  let lock;
  let eng;
  let root;
  let daemon;
  let client;
  let proxy;

  before(async () => {
    lock = await exclusiveLock(DOCKER_LOCK);
    eng = await startEngine('docker');
    root = newRoot('dkslow');
    await installFixture(root, 'everything', 'native');
    expectExit(await corral(['install', `docker:${eng.images.CORRAL_TEST_IMAGE}`, '--name', 'boxed', '--yes'],
      { root, env: { DOCKER_HOST: eng.DOCKER_HOST }, timeout: 180000 }), 0, 'install docker:');
    const file = path.join(root, 'slow-engine.sock');
    proxy = await stallingProxy(file, eng.sock);
    proxy.state.stalled = false;
    daemon = await startDaemon(root, { env: { DOCKER_HOST: `unix://${file}` } });
    await waitReady(root, ['native', 'boxed'], 120000);
    client = await McpClient.connect(socketPath(root));
    await client.initialize();
    await client.waitTools((n) => n.includes('native__echo') && n.includes('boxed__echo'), 'both echo tools');
  });

  after(async () => {
    try {
      if (proxy) proxy.state.stalled = false;
      if (client) await client.close().catch(() => {});
      if (daemon) await daemon.stop().catch(() => daemon.kill());
      proxy?.server.close();
      for (const c of proxy?.state.conns ?? []) c.destroy();
      if (root) cleanupRoot(root);
      if (eng) await eng.stop();
    } finally {
      if (lock) await lock.release();
    }
  });

  test('native calls answer in time while a container start is held up', async () => {
    proxy.state.stalled = true;
    const heldBefore = proxy.state.held;
    // Restart the docker server: its whole setup now goes through the stall.
    expectExit(await corral(['restart', 'boxed'], { root, timeout: 30000 }), 0, 'restart boxed');
    const times = [];
    const deadline = Date.now() + 4 * STALL_MS;
    while (Date.now() < deadline) {
      const t0 = Date.now();
      const res = await client.callTool('native__echo', { message: `ping ${times.length}` },
        { timeout: CALL_TIMEOUT_MS });
      assert.equal(resultText(res), `Echo: ping ${times.length}`);
      times.push(Date.now() - t0);
    }
    const u = unitOf(await status(root), 'boxed');
    console.log(`native echo while the engine stalled: ${times.length} calls, slowest ${Math.max(...times)} ms; ` +
      `${proxy.state.held - heldBefore} engine answers held ${STALL_MS} ms; boxed is ${u?.state}`);
    assert.ok(proxy.state.held - heldBefore >= 2, 'the engine answers were not held up');
    assert.notEqual(u?.state, 'ready', 'the docker server came up before the stall could matter');
    assert.ok(times.length >= 10, `only ${times.length} calls answered`);
    // And the docker server does come up once the engine answers again.
    proxy.state.stalled = false;
    await waitReady(root, ['boxed', 'native'], 120000);
    await waitFor(async () => {
      const r = await client.callTool('boxed__echo', { message: 'after the stall' }, { timeout: 20000 });
      return resultText(r) === 'Echo: after the stall';
    }, { timeout: 60000, what: 'boxed__echo after the stall' });
  });

  test('a container that dies is reported by the engine\'s /events stream, not by polling', async () => {
    const before = unitOf(await status(root), 'boxed');
    const id = (await fetchContainers(eng.sock, root))[0];
    assert.ok(id, 'no container of boxed');
    assert.ok(proxy.state.requests.some((r) => r.startsWith('GET /events?') &&
      decodeURIComponent(r).includes(`io.corral.root=${path.join(root, 'servers')}`)),
    `no /events stream filtered by the store's label: ${JSON.stringify(proxy.state.requests.slice(-20))}`);
    const mark = proxy.state.requests.length;
    // SIGKILL straight through the engine's own socket, not corral's.
    await engineRequest(eng.sock, 'POST', `/containers/${id}/kill?signal=KILL`);
    await waitFor(async () => {
      const u = unitOf(await status(root), 'boxed');
      return u && u.restarts > before.restarts && /killed by signal 9/.test(u.last_error ?? '');
    }, { timeout: 60000, what: 'boxed to be restarted after the kill, its status saying why' });
    const after = proxy.state.requests.slice(mark);
    const asked = after.filter((r) => r.includes(`/containers/${id}/wait`) ||
      r.includes(`/containers/${id}/json`) || r.endsWith('/_ping'));
    assert.deepEqual(asked, [], `the end was polled for: ${JSON.stringify(after)}`);
    await waitReady(root, ['boxed'], 120000);
  });

  test('stopping the daemon removes the container', async () => {
    await client.close();
    client = null;
    const r = await daemon.stop();
    daemon = null;
    assert.equal(r.code, 0, `daemon exit ${JSON.stringify(r)}`);
    const q = await fetchContainers(eng.sock, root);
    assert.deepEqual(q, [], 'no container of ours is left');
  });
});

/* One request straight to the engine (HTTP/1.0: the answer ends with the
 * connection); resolves the status code. */
function engineRequest(sock, method, urlPath) {
  return new Promise((resolve, reject) => {
    const s = net.connect(sock, () => s.end(`${method} ${urlPath} HTTP/1.0\r\nHost: d\r\n\r\n`));
    let text = '';
    s.on('data', (d) => { text += d; });
    s.on('end', () => resolve(Number(/^HTTP\/1\.\d (\d+)/.exec(text)?.[1])));
    s.on('error', reject);
  });
}

/* Containers labelled with our store, straight from the engine. */
function fetchContainers(sock, root) {
  const filters = encodeURIComponent(JSON.stringify({ label: [`io.corral.root=${path.join(root, 'servers')}`] }));
  return new Promise((resolve, reject) => {
    const s = net.connect(sock, () => s.end(`GET /containers/json?all=1&filters=${filters} HTTP/1.0\r\nHost: d\r\n\r\n`));
    let text = '';
    s.on('data', (d) => { text += d; });
    s.on('end', () => {
      try {
        resolve(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)).map((c) => c.Id));
      } catch (e) {
        reject(e);
      }
    });
    s.on('error', reject);
  });
}

