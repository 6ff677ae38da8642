// Issue 13, "What it must show": a `registry:` install of an OCI package.
// The registry stand-in (registry-standin.mjs, API v0.1) serves a server.json
// whose only installable package is registryType "oci", pointing at the test
// image scripts/docker-image pushed to the private registry on 127.0.0.1:5000
// (tests/integration/engines.mjs: Debian's dockerd on a private socket).  The
// install hands it to the docker resolver (digest pinned), the daemon runs it
// as a container, and its tools are listed and called through the gateway.
// A second document in the older shape (host in registryBaseUrl, tag in
// "version") resolves to the same image.  Docker only: the Podman path of the
// docker resolver is docker.test.mjs's.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { startEngine } from './engines.mjs';
import {
  McpClient, cleanupRoot, corral, corralEnv, exclusiveLock, expectExit, newRoot, resultText, run,
  socketPath, startDaemon, waitReady,
} from './lib.mjs';
import { SCHEMA, startRegistry } from './registry-standin.mjs';

const DOCKER_LOCK = '/tmp/corral-docker-tests.lock';
const NAME = 'io.github.corral-test/everything-oci';
const LEGACY = 'io.github.corral-test/everything-oci-legacy';
const UNIT = 'oci';

describe('registry: an OCI package from the local registry, run by Docker', { timeout: 400000 }, () => {
  let lock;
  let eng;
  let reg;
  let root;
  let daemon;
  let client;
  let env;

  before(async () => {
    lock = await exclusiveLock(DOCKER_LOCK);
    eng = await startEngine('docker');
    const ref = eng.images.CORRAL_TEST_IMAGE_A;
    assert.ok(ref && eng.images.CORRAL_TEST_DIGEST_A, `docker-image printed ${JSON.stringify(eng.images)}`);
    const at = ref.lastIndexOf(':');
    const slash = ref.indexOf('/');
    const pkg = {
      registryType: 'oci',
      identifier: ref, // a full reference (2025-12 schema)
      transport: { type: 'stdio' },
      runtimeHint: 'docker',
      runtimeArguments: [{ type: 'named', name: '-e', value: 'EVERYTHING_MODE={mode}',
        variables: { mode: { description: 'Mode', default: 'oci' } } }],
      packageArguments: [{ type: 'positional', valueHint: 'transport', value: 'stdio' }],
      environmentVariables: [{ name: 'LOG_LEVEL', description: 'Log level', default: 'info' }],
    };
    const servers = [
      {
        $schema: SCHEMA, name: NAME, description: 'server-everything as an OCI image', version: '1.0.0',
        packages: [
          { registryType: 'pypi', identifier: 'not-installable', version: '1.0.0', transport: { type: 'stdio' } },
          pkg,
        ],
      },
      {
        $schema: SCHEMA, name: LEGACY, description: 'the same in the older shape', version: '1.0.0',
        packages: [{
          registryType: 'oci', registryBaseUrl: `http://${ref.slice(0, slash)}`,
          identifier: ref.slice(slash + 1, at), version: ref.slice(at + 1), transport: { type: 'stdio' },
        }],
      },
    ];
    reg = await startRegistry({ servers });
    root = newRoot('regoci');
    env = { CORRAL_MCP_REGISTRY: reg.url, DOCKER_HOST: eng.DOCKER_HOST };
  });

  after(async () => {
    try {
      if (client) await client.close().catch(() => {});
      if (daemon) await daemon.stop().catch(() => daemon.kill());
      if (reg) await reg.close();
      // A failed test can leave a container of ours behind.
      if (eng) {
        const r = await run('docker', ['ps', '-aq', '--filter', `label=io.corral.server=${UNIT}`],
          { env: corralEnv({ DOCKER_HOST: eng.DOCKER_HOST }), timeout: 30000 });
        for (const id of r.stdout.split('\n').filter(Boolean)) {
          const i = await run('docker', ['inspect', '-f', '{{index .Config.Labels "io.corral.root"}}', id],
            { env: corralEnv({ DOCKER_HOST: eng.DOCKER_HOST }), timeout: 30000 });
          if (i.stdout.trim().startsWith(root))
            await run('docker', ['rm', '-f', id], { env: corralEnv({ DOCKER_HOST: eng.DOCKER_HOST }), timeout: 30000 });
        }
      }
      if (root) cleanupRoot(root);
      if (eng) await eng.stop();
    } finally {
      if (lock) await lock.release();
    }
  });

  test('registry: oci package → docker resolver, digest pinned, inputs applied', async () => {
    const r = await corral(['install', `registry:${NAME}`, '--name', UNIT, '--yes', '--json'],
      { root, env, timeout: 180000 });
    expectExit(r, 0, 'registry oci install');
    assert.match(r.stderr, /skipping pypi package not-installable/);
    const m = JSON.parse(r.stdout);
    assert.equal(m.source.kind, 'registry');
    assert.deepEqual(m.source.registry, {
      url: reg.url, name: NAME, version: '1.0.0', package: 'oci', identifier: eng.images.CORRAL_TEST_IMAGE_A,
    });
    assert.equal(m.source.resolved.digest, eng.images.CORRAL_TEST_DIGEST_A, 'the repo digest is pinned');
    assert.equal(m.runtime.backend, 'docker');
    // `docker run IMAGE stdio`: the image's Entrypoint, then the
    // packageArguments in place of its Cmd (which is also "stdio").
    assert.equal(m.runtime.command.at(-1), 'stdio');
    assert.equal(m.runtime.command.filter((a) => a === 'stdio').length, 1, `Cmd replaced: ${m.runtime.command}`);
    assert.match(m.runtime.command[0], /node$/, 'the Entrypoint kept');
    assert.deepEqual(m.runtime.env, { EVERYTHING_MODE: 'oci', LOG_LEVEL: 'info' },
      'runtimeArguments -e and environmentVariables become the environment');
    const onDisk = JSON.parse(fs.readFileSync(path.join(root, 'servers', UNIT, 'manifest.json'), 'utf8'));
    assert.equal(onDisk.source.registry.package, 'oci');

    const old = await corral(['install', `registry:${LEGACY}`, '--name', 'legacy', '--dry-run', '--json'],
      { root, env, timeout: 180000 });
    expectExit(old, 0, 'registry oci install of the older shape (--dry-run)');
    const om = JSON.parse(old.stdout);
    assert.equal(om.source.resolved.digest, eng.images.CORRAL_TEST_DIGEST_A, 'the same image');
  });

  test('listed and called through the gateway', async () => {
    daemon = await startDaemon(root, { env: { DOCKER_HOST: eng.DOCKER_HOST } });
    await waitReady(root, [UNIT], 120000);
    client = await McpClient.connect(socketPath(root));
    await client.initialize();
    const tools = await client.waitTools((n) => n.includes(`${UNIT}__echo`), 'the OCI unit\'s echo tool');
    assert.ok(tools.find((t) => t.name === `${UNIT}__echo`).inputSchema?.properties?.message);
    const res = await client.callTool(`${UNIT}__echo`, { message: 'from a registry image' });
    assert.equal(resultText(res), 'Echo: from a registry image');
  });
});
