// Docker servers on a real engine and a real registry, once per engine
// (tests/integration/engines.mjs: Docker and Podman): scripts/docker-env
// starts Debian's dockerd on a private socket and data root (unless an engine
// is already reachable) and docker-registry on 127.0.0.1:5000, scripts/podman-env
// Debian's `podman system service` on a private socket and storage;
// scripts/docker-image builds the test images from this machine's node and the
// npm-installed server-everything and pushes them.  Then: install pins the
// digest, the daemon runs the image as a hardened container, its tools work
// through the gateway, a killed container is replaced, a moved tag changes
// nothing until `corral update`, bad input leaves the store alone, and an
// engine outage takes down only the docker server, which comes back with the
// engine.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { ENGINES, startEngine } from './engines.mjs';
import { registryOciChecks } from './registry-oci.mjs';
import {
  EX, McpClient, REPO, cleanupRoot, corral, corralEnv, describeRun, exclusiveLock, expectExit,
  expectOneLineError,
  expectSameTree, installFixture, newRoot, resultText, run, socketPath, startDaemon, status,
  storeSnapshot, unitOf, waitFor, waitReady, waitStatus,
} from './lib.mjs';

const NAME = 'everything';   // the docker server
const NATIVE = 'native';     // the same package on the native backend

/* One Engine API request over the unix socket; resolves {status, body}
 * (body parsed as JSON when it is JSON). */
function engine(sock, method, urlPath, { timeout = 20000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: sock, method, path: urlPath, timeout }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let body = text;
        try { body = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, body });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath}: timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/* A TCP port on 127.0.0.1 nothing listens on (bound, then closed). */
function closedPort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/* One docker test run (or bench) at a time on a machine: the engine-outage
 * test stops the engine, and the registry's port is machine-wide. */
const DOCKER_LOCK = '/tmp/corral-docker-tests.lock';

const manifestOf = (root, name) =>
  JSON.parse(fs.readFileSync(path.join(root, 'servers', name, 'manifest.json'), 'utf8'));

for (const ENGINE of ENGINES) describe(`docker servers on ${ENGINE}`, { timeout: 500000 }, () => {
  let eng;        // startEngine(): the engine, its socket, the registry and images
  let env;        // eng.env: what the engine's script printed
  let img;        // what scripts/docker-image printed
  let sock;       // the engine's unix socket path
  let root;
  let daemon;
  let client;
  let lock;
  const cenv = () => ({ DOCKER_HOST: env.DOCKER_HOST });
  const podman = ENGINE === 'podman';
  const envScript = podman ? 'scripts/podman-env' : 'scripts/docker-env';

  /* The docker CLI on the engine under test (kill), or on the Docker engine
   * that builds and pushes the test images (tag, push). */
  const docker = async (args, what = `docker ${args.join(' ')}`, { images = false } = {}) => {
    const host = images ? eng.dockerHost : env.DOCKER_HOST;
    const r = await run('docker', args, { env: corralEnv({ DOCKER_HOST: host }), timeout: 120000 });
    if (r.code !== 0) throw new Error(`${what}: ${describeRun(r)}`);
    return r.stdout.trim();
  };

  /* Containers (running only unless all) carrying io.corral.server=name and
   * made for our root (when they say which root, in io.corral.root). */
  const containers = async (name, { all = false } = {}) => {
    const filters = encodeURIComponent(JSON.stringify({ label: [`io.corral.server=${name}`] }));
    const r = await engine(sock, 'GET', `/containers/json?all=${all ? 1 : 0}&filters=${filters}`);
    assert.equal(r.status, 200, `list containers: ${JSON.stringify(r.body)}`);
    return r.body.filter((c) => {
      const owner = c.Labels?.['io.corral.root'];
      return owner === undefined || owner === root || owner.startsWith(`${root}/`);
    });
  };
  const inspect = async (id) => {
    const r = await engine(sock, 'GET', `/containers/${id}/json`);
    assert.equal(r.status, 200, `inspect ${id}: ${JSON.stringify(r.body)}`);
    return r.body;
  };
  /* The one running container of name, once there is exactly one whose id is
   * not `not` (and, with image, runs that image id). */
  const waitContainer = (name, { not, image, timeout = 90000 } = {}) => waitFor(async () => {
    const list = await containers(name);
    if (list.length !== 1) return null;
    const c = list[0];
    if (not && c.Id === not) return null;
    if (image && c.ImageID !== image) return null;
    return c;
  }, { timeout, interval: 200, what: `one running container of ${name}` +
    `${not ? ` other than ${not.slice(0, 12)}` : ''}${image ? ` on image ${image.slice(7, 19)}` : ''}` });

  /* everything__echo through the gateway, retried while the unit restarts. */
  const echoes = (server, msg, timeout = 60000) => waitFor(async () => {
    const res = await client.callTool(`${server}__echo`, { message: msg }, { timeout: 20000 });
    return resultText(res) === `Echo: ${msg}` ? res : null;
  }, { timeout, interval: 250, what: `${server}__echo to answer` });

  before(async () => {
    lock = await exclusiveLock(DOCKER_LOCK);
    eng = await startEngine(ENGINE);
    env = { ...eng.env, CORRAL_TEST_REGISTRY: eng.registry };
    sock = eng.sock;
    img = eng.images;
    for (const k of ['CORRAL_TEST_IMAGE', 'CORRAL_TEST_DIGEST_A', 'CORRAL_TEST_ID_A', 'CORRAL_TEST_ID_B']) {
      assert.ok(img[k], `docker-image printed no ${k}: ${JSON.stringify(img)}`);
    }
    root = newRoot('dk');
    await installFixture(root, 'everything', NATIVE);
  });

  after(async () => {
    try {
      if (client) await client.close().catch(() => {});
      if (daemon) await daemon.stop().catch(() => daemon.kill());
      // A failed test can leave containers of ours behind.
      if (sock) {
        for (const n of [NAME, 'bad']) {
          for (const c of await containers(n, { all: true }).catch(() => [])) {
            await engine(sock, 'DELETE', `/containers/${c.Id}?force=1`).catch(() => {});
          }
        }
      }
      cleanupRoot(root);
      if (eng) await eng.stop();
    } finally {
      if (lock) await lock.release();
    }
  });

  test('install pulls the image and pins its digest', async () => {
    const r = await corral(['install', `docker:${img.CORRAL_TEST_IMAGE}`, '--name', NAME, '--yes'],
      { root, env: cenv(), timeout: 180000 });
    expectExit(r, 0, 'install docker:');
    const m = manifestOf(root, NAME);
    assert.equal(m.source?.kind, 'docker');
    assert.equal(m.source?.resolved?.digest, img.CORRAL_TEST_DIGEST_A, 'the repo digest is recorded');
    assert.equal(m.runtime?.backend, 'docker');
    // The image was pulled into the engine under the digest.
    const ref = `${img.CORRAL_TEST_IMAGE.replace(/:[^:/]+$/, '')}@${img.CORRAL_TEST_DIGEST_A}`;
    const ir = await engine(sock, 'GET', `/images/${encodeURIComponent(ref)}/json`);
    assert.equal(ir.status, 200, `image ${ref} is not in the engine`);
    assert.equal(ir.body.Id, img.CORRAL_TEST_ID_A);
  });

  // Issue 13: a registry: server whose package is this image (tests/integration/registry-oci.mjs).
  if (!podman) {
    test('registry: an oci package from the local registry installs pinned and answers through the gateway',
      () => registryOciChecks({ images: img, dockerHost: env.DOCKER_HOST }));
  }

  test('the daemon runs it as a container; its tools work through the gateway', async () => {
    daemon = await startDaemon(root, { env: cenv() });
    await waitReady(root, [NAME, NATIVE], 120000);
    const c = await waitContainer(NAME);
    assert.equal(c.ImageID, img.CORRAL_TEST_ID_A, 'the container runs the pinned image');
    assert.equal(c.Labels['io.corral.server'], NAME);
    client = await McpClient.connect(socketPath(root));
    await client.initialize();
    const tools = await client.waitTools((n) => n.includes(`${NAME}__echo`) && n.includes(`${NATIVE}__echo`),
      'the docker and native echo tools');
    assert.ok(tools.find((t) => t.name === `${NAME}__echo`).inputSchema?.properties?.message);
    const res = await client.callTool(`${NAME}__echo`, { message: 'from a container' });
    assert.equal(resultText(res), 'Echo: from a container');
    const u = unitOf(await status(root), NAME);
    assert.equal(u.backend, 'docker');
  });

  test('the container is created hardened (read back through the Engine API)', async () => {
    const c = await waitContainer(NAME);
    const j = await inspect(c.Id);
    const h = j.HostConfig;
    const m = manifestOf(root, NAME);
    // Podman lists the capabilities it dropped instead of "ALL"; CapEff below
    // is what counts on both.
    if (!podman) assert.deepEqual(h.CapDrop, ['ALL'], 'CapDrop');
    assert.ok(!h.CapAdd || h.CapAdd.length === 0, `CapAdd: ${JSON.stringify(h.CapAdd)}`);
    assert.equal(h.Privileged, false);
    assert.ok((h.SecurityOpt || []).some((s) => /^no-new-privileges([:=]true)?$/.test(s)),
      `SecurityOpt: ${JSON.stringify(h.SecurityOpt)}`);
    // The native sandbox's syscall table as a Docker seccomp profile.
    const sc = (h.SecurityOpt || []).find((s) => s.startsWith('seccomp='));
    assert.ok(sc, `no seccomp profile in SecurityOpt: ${JSON.stringify(h.SecurityOpt)}`);
    // Docker keeps the JSON inline; Podman gets (and shows) the file corral wrote.
    const scv = sc.slice('seccomp='.length);
    const prof = JSON.parse(podman ? fs.readFileSync(scv, 'utf8') : scv);
    assert.equal(prof.defaultAction, 'SCMP_ACT_ERRNO');
    assert.ok(prof.syscalls.some((e) => e.names.includes('socket') && e.args?.length === 1),
      'socket is filtered by family');
    assert.ok(!prof.syscalls.some((e) => e.names.includes('ptrace') && e.action === 'SCMP_ACT_ALLOW'),
      'ptrace is not allowed');
    assert.equal(h.ReadonlyRootfs, true, 'ReadonlyRootfs');
    assert.equal(h.OomScoreAdj, 500, 'OomScoreAdj');
    assert.equal(h.ShmSize, 1024 * 1024, 'ShmSize (the native sandbox\'s 1 MiB /dev/shm)');
    const ul = Object.fromEntries((h.Ulimits || []).map((u) => [u.Name.replace(/^RLIMIT_/, '').toLowerCase(), u.Hard]));
    assert.equal(ul.core, 0, `core ulimit: ${JSON.stringify(h.Ulimits)}`);
    assert.equal(ul.nofile, 1024, `nofile ulimit: ${JSON.stringify(h.Ulimits)}`);
    assert.ok(ul.nproc > 0 && ul.nproc <= 4096, `nproc ulimit: ${JSON.stringify(h.Ulimits)}`);
    // Podman 4.3's compat API ignores CgroupnsMode (README "Podman").
    if (!podman) assert.equal(h.CgroupnsMode, 'private', 'CgroupnsMode');
    const tmpfs = Object.hasOwn(h.Tmpfs || {}, '/tmp') ||
      (h.Mounts || []).some((x) => x.Type === 'tmpfs' && x.Target === '/tmp');
    assert.ok(tmpfs, `no tmpfs on /tmp: Tmpfs ${JSON.stringify(h.Tmpfs)} Mounts ${JSON.stringify(h.Mounts)}`);
    if (h.Tmpfs?.['/tmp']) assert.match(h.Tmpfs['/tmp'], /(^|,)size=64m(,|$)/, 'Tmpfs /tmp size');
    // What the kernel mounted in the container: /tmp and /dev/shm are
    // tmpfs of the policy's sizes, not bounded only by the memory limit.
    const mounts = new Map(fs.readFileSync(`/proc/${j.State.Pid}/mountinfo`, 'utf8').split('\n')
      .map((l) => l.split(' - ')).filter((x) => x.length === 2)
      .map(([a, b]) => [a.split(' ')[4], b.split(' ')]));
    const sizeOf = (target) => {
      const m0 = mounts.get(target);
      assert.ok(m0 && m0[0] === 'tmpfs', `${target} is not a tmpfs: ${JSON.stringify(m0)}`);
      return /(?:^|,)size=(\d+)k(?:,|$)/.exec(m0[2])?.[1];
    };
    assert.equal(sizeOf('/tmp'), String(64 * 1024), '/tmp tmpfs size (KiB)');
    assert.equal(sizeOf('/dev/shm'), '1024', '/dev/shm tmpfs size (KiB)');
    assert.equal(m.sandbox.network, 'none');
    assert.equal(h.NetworkMode, 'none', 'NetworkMode');
    assert.equal(h.Memory, m.sandbox.memory_mb * 1024 * 1024, 'Memory from sandbox.memory_mb');
    assert.equal(h.NanoCpus, Math.round(m.sandbox.cpus * 1e9), 'NanoCpus from sandbox.cpus');
    assert.equal(h.PidsLimit, m.sandbox.pids, 'PidsLimit from sandbox.pids');
    assert.equal(h.Init, true, 'Init');
    const user = j.Config.User ?? '';
    assert.ok(user !== '' && !/^(root|0)(:|$)/.test(user), `Config.User is root or unset: '${user}'`);
    assert.equal(j.Config.Labels['io.corral.server'], NAME);
    // And the processes really run without root and without capabilities.
    const st = fs.readFileSync(`/proc/${j.State.Pid}/status`, 'utf8');
    const uid = /^Uid:\s+(\d+)\s+(\d+)/m.exec(st);
    assert.ok(uid && uid[1] !== '0' && uid[2] !== '0', `container init runs as uid ${uid?.[1]}`);
    assert.match(st, /^CapEff:\s+0+$/m, 'no effective capabilities');
    assert.match(st, /^NoNewPrivs:\s+1$/m, 'no_new_privs is set');
    assert.match(st, /^Seccomp:\s+2$/m, 'a seccomp filter is loaded');
  });

  test('/proc entries the engine leaves writable are read-only or masked in the container', async () => {
    const c = await waitContainer(NAME);
    const j = await inspect(c.Id);
    const h = j.HostConfig;
    // Docker takes HostConfig.ReadonlyPaths; Podman's compat API ignores it
    // and gets SecurityOpt mask= instead, which its inspect does not list
    // (README "Podman"): there only the container itself tells.
    if (!podman) {
      for (const p of ['/proc/sys', '/proc/sysrq-trigger', '/proc/pressure']) {
        assert.ok((h.ReadonlyPaths || []).includes(p), `ReadonlyPaths ${JSON.stringify(h.ReadonlyPaths)} lacks ${p}`);
      }
      assert.ok((h.MaskedPaths || []).includes('/proc/kcore'), `MaskedPaths: ${JSON.stringify(h.MaskedPaths)}`);
    }
    // Opened for writing (nothing written) by root on the host through the
    // container's own mounts: /proc/pressure/* is 0666 (a PSI trigger there
    // is host-wide kernel state), and Docker leaves it writable by default.
    const pid = j.State.Pid;
    for (const p of ['/proc/pressure/memory', '/proc/pressure/cpu', '/proc/sys/kernel/core_pattern',
      '/proc/sysrq-trigger']) {
      let code = 'opened for writing';
      try {
        fs.closeSync(fs.openSync(`/proc/${pid}/root${p}`, fs.constants.O_WRONLY));
      } catch (e) {
        code = e.code;
      }
      assert.ok(['EROFS', 'ENOENT', 'EACCES'].includes(code), `${p} in the container: ${code}`);
    }
  });

  test('corral info says whether the container\'s users are remapped, as its uid_map shows', async () => {
    const c = await waitContainer(NAME);
    const j = await inspect(c.Id);
    const map = fs.readFileSync(`/proc/${j.State.Pid}/uid_map`, 'utf8');
    const zero = /^\s*0\s+(\d+)\s+\d+/m.exec(map);
    const remapped = zero?.[1] !== '0';
    const human = expectExit(await corral(['info', NAME], { root, env: cenv() }), 0, 'info');
    const line = /^userns:\s+(.*)$/m.exec(human.stdout)?.[1];
    assert.ok(line, `no userns line in corral info:\n${human.stdout}`);
    if (remapped) {
      assert.match(line, new RegExp(`^remapped: uid 0 in the container is host uid ${zero?.[1]} `));
    } else {
      // Neither test engine remaps (no userns-remap, no subordinate ids for
      // Podman on this host): corral info must say so, and how to get it.
      assert.match(line, /^not remapped: uid 0 in the container is uid 0 on the host .*(userns-remap|UsernsMode auto)/);
    }
    const js = JSON.parse(expectExit(await corral(['info', '--json', NAME], { root, env: cenv() }), 0,
      'info --json').stdout);
    assert.equal(js.userns?.remapped, remapped, `info --json userns: ${JSON.stringify(js.userns)}`);
    // What corral asked of the engine: Podman's UsernsMode auto exactly when
    // the host has subordinate ids for it.
    if (podman) {
      const ids = (f) => fs.existsSync(f) && fs.readFileSync(f, 'utf8').split('\n')
        .some((l) => /^containers:\d+:(\d+)$/.test(l) && Number(l.split(':')[2]) >= 65536);
      if (ids('/etc/subuid') && ids('/etc/subgid')) assert.equal(j.HostConfig.UsernsMode, 'auto', 'UsernsMode');
      else assert.notEqual(j.HostConfig.UsernsMode, 'auto', 'UsernsMode');
    }
  });

  test('docker kill: the server is restarted in a new container and answers', async () => {
    const old = await waitContainer(NAME);
    await docker(['kill', old.Id]);
    const fresh = await waitContainer(NAME, { not: old.Id });
    assert.equal(fresh.ImageID, img.CORRAL_TEST_ID_A);
    await waitReady(root, [NAME], 90000);
    await echoes(NAME, 'after docker kill');
    // The killed container was removed, not left behind.
    const all = await containers(NAME, { all: true });
    assert.deepEqual(all.map((x) => x.Id), [fresh.Id], 'only the new container exists');
  });

  test('after the tag moves, restarts keep the pinned digest until corral update', async () => {
    // Move :1 in the registry to image B.
    await docker(['tag', img.CORRAL_TEST_IMAGE_B, img.CORRAL_TEST_IMAGE], undefined, { images: true });
    await docker(['push', '--quiet', img.CORRAL_TEST_IMAGE], undefined, { images: true });
    const old = await waitContainer(NAME);
    await docker(['kill', old.Id]);
    const fresh = await waitContainer(NAME, { not: old.Id });
    assert.equal(fresh.ImageID, img.CORRAL_TEST_ID_A, 'a restart still runs the pinned digest, not the tag');
    await waitReady(root, [NAME], 90000);
    await echoes(NAME, 'still pinned');
    assert.equal(manifestOf(root, NAME).source.resolved.digest, img.CORRAL_TEST_DIGEST_A);

    const r = await corral(['update', NAME], { root, env: cenv(), timeout: 180000 });
    expectExit(r, 0, 'update');
    assert.equal(manifestOf(root, NAME).source.resolved.digest, img.CORRAL_TEST_DIGEST_B,
      'update pins the digest the tag now names');
    const moved = await waitContainer(NAME, { image: img.CORRAL_TEST_ID_B });
    assert.equal((await inspect(moved.Id)).Config.Env.includes('CORRAL_TEST_IMAGE=b'), true);
    await waitReady(root, [NAME], 90000);
    await echoes(NAME, 'on the new digest');
  });

  describe('bad input: a clear error, the exact exit code, nothing installed', () => {
    async function expectBad(spec, codes, names, { extraEnv = {}, what } = {}) {
      const before = storeSnapshot(root);
      const r = await corral(['install', spec, '--name', 'bad', '--yes'],
        { root, env: { ...cenv(), ...extraEnv }, timeout: 120000 });
      assert.ok(codes.includes(r.code), `${what ?? spec}: expected exit ${codes.join(' or ')}, ` +
        `got ${describeRun(r)}`);
      expectOneLineError(r, names, `install ${spec}`);
      expectSameTree(before, storeSnapshot(root), `the store after install ${spec}`);
      assert.ok(!fs.existsSync(path.join(root, 'servers', 'bad')), 'no servers/bad');
      assert.deepEqual(await containers('bad', { all: true }), [], 'no container was created');
      return r;
    }

    test('an image the registry does not have: 66 or 69 naming it', async () => {
      const reg = env.CORRAL_TEST_REGISTRY;
      await expectBad(`docker:${reg}/corral-test/nosuchimage:1`, [EX.NOINPUT, EX.UNAVAILABLE],
        ['nosuchimage']);
      await expectBad(`docker:${reg}/corral-test/everything:nosuchtag`, [EX.NOINPUT, EX.UNAVAILABLE],
        ['nosuchtag']);
    });

    test('site policy require_digest: a tag-only spec is refused with 77, a digest spec passes', async () => {
      const cfg = path.join(root, 'etc', 'corral.json');
      const had = fs.existsSync(cfg) ? fs.readFileSync(cfg) : null;
      fs.mkdirSync(path.dirname(cfg), { recursive: true });
      fs.writeFileSync(cfg, JSON.stringify({ docker: { require_digest: true } }));
      try {
        await expectBad(`docker:${img.CORRAL_TEST_IMAGE}`, [EX.NOPERM],
          ['names no digest', 'require_digest']);
        // The same repository by digest gets past the policy (and installs).
        const spec = `docker:${img.CORRAL_TEST_IMAGE.replace(/:[^:/]+$/, '')}@${img.CORRAL_TEST_DIGEST_A}`;
        expectExit(await corral(['install', spec, '--name', 'pinned', '--yes'],
          { root, env: cenv(), timeout: 180000 }), 0, `install ${spec}`);
        assert.equal(manifestOf(root, 'pinned').source.resolved.digest, img.CORRAL_TEST_DIGEST_A);
        expectExit(await corral(['uninstall', 'pinned', '--yes'], { root, env: cenv() }), 0,
          'uninstall pinned');
      } finally {
        if (had) fs.writeFileSync(cfg, had); else fs.rmSync(cfg, { force: true });
      }
    });

    test('a registry that is down: 69', async () => {
      const port = await closedPort();
      await expectBad(`docker:127.0.0.1:${port}/corral-test/everything:1`, [EX.UNAVAILABLE],
        [new RegExp(`127\\.0\\.0\\.1:${port}|registry|refused|unreachable`, 'i')]);
    });

    test('an engine that is down: 69', async () => {
      const dead = path.join(root, 'dead-docker.sock');
      await expectBad(`docker:${img.CORRAL_TEST_IMAGE}`, [EX.UNAVAILABLE], [/docker|engine/i],
        { extraEnv: { DOCKER_HOST: `unix://${dead}` }, what: 'engine down' });
    });

    test('an image with no entrypoint and no cmd: 65', async () => {
      await expectBad(`docker:${img.CORRAL_TEST_IMAGE_NOENTRY}`, [EX.DATAERR],
        [/entrypoint|cmd|command/i]);
    });

    test('the daemon and both servers are unaffected', async () => {
      assert.ok(daemon.running(), `the daemon exited:\n${daemon.output()}`);
      await waitReady(root, [NAME, NATIVE]);
      await echoes(NAME, 'still here');
    });
  });

  test('engine outage: the docker server is unavailable with a reason, the native one works; ' +
    'it comes back with the engine', async (t) => {
    if (!eng.owned) {
      t.skip('the engine is not ours to stop');
      return;
    }
    const s = await run(path.join(REPO, envScript), ['stop-engine'], { timeout: 120000 });
    if (s.code !== 0) throw new Error(`${envScript} stop-engine: ${describeRun(s)}`);
    let restarted = false;
    try {
      // The stream's end with the engine gone, or the next start, makes the
      // unit unavailable with the engine's absence as the reason.
      const st = await waitStatus(root, (x) => {
        const u = unitOf(x, NAME);
        return u?.state === 'unavailable' && /docker engine unavailable/i.test(u.last_error ?? '');
      }, `${NAME} to be unavailable, its last_error saying the engine is unavailable`, 60000);
      const u = unitOf(st, NAME);
      assert.equal(u.pid, 0, 'an unavailable server has no process');
      assert.equal(unitOf(st, NATIVE)?.state, 'ready', 'the native server is unaffected');
      await echoes(NATIVE, 'while the engine is down', 20000);
      // A call to the docker server fails with an error naming it and its state, at once
      // (the start that found the engine gone runs on the loop: "cannot start: …").
      await assert.rejects(client.callTool(`${NAME}__echo`, { message: 'x' }, { timeout: 30000 }),
        (e) => e.code !== undefined &&
          new RegExp(`server '${NAME}' is unavailable: (cannot start: )?docker engine unavailable`)
            .test(e.message));
      const human = expectExit(await corral(['status'], { root }), 0, 'status');
      assert.match(human.stdout, new RegExp(`${NAME}\\s+unavailable\\s.*docker engine unavailable`));
      // Keep the engine away for more failed starts than the crash-loop limit
      // (5 in 60 s): each is noted in the server's log, none counts as a
      // restart, and the unit stays unavailable (never failed).
      const logFile = path.join(root, 'log', `${NAME}.log`);
      const attempts = () => (fs.readFileSync(logFile, 'utf8')
        .match(/cannot start: docker engine unavailable/g) ?? []).length;
      const before = attempts();
      const down = await waitStatus(root, (x) => {
        const v = unitOf(x, NAME);
        return v && (v.state !== 'unavailable' || attempts() - before >= 6);
      }, `${NAME} to retry 6 more times while the engine is down`, 90000);
      const v = unitOf(down, NAME);
      assert.equal(v.state, 'unavailable', `an engine outage left ${NAME} ${v.state}: ` +
        JSON.stringify(v));
      assert.equal(v.restarts, u.restarts, 'retries while the engine is down are not restarts');
      assert.match(v.last_error ?? '', /docker engine unavailable/);
      assert.equal(unitOf(down, NATIVE)?.state, 'ready', 'the native server is still unaffected');

      const g = await run(path.join(REPO, envScript), ['start-engine'], { timeout: 120000 });
      if (g.code !== 0) throw new Error(`${envScript} start-engine: ${describeRun(g)}`);
      restarted = true;
      await waitReady(root, [NAME, NATIVE], 120000);
      const c = await waitContainer(NAME, { image: img.CORRAL_TEST_ID_B });
      assert.equal(c.State, 'running');
      await echoes(NAME, 'after the engine came back');
    } finally {
      if (!restarted) {
        await run(path.join(REPO, envScript), ['start-engine'], { timeout: 120000 });
      }
    }
  });

  test('stopping the daemon stops and removes its containers', async () => {
    await client.close();
    client = null;
    const r = await daemon.stop();
    assert.equal(r.code, 0, `daemon exit: ${JSON.stringify(r)}\n${daemon.output()}`);
    daemon = null;
    assert.deepEqual(await containers(NAME, { all: true }), [], 'no container of ours is left');
  });
});
