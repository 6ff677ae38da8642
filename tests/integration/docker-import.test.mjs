// `corral import` of a `docker run …` entry, as Claude Desktop users write
// them, against a real dockerd (scripts/docker-env) and the test registry's
// image (scripts/docker-image): the entry is installed as a docker: server,
// the daemon runs it as a hardened container and its tools are called
// through the gateway.  What the import promised is checked on the container
// the engine made: the flags that weaken confinement are not there, `-e`
// values (the secret one from secrets.json) are in its environment, the
// `-v HOST:TARGET:ro` directory is bound read-only.  A second import changes
// nothing.  Docker only (the mapping is the engine-independent part; the
// docker suites cover Podman).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { startEngine } from './engines.mjs';
import {
  McpClient, cleanupRoot, corral, exclusiveLock, expectExit, newRoot, resultText, socketPath,
  startDaemon, waitFor, waitReady,
} from './lib.mjs';

const DOCKER_LOCK = '/tmp/corral-docker-tests.lock';
const NAME = 'everything-docker';

/* One Engine API GET over the unix socket, parsed. */
function engineGet(sock, urlPath) {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: sock, method: 'GET', path: urlPath, timeout: 20000 }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode, body: JSON.parse(Buffer.concat(chunks).toString()) });
        } catch (e) {
          reject(e);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${urlPath}: timed out`)));
    req.on('error', reject);
    req.end();
  });
}
function engineDelete(sock, urlPath) {
  return new Promise((resolve) => {
    const req = http.request({ socketPath: sock, method: 'DELETE', path: urlPath, timeout: 20000 }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', resolve);
    req.end();
  });
}

const readJson = (p) => JSON.parse(fs.readFileSync(p, 'utf8'));

describe('corral import: docker run entries on a real engine', { timeout: 300000 }, () => {
  let lock; let eng; let root; let dir; let data; let cfgFile; let daemon; let client;
  const denv = () => ({ DOCKER_HOST: eng.DOCKER_HOST });

  const containers = async () => {
    const filters = encodeURIComponent(JSON.stringify({ label: [`io.corral.server=${NAME}`] }));
    const r = await engineGet(eng.sock, `/containers/json?all=1&filters=${filters}`);
    assert.equal(r.status, 200);
    return r.body.filter((c) => (c.Labels?.['io.corral.root'] ?? root).startsWith(root));
  };

  before(async () => {
    lock = await exclusiveLock(DOCKER_LOCK);
    eng = await startEngine('docker');
    assert.ok(eng.images.CORRAL_TEST_IMAGE_A, `docker-image printed no CORRAL_TEST_IMAGE_A: ${JSON.stringify(eng.images)}`);
    root = newRoot('dkimport');
    dir = newRoot('dkimport-cfg');
    // The container runs as nobody: the directory it is given is readable.
    data = path.join(dir, 'docs');
    fs.mkdirSync(data);
    fs.chmodSync(dir, 0o755);
    fs.writeFileSync(path.join(data, 'hello.txt'), 'from the host\n');
    cfgFile = path.join(dir, 'claude_desktop_config.json');
    fs.writeFileSync(cfgFile, JSON.stringify({
      mcpServers: {
        'Everything Docker': {
          command: 'docker',
          args: ['run', '-i', '--rm', '--privileged', '--network', 'host', '--cap-add', 'SYS_ADMIN',
            '-e', 'GREETING', '-e', 'API_KEY', '-e', 'MODE=plain', '-v', `${data}:/data:ro`,
            eng.images.CORRAL_TEST_IMAGE_A, 'stdio'],
          env: { GREETING: 'hello from import', API_KEY: 'sekrit-docker-key' },
        },
      },
    }, null, 2));
  });

  after(async () => {
    try {
      if (client) await client.close().catch(() => {});
      if (daemon) await daemon.stop().catch(() => daemon.kill());
      if (eng) {
        for (const c of await containers().catch(() => [])) {
          await engineDelete(eng.sock, `/containers/${c.Id}?force=1`);
        }
      }
      cleanupRoot(root);
      cleanupRoot(dir);
      if (eng) await eng.stop();
    } finally {
      if (lock) await lock.release();
    }
  });

  test('the entry is installed as a docker: server; dropped flags listed; the secret kept apart', async () => {
    const plan = await corral(['import', '--dry-run', cfgFile], { root, env: denv() });
    expectExit(plan, 0, 'import --dry-run');
    assert.match(plan.stdout, new RegExp(`${NAME}\\s+install\\s+docker:${eng.images.CORRAL_TEST_IMAGE_A}`));
    assert.match(plan.stdout, /--privileged: dropped: it would weaken confinement/);
    assert.match(plan.stdout, /--network host: dropped/);
    assert.match(plan.stdout, /--cap-add SYS_ADMIN: dropped/);
    assert.ok(!fs.existsSync(path.join(root, 'servers', NAME)), '--dry-run installed nothing');
    const r = await corral(['import', '--yes', cfgFile], { root, env: denv(), timeout: 180000 });
    expectExit(r, 0, 'import');
    assert.match(r.stdout, new RegExp(`imported ${NAME} \\(docker`));
    for (const out of [plan.stdout, plan.stderr, r.stdout, r.stderr]) {
      assert.ok(!out.includes('sekrit-docker-key'), 'no secret printed');
    }
    const m = readJson(path.join(root, 'servers', NAME, 'manifest.json'));
    assert.equal(m.source.kind, 'docker');
    assert.match(m.source.resolved.digest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(m.runtime.backend, 'docker');
    assert.equal(m.runtime.command.at(-1), 'stdio', 'the arguments after the image replace its Cmd');
    assert.equal(m.runtime.env.GREETING, 'hello from import');
    assert.equal(m.runtime.env.MODE, 'plain');
    assert.equal(m.runtime.env.API_KEY, null, 'the secret is not in the manifest');
    assert.deepEqual(m.sandbox.mounts, [`${data}:/data:ro`]);
    assert.equal(m.sandbox.network, 'none');
    assert.equal(readJson(path.join(root, 'servers', NAME, 'secrets.json')).env.API_KEY, 'sekrit-docker-key');
  });

  test('the daemon runs it as a container without the dropped flags; its tools answer through the gateway', async () => {
    daemon = await startDaemon(root, { env: denv() });
    await waitReady(root, [NAME], 120000);
    client = await McpClient.connect(socketPath(root));
    await client.initialize();
    await client.waitTools((n) => n.includes(`${NAME}__echo`), 'the imported server\'s tools');
    const res = await client.callTool(`${NAME}__echo`, { message: 'imported and contained' });
    assert.equal(resultText(res), 'Echo: imported and contained');
    const env = JSON.parse(resultText(await client.callTool(`${NAME}__get-env`, {})));
    assert.equal(env.GREETING, 'hello from import');
    assert.equal(env.MODE, 'plain');
    assert.equal(env.API_KEY, 'sekrit-docker-key', 'the secret is filled in at start');

    const c = await waitFor(async () => {
      const list = (await containers()).filter((x) => x.State === 'running');
      return list.length === 1 ? list[0] : null;
    }, { timeout: 30000, what: 'one running container' });
    const j = (await engineGet(eng.sock, `/containers/${c.Id}/json`)).body;
    const h = j.HostConfig;
    assert.equal(h.Privileged, false, 'Privileged');
    assert.equal(h.NetworkMode, 'none', 'NetworkMode');
    assert.ok(!h.CapAdd || h.CapAdd.length === 0, `CapAdd: ${JSON.stringify(h.CapAdd)}`);
    assert.deepEqual(h.CapDrop, ['ALL']);
    const bind = (j.Mounts || []).find((x) => x.Destination === '/data');
    assert.ok(bind, `no mount at /data: ${JSON.stringify(j.Mounts)}`);
    assert.equal(bind.Type, 'bind');
    assert.equal(bind.Source, data);
    assert.equal(bind.RW, false, 'the -v …:ro directory is read-only');
    // What the kernel shows inside the container: the host's file, on a
    // read-only mount.
    const pid = j.State.Pid;
    assert.equal(fs.readFileSync(`/proc/${pid}/root/data/hello.txt`, 'utf8'), 'from the host\n');
    const line = fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n')
      .find((l) => l.split(' ')[4] === '/data');
    assert.ok(line, 'no /data in the container\'s mountinfo');
    assert.match(line.split(' ')[5], /(^|,)ro(,|$)/, `mount options of /data: ${line}`);
  });

  test('a second import is a no-op', async () => {
    const mpath = path.join(root, 'servers', NAME, 'manifest.json');
    const before = [fs.statSync(path.join(root, 'servers', NAME)).ino, fs.readFileSync(mpath, 'utf8')];
    const r = await corral(['import', '--yes', cfgFile], { root, env: denv() });
    expectExit(r, 0);
    assert.match(r.stdout, /0 imported, 1 unchanged/);
    assert.deepEqual([fs.statSync(path.join(root, 'servers', NAME)).ino, fs.readFileSync(mpath, 'utf8')], before);
  });
});
