// Issue 13, "What it must show": a `registry:` install of an OCI package,
// run from docker.test.mjs on its Docker engine (not Podman: the docker
// resolver's Podman path is that suite's own), so that it costs no engine
// start and no image build of its own.  The registry stand-in
// (registry-standin.mjs, API v0.1) serves a server.json whose only
// installable package is registryType "oci", pointing at the test image
// scripts/docker-image pushed to the private registry on 127.0.0.1:5000.  The
// install hands it to the docker resolver (digest pinned, packageArguments
// in place of the image's Cmd, runtimeArguments -e and environmentVariables
// as its environment); a document in the older shape (host in
// registryBaseUrl, tag in "version") resolves to the same digest; a daemon
// of its own runs it as a container and its tool is listed and called
// through the gateway.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import {
  McpClient, cleanupRoot, corral, corralEnv, expectExit, newRoot, resultText, run, socketPath,
  startDaemon, waitReady,
} from './lib.mjs';
import { SCHEMA, startRegistry } from './registry-standin.mjs';

const NAME = 'io.github.corral-test/everything-oci';
const LEGACY = 'io.github.corral-test/everything-oci-legacy';
const UNIT = 'oci';

/* images: what scripts/docker-image printed; dockerHost: the engine. */
export async function registryOciChecks({ images, dockerHost }) {
  const ref = images.CORRAL_TEST_IMAGE_A;
  assert.ok(ref && images.CORRAL_TEST_DIGEST_A, `docker-image printed ${JSON.stringify(images)}`);
  const at = ref.lastIndexOf(':');
  const slash = ref.indexOf('/');
  const servers = [
    {
      $schema: SCHEMA, name: NAME, description: 'server-everything as an OCI image', version: '1.0.0',
      packages: [
        { registryType: 'pypi', identifier: 'not-installable', version: '1.0.0', transport: { type: 'stdio' } },
        {
          registryType: 'oci',
          identifier: ref, // a full reference (2025-12 schema)
          transport: { type: 'stdio' },
          runtimeHint: 'docker',
          // `docker run` options: -i/--rm left out, -e as the environment
          // (a secret one through secrets.json), -v bound read-only,
          // --network none and a lower --memory honoured.
          runtimeArguments: [
            { type: 'positional', value: '-i' },
            { type: 'positional', value: '--rm' },
            { type: 'named', name: '-e', value: 'EVERYTHING_MODE={mode}',
              variables: { mode: { description: 'Mode', default: 'oci' } } },
            { type: 'named', name: '-e', value: 'API_TOKEN={token}', isSecret: true,
              variables: { token: { description: 'A token', isRequired: true } } },
            { type: 'named', name: '-v', value: '{data}:/data',
              variables: { data: { description: 'A host directory', isRequired: true } } },
            { type: 'named', name: '--network', value: 'none' },
            { type: 'named', name: '--memory', value: '256m' },
          ],
          packageArguments: [{ type: 'positional', valueHint: 'transport', value: 'stdio' }],
          environmentVariables: [{ name: 'LOG_LEVEL', description: 'Log level', default: 'info' }],
        },
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
  servers.push({
    $schema: SCHEMA, name: `${NAME}-privileged`, description: 'asks for what corral does not give', version: '1.0.0',
    packages: [{
      registryType: 'oci', identifier: ref, transport: { type: 'stdio' },
      runtimeArguments: [{ type: 'positional', value: '--privileged' }, { type: 'named', name: '--network', value: 'host' },
        { type: 'named', name: '-v', value: 'cache:/cache' }],
    }],
  });
  const reg = await startRegistry({ servers });
  const root = newRoot('regoci');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-regoci-'));
  const TOKEN = `tok-${process.pid}-${Date.now()}`;
  const env = { CORRAL_MCP_REGISTRY: reg.url, DOCKER_HOST: dockerHost };
  const denv = corralEnv({ DOCKER_HOST: dockerHost });
  let daemon;
  let client;
  try {
    const bad = await corral(['install', `registry:${NAME}-privileged`, '--yes'], { root, env, timeout: 60000 });
    expectExit(bad, 69, 'runtimeArguments that weaken the container');
    assert.match(bad.stderr, /cannot honour: --privileged, --network host .*-v cache:\/cache/);
    assert.ok(!fs.existsSync(path.join(root, 'servers', `${NAME}-privileged`)));
    const r = await corral(['install', `registry:${NAME}`, '--name', UNIT, '--yes', '--json',
      '--set', `token=${TOKEN}`, '--set', `data=${dataDir}`], { root, env, timeout: 180000 });
    expectExit(r, 0, 'registry oci install');
    assert.match(r.stderr, /runtimeArguments -i, --rm left out/);
    assert.match(r.stderr, /skipping pypi package not-installable/);
    const m = JSON.parse(r.stdout);
    assert.equal(m.source.kind, 'registry');
    assert.deepEqual(m.source.registry, { url: reg.url, name: NAME, version: '1.0.0', package: 'oci', identifier: ref });
    assert.equal(m.source.resolved.digest, images.CORRAL_TEST_DIGEST_A, 'the repo digest is pinned');
    assert.equal(m.runtime.backend, 'docker');
    // `docker run IMAGE stdio`: the image's Entrypoint, then the
    // packageArguments in place of its Cmd (which is also "stdio").
    assert.equal(m.runtime.command.at(-1), 'stdio');
    assert.equal(m.runtime.command.filter((a) => a === 'stdio').length, 1, `Cmd replaced: ${m.runtime.command}`);
    assert.match(m.runtime.command[0], /node$/, 'the Entrypoint kept');
    assert.deepEqual(m.runtime.env, { EVERYTHING_MODE: 'oci', API_TOKEN: null, LOG_LEVEL: 'info' },
      'runtimeArguments -e and environmentVariables become the environment');
    assert.deepEqual(m.sandbox.mounts, [`${fs.realpathSync(dataDir)}:/data:ro`]);
    assert.equal(m.sandbox.memory_mb, 256);
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(root, 'servers', UNIT, 'secrets.json'), 'utf8')).env,
      { API_TOKEN: TOKEN });
    assert.ok(!r.stdout.includes(TOKEN), 'the secret is not in the manifest');
    const onDisk = JSON.parse(fs.readFileSync(path.join(root, 'servers', UNIT, 'manifest.json'), 'utf8'));
    assert.equal(onDisk.source.registry.package, 'oci');

    const old = await corral(['install', `registry:${LEGACY}`, '--name', 'legacy', '--dry-run', '--json'],
      { root, env, timeout: 180000 });
    expectExit(old, 0, 'registry oci install of the older shape (--dry-run)');
    assert.equal(JSON.parse(old.stdout).source.resolved.digest, images.CORRAL_TEST_DIGEST_A, 'the same image');

    // Run by a daemon of its own, listed and called through the gateway.
    daemon = await startDaemon(root, { env: { DOCKER_HOST: dockerHost } });
    await waitReady(root, [UNIT], 120000);
    client = await McpClient.connect(socketPath(root));
    await client.initialize();
    const tools = await client.waitTools((n) => n.includes(`${UNIT}__echo`), 'the OCI unit\'s echo tool');
    assert.ok(tools.find((t) => t.name === `${UNIT}__echo`).inputSchema?.properties?.message);
    assert.equal(resultText(await client.callTool(`${UNIT}__echo`, { message: 'from a registry image' })),
      'Echo: from a registry image');
    // The container's environment: the -e values, the secret one filled in.
    const envText = resultText(await client.callTool(`${UNIT}__get-env`, {}));
    const cenv = JSON.parse(envText);
    assert.equal(cenv.API_TOKEN, TOKEN);
    assert.equal(cenv.EVERYTHING_MODE, 'oci');
  } finally {
    if (client) await client.close().catch(() => {});
    if (daemon) await daemon.stop().catch(() => daemon.kill());
    await reg.close();
    // A failure can leave a container of this root behind.
    const ps = await run('docker', ['ps', '-aq', '--filter', `label=io.corral.server=${UNIT}`], { env: denv, timeout: 30000 });
    for (const id of ps.stdout.split('\n').filter(Boolean)) {
      const i = await run('docker', ['inspect', '-f', '{{index .Config.Labels "io.corral.root"}}', id], { env: denv, timeout: 30000 });
      if (i.stdout.trim().startsWith(root)) await run('docker', ['rm', '-f', id], { env: denv, timeout: 30000 });
    }
    cleanupRoot(root);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
