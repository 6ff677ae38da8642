// The official MCP Registry, MCPB bundles and `corral search` (issue 13),
// against a stand-in of the registry's API v0.1 on 127.0.0.1 serving
// server.json documents of the published schema: a registry server installed
// as its npm package (the real server-everything from the npm registry), as
// its MCPB bundle (packed here by the real @anthropic-ai/mcpb CLI from the
// server-everything fixture) and as a remote (server-everything over
// Streamable HTTP on loopback), each listed and called through the gateway;
// required inputs missing fail listing them; secrets end in secrets.json only;
// malicious bundles and a wrong fileSha256 are refused leaving nothing behind;
// search follows the registry's cursor.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  FIXTURES, McpClient, cleanupRoot, corral, expectExit, expectOneLineError, expectSameTree, newRoot,
  resultText, run, socketPath, startDaemon, storeSnapshot, waitFor, waitReady,
} from './lib.mjs';
import { SCHEMA, makeZip, startRegistry } from './registry-standin.mjs';

const EVERYTHING_DIR = path.join(FIXTURES, 'everything/node_modules/@modelcontextprotocol/server-everything');
const EVERYTHING = path.join(EVERYTHING_DIR, 'dist/index.js');
const MCPB_CLI = path.join(FIXTURES, 'mcpb/node_modules/@anthropic-ai/mcpb/dist/cli/cli.js');
const EV_VERSION = JSON.parse(fs.readFileSync(path.join(EVERYTHING_DIR, 'package.json'), 'utf8')).version;
const NAME = 'io.github.modelcontextprotocol/server-everything';
const SECRET = `s3cret-${crypto.randomBytes(6).toString('hex')}`;
const BUNDLE_SECRET = `bundle-${crypto.randomBytes(6).toString('hex')}`;
const HEADER_SECRET = `hdr-${crypto.randomBytes(6).toString('hex')}`;
const ARG_SECRET = `arg-${crypto.randomBytes(6).toString('hex')}`;
const MCPB_ARG_SECRET = `mcpbarg-${crypto.randomBytes(6).toString('hex')}`;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/* The manifest of the bundle packed from the server-everything fixture. */
const EVERYTHING_MANIFEST = {
  manifest_version: '0.3',
  name: 'everything',
  display_name: 'Everything',
  version: EV_VERSION,
  description: 'server-everything packed as an MCP Bundle',
  author: { name: 'corral tests' },
  server: {
    type: 'node',
    entry_point: 'server/node_modules/@modelcontextprotocol/server-everything/dist/index.js',
    mcp_config: {
      command: 'node',
      args: ['${__dirname}/server/node_modules/@modelcontextprotocol/server-everything/dist/index.js', 'stdio'],
      env: { EVERYTHING_API_KEY: '${user_config.api_key}', EVERYTHING_MODE: '${user_config.mode}' },
    },
  },
  user_config: {
    api_key: { type: 'string', title: 'API key', description: 'A key the server gets', sensitive: true, required: true },
    mode: { type: 'string', title: 'Mode', description: 'A plain setting', default: 'plain', required: false },
  },
  compatibility: { platforms: ['darwin', 'win32', 'linux'], runtimes: { node: '>=18.0.0' } },
};

/* The bundle `mcpb pack` makes from the server-everything fixture, packed
 * once per content: kept under $CORRAL_CI_CACHE (default
 * /var/cache/corral-ci; nothing kept when it cannot be written) keyed by the
 * manifest, the fixture's and the mcpb CLI's package-lock.json and node's
 * version, so a later run reads it instead of packing again (~15 s). */
async function packEverything(dir) {
  const key = crypto.createHash('sha256').update(JSON.stringify([
    EVERYTHING_MANIFEST, process.version,
    fs.readFileSync(path.join(FIXTURES, 'everything/package-lock.json'), 'utf8'),
    fs.readFileSync(path.join(FIXTURES, 'mcpb/package-lock.json'), 'utf8'),
  ])).digest('hex').slice(0, 24);
  const cacheDir = path.join(process.env.CORRAL_CI_CACHE || '/var/cache/corral-ci', 'mcpb');
  const cached = path.join(cacheDir, `everything-${key}.mcpb`);
  if (fs.existsSync(cached)) return fs.readFileSync(cached);
  const src = path.join(dir, 'everything-bundle');
  fs.mkdirSync(path.join(src, 'server'), { recursive: true });
  fs.cpSync(path.join(FIXTURES, 'everything/node_modules'), path.join(src, 'server/node_modules'),
    { recursive: true, dereference: true });
  fs.writeFileSync(path.join(src, 'manifest.json'), JSON.stringify(EVERYTHING_MANIFEST, null, 2));
  const out = path.join(dir, 'everything.mcpb');
  const r = await run(process.execPath, [MCPB_CLI, 'pack', src, out], { timeout: 120000 });
  expectExit(r, 0, 'mcpb pack');
  const data = fs.readFileSync(out);
  try {
    fs.mkdirSync(cacheDir, { recursive: true });
    const tmpFile = `${cached}.tmp-${process.pid}`;
    fs.writeFileSync(tmpFile, data);
    fs.renameSync(tmpFile, cached); // whole or not at all
  } catch { /* not writable: packed again next time */ }
  return data;
}

const sha256 = (b) => crypto.createHash('sha256').update(b).digest('hex');

function serverJson(name, extra) {
  return {
    $schema: SCHEMA,
    name,
    description: `${name} for corral's tests`,
    repository: { url: 'https://github.com/modelcontextprotocol/servers', source: 'github', subfolder: 'src/everything' },
    version: EV_VERSION,
    ...extra,
  };
}

describe('registry: the official MCP Registry API v0.1, MCPB bundles, search', { timeout: 400000 }, () => {
  let root;
  let tmp;
  let reg;
  let remote;
  let daemon;
  let bundle;
  let env;

  before(async () => {
    root = newRoot('registry');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-registry-'));
    const port = await freePort();
    remote = spawn(process.execPath, [EVERYTHING, 'streamableHttp'], {
      env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'ignore'],
    });
    bundle = await packEverything(tmp);
    const everythingPkgs = [
      // Skipped with a note: corral cannot reach PyPI.
      { registryType: 'pypi', identifier: 'mcp-server-everything', version: EV_VERSION, transport: { type: 'stdio' } },
      {
        registryType: 'mcpb',
        identifier: 'BASE/bundles/everything.mcpb',
        version: EV_VERSION,
        fileSha256: sha256(bundle),
        transport: { type: 'stdio' },
        // After the bundle's own mcp_config args: a {variable} and a secret.
        packageArguments: [
          { type: 'named', name: '--label', value: '{who}-bundle', variables: { who: { description: 'Who', default: 'corral' } } },
          { type: 'named', name: '--mcpb-token', description: 'A token on the bundle\'s command line', isSecret: true },
        ],
      },
      {
        registryType: 'npm',
        registryBaseUrl: 'https://registry.npmjs.org',
        identifier: '@modelcontextprotocol/server-everything',
        version: EV_VERSION,
        runtimeHint: 'npx',
        transport: { type: 'stdio' },
        // npx's -y left out; node's own options before the script.
        runtimeArguments: [
          { type: 'positional', value: '-y' },
          { type: 'named', name: '--max-old-space-size', value: '200' },
          { type: 'named', name: '--node-options', value: '--enable-source-maps --no-warnings' },
        ],
        packageArguments: [
          { type: 'positional', valueHint: 'transport', value: 'stdio' },
          // A secret argument: ${CORRAL_ARG_TOKEN} in the manifest, its value in secrets.json.
          { type: 'named', name: '--token', description: 'A token on the command line', isSecret: true },
        ],
        environmentVariables: [
          { name: 'EVERYTHING_TOKEN', description: 'A token', isRequired: true, isSecret: true, format: 'string' },
          { name: 'LOG_LEVEL', description: 'Log level', default: 'info', choices: ['debug', 'info', 'warn'] },
        ],
      },
    ];
    const servers = [
      serverJson(NAME, { version: '0.0.1', packages: everythingPkgs.slice(2) }),
      serverJson(NAME, { packages: everythingPkgs }),
      serverJson('io.github.example/python-only', {
        packages: [{ registryType: 'pypi', identifier: 'weather-mcp', version: '0.5.0', transport: { type: 'stdio' } },
          { registryType: 'nuget', identifier: 'Weather.Mcp', version: '0.5.0', transport: { type: 'stdio' } }],
      }),
      serverJson('io.github.example/bad-sha', {
        packages: [{ registryType: 'mcpb', identifier: 'BASE/bundles/everything.mcpb', version: EV_VERSION, fileSha256: sha256(Buffer.from('not it')), transport: { type: 'stdio' } }],
      }),
      serverJson('io.github.example/everything-remote', {
        remotes: [{
          type: 'streamable-http',
          url: `http://127.0.0.1:{port}/mcp`,
          variables: { port: { description: 'Port', default: String(port) } },
          headers: [{ name: 'X-Api-Key', description: 'API key', isRequired: true, isSecret: true }],
        }],
      }),
    ];
    // An isRepeated named argument.
    servers.push(serverJson('io.github.example/repeated', {
      packages: [{
        registryType: 'npm', identifier: '@modelcontextprotocol/server-everything', version: EV_VERSION,
        transport: { type: 'stdio' },
        packageArguments: [
          { type: 'positional', valueHint: 'transport', value: 'stdio' },
          { type: 'named', name: '--tag', isRepeated: true, description: 'A tag, any number of times' },
        ],
      }],
    }));
    servers.push(serverJson('io.github.example/node-require', {
      packages: [{
        registryType: 'npm', identifier: '@modelcontextprotocol/server-everything', version: EV_VERSION,
        runtimeHint: 'npx', transport: { type: 'stdio' },
        runtimeArguments: [
          { type: 'named', name: '--node-options', value: '--require ./evil.js' },
          { type: 'positional', value: '--inspect=0.0.0.0:9229' },
          { type: 'positional', value: '--package=left-pad' },
        ],
      }],
    }));
    for (let i = 1; i <= 45; i++) {
      servers.push(serverJson(`io.github.example/paged-${String(i).padStart(2, '0')}`, {
        description: `paged server ${i}`,
        packages: [{ registryType: 'npm', identifier: `paged-${i}`, version: '1.0.0', transport: { type: 'stdio' } }],
      }));
    }
    // Smithery documents (GET /servers/{qualifiedName}): a stdio connection
    // with a bundle and a configSchema, and an http deployment.
    const smithery = {
      '@corral/everything-bundle': {
        qualifiedName: '@corral/everything-bundle',
        displayName: 'Everything (bundle)',
        description: 'server-everything as a bundle',
        remote: false,
        connections: [{
          type: 'stdio',
          bundleUrl: 'BASE/bundles/everything.mcpb',
          runtime: 'node',
          configSchema: {
            type: 'object',
            properties: {
              api_key: { type: 'string', description: 'A key the server gets' },
              mode: { type: 'string', enum: ['plain', 'fancy'], default: 'plain' },
            },
            required: ['api_key'],
          },
        }],
        security: { scanPassed: true },
        tools: [{ name: 'echo', description: 'Echoes back the input', inputSchema: { type: 'object', properties: {} } }],
      },
      // A stdio connection that runs the npm package with npx, its
      // configuration mapped by the stdioFunction (read, never run).
      '@corral/everything-npx': {
        qualifiedName: '@corral/everything-npx',
        displayName: 'Everything (npx)',
        remote: false,
        connections: [{
          type: 'stdio',
          stdioFunction: `(config) => ({
            command: 'npx',
            // the transport is an argument, the token an environment variable
            args: ['-y', '@modelcontextprotocol/server-everything@${EV_VERSION}', config.transport, config["extra"],],
            env: { EVERYTHING_TOKEN: config.token, EVERYTHING_PLAIN: "yes" },
          })`,
          configSchema: {
            type: 'object',
            properties: {
              transport: { type: 'string', enum: ['stdio'], default: 'stdio' },
              token: { type: 'string', description: 'A token' },
              extra: { type: 'string' },
            },
            required: ['token'],
          },
        }],
      },
      '@corral/js-only': {
        qualifiedName: '@corral/js-only',
        connections: [{
          type: 'stdio',
          stdioFunction: "(c) => ({ command: 'npx', args: c.debug ? ['-y', 'left-pad', '--debug'] : ['-y', 'left-pad'] })",
          configSchema: { type: 'object', properties: { debug: { type: 'boolean' } } },
        }],
      },
      '@corral/everything-hosted': {
        qualifiedName: '@corral/everything-hosted',
        displayName: 'Everything (hosted)',
        description: 'server-everything deployed over HTTP',
        remote: true,
        deploymentUrl: `http://127.0.0.1:${port}`,
        connections: [{ type: 'http', deploymentUrl: `http://127.0.0.1:${port}/mcp`, configSchema: {} }],
        security: { scanPassed: true },
        tools: [],
      },
    };
    // More than one page of Smithery search results (30 a page).
    for (let i = 1; i <= 35; i++) {
      const qn = `@corral/smithery-list-${String(i).padStart(2, '0')}`;
      smithery[qn] = { qualifiedName: qn, displayName: `Listed ${i}`, description: `listed server ${i}`, remote: i % 2 === 0, connections: [] };
    }
    reg = await startRegistry({ servers, smithery, bundles: { 'everything.mcpb': bundle } });
    const c0 = smithery['@corral/everything-bundle'].connections[0];
    c0.bundleUrl = reg.url + c0.bundleUrl.slice(4);
    // The bundle's URL needs the stand-in's port, known only now.
    for (const s of servers)
      for (const p of s.packages || [])
        if (p.identifier.startsWith('BASE/')) p.identifier = reg.url + p.identifier.slice(4);
    env = { CORRAL_MCP_REGISTRY: `${reg.url}/`, CORRAL_SMITHERY_REGISTRY: reg.url, SMITHERY_API_KEY: 'sk-test' };
    await waitFor(() => new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    }), { timeout: 30000, what: 'server-everything over streamable http' });
  });

  after(async () => {
    if (daemon) await daemon.kill();
    if (remote && remote.exitCode === null) remote.kill('SIGKILL');
    if (reg) await reg.close();
    cleanupRoot(root);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('required inputs missing in a non-interactive install: refused, listed, nothing installed', async () => {
    const before = storeSnapshot(root);
    const r = await corral(['install', `registry:${NAME}`, '--package', 'npm', '--yes'], { root, env });
    expectExit(r, 64, 'install without EVERYTHING_TOKEN');
    expectOneLineError(r, ['missing required values', 'EVERYTHING_TOKEN', '--set']);
    const bad = await corral(['install', `registry:${NAME}`, '--package', 'npm', '--yes',
      '--set', 'EVERYTHING_TOKEN=x', '--set', 'LOG_LEVEL=loud'], { root, env });
    expectExit(bad, 64, 'a value outside choices');
    expectOneLineError(bad, ['LOG_LEVEL', 'debug, info, warn']);
    const typo = await corral(['install', `registry:${NAME}`, '--package', 'npm', '--yes',
      '--set', 'EVERYTHING_TOKEN=x', '--set', 'EVERYTHING_TOKNE=y'], { root, env });
    expectExit(typo, 64, 'an unknown --set key');
    expectOneLineError(typo, ['EVERYTHING_TOKNE', 'EVERYTHING_TOKEN']);
    expectSameTree(before, storeSnapshot(root));
  });

  test('nothing installable: the error names the package types offered', async () => {
    const r = await corral(['install', 'registry:io.github.example/python-only', '--yes'], { root, env });
    expectExit(r, 69, 'pypi/nuget only');
    assert.match(r.stderr, /pypi, nuget/);
    const none = await corral(['install', 'registry:io.github.example/nope', '--yes'], { root, env });
    expectExit(none, 66, 'unknown server');
    expectOneLineError(none, ['io.github.example/nope', reg.url]);
  });

  test('registry: npm package (real server-everything from npm), secret in secrets.json only', async () => {
    const cfg = path.join(tmp, 'inputs.json');
    fs.writeFileSync(cfg, JSON.stringify({ EVERYTHING_TOKEN: SECRET, token: ARG_SECRET }));
    const r = await corral(['install', `registry:${NAME}`, '--package', 'npm', '--name', 'everything',
      '--config', cfg, '--yes', '--json'], { root, env, timeout: 240000 });
    expectExit(r, 0, 'registry npm install');
    assert.match(r.stderr, /skipping pypi package mcp-server-everything/);
    const m = JSON.parse(r.stdout);
    assert.equal(m.source.kind, 'registry');
    assert.deepEqual(m.source.registry, {
      url: reg.url, name: NAME, version: EV_VERSION, package: 'npm',
      identifier: '@modelcontextprotocol/server-everything',
    });
    assert.equal(m.source.resolved.version, EV_VERSION);
    assert.deepEqual(m.runtime.command.slice(0, 4),
      ['node', '--max-old-space-size=200', '--enable-source-maps', '--no-warnings'], 'node flags before the script');
    assert.match(m.runtime.command[4], /server-everything\/dist\/index\.js$/);
    assert.deepEqual(m.runtime.command.slice(-3), ['stdio', '--token', '${CORRAL_ARG_TOKEN}']);
    assert.match(r.stderr, /runtimeArguments -y left out/);
    assert.deepEqual(m.runtime.env, { EVERYTHING_TOKEN: null, LOG_LEVEL: 'info' });
    assert.ok(m.source.lock.length > 10, 'the npm lock is recorded');
    const sp = path.join(root, 'servers/everything/secrets.json');
    assert.equal(fs.statSync(sp).mode & 0o777, 0o600);
    assert.deepEqual(JSON.parse(fs.readFileSync(sp, 'utf8')).env, { EVERYTHING_TOKEN: SECRET, CORRAL_ARG_TOKEN: ARG_SECRET });
    // The version asked for explicitly is the old one.
    const old = await corral(['install', `registry:${NAME}@0.0.1`, '--name', 'old', '--dry-run',
      '--set', 'EVERYTHING_TOKEN=x'], { root, env, timeout: 240000 });
    expectExit(old, 0, 'install @0.0.1 --dry-run');
    assert.equal(JSON.parse(old.stdout).source.registry.version, '0.0.1');
    assert.ok(reg.requests.some((q) => q.path === `/v0.1/servers/${encodeURIComponent(NAME)}/versions/0.0.1`),
      'the name is URL-encoded in the path');
  });

  test('registry: MCPB package chosen first, fileSha256 checked, user_config secret kept apart', async () => {
    const r = await corral(['install', `registry:${NAME}`, '--name', 'everything-mcpb', '--yes', '--json',
      '--set', `api_key=${BUNDLE_SECRET}`, '--set', `mcpb-token=${MCPB_ARG_SECRET}`], { root, env, timeout: 120000 });
    expectExit(r, 0, 'registry mcpb install');
    const m = JSON.parse(r.stdout);
    assert.equal(m.source.registry.package, 'mcpb');
    assert.equal(m.source.resolved.digest, `sha256:${sha256(bundle)}`);
    const pkg = path.join(root, 'servers/everything-mcpb/pkg');
    // packageArguments after the bundle's mcp_config args; the secret one by reference.
    assert.deepEqual(m.runtime.command, ['node', `${pkg}/server/node_modules/@modelcontextprotocol/server-everything/dist/index.js`, 'stdio',
      '--label', 'corral-bundle', '--mcpb-token', '${CORRAL_ARG_MCPB_TOKEN}']);
    assert.deepEqual(m.runtime.env, { EVERYTHING_API_KEY: null, EVERYTHING_MODE: 'plain' });
    const secrets = JSON.parse(fs.readFileSync(path.join(root, 'servers/everything-mcpb/secrets.json'), 'utf8'));
    assert.deepEqual(secrets.env, { EVERYTHING_API_KEY: BUNDLE_SECRET, CORRAL_ARG_MCPB_TOKEN: MCPB_ARG_SECRET });

    const before = storeSnapshot(root);
    const bad = await corral(['install', 'registry:io.github.example/bad-sha', '--yes'], { root, env });
    expectExit(bad, 65, 'a wrong fileSha256');
    expectOneLineError(bad, ['sha256 mismatch']);
    expectSameTree(before, storeSnapshot(root));
  });

  test('registry: remote with a {variable} URL and a secret header', async () => {
    const r = await corral(['install', 'registry:io.github.example/everything-remote', '--yes', '--json',
      '--set', `X-Api-Key=${HEADER_SECRET}`], { root, env, timeout: 60000 });
    expectExit(r, 0, 'registry remote install');
    const m = JSON.parse(r.stdout);
    assert.equal(m.runtime.backend, 'remote');
    assert.match(m.runtime.command[0], /^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    assert.equal(m.source.registry.package, 'remote');
  });

  // Before the smithery: servers exist: `outdated` fetches those again.
  test('registry: outdated and update follow the registry\'s new version, with the values given at install', async () => {
    const UPD = 'io.github.example/updatable';
    const upd = (version, extraArgs = []) => serverJson(UPD, {
      version,
      packages: [{
        registryType: 'npm', identifier: '@modelcontextprotocol/server-everything', version: EV_VERSION,
        transport: { type: 'stdio' },
        packageArguments: [{ type: 'positional', valueHint: 'transport', value: 'stdio' },
          { type: 'named', name: '--label', description: 'A label', isRequired: true }, ...extraArgs],
        environmentVariables: [{ name: 'UPD_TOKEN', isRequired: true, isSecret: true }],
      }],
    });
    reg.publish(upd('1.0.0'));
    const r = await corral(['install', `registry:${UPD}`, '--name', 'upd', '--yes', '--json',
      '--set', `UPD_TOKEN=${SECRET}`, '--set', 'label=one'], { root, env, timeout: 240000 });
    expectExit(r, 0, 'install updatable 1.0.0');
    const outdated = async () => {
      const o = await corral(['outdated', '--json'], { root, env, timeout: 60000 });
      expectExit(o, 0, 'outdated');
      return JSON.parse(o.stdout).find((x) => x.name === 'upd');
    };
    assert.deepEqual(await outdated(), { name: 'upd', kind: 'registry', current: '1.0.0', wanted: '1.0.0', latest: '1.0.0', outdated: false });
    reg.publish(upd('1.1.0', [{ type: 'named', name: '--mode', value: 'v2' }]));
    assert.deepEqual(await outdated(), { name: 'upd', kind: 'registry', current: '1.0.0', wanted: '1.1.0', latest: '1.1.0', outdated: true });
    const dry = await corral(['update', 'upd', '--dry-run'], { root, env });
    expectExit(dry, 0, 'update --dry-run');
    assert.equal(dry.stdout.trim(), 'would update upd: version 1.0.0 -> 1.1.0');
    const u = await corral(['update', 'upd', '--json'], { root, env, timeout: 240000 });
    expectExit(u, 0, 'update');
    assert.deepEqual(JSON.parse(u.stdout), { name: 'upd', updated: true, dry_run: false, old_version: '1.0.0', version: '1.1.0' });
    const m = JSON.parse(fs.readFileSync(path.join(root, 'servers/upd/manifest.json'), 'utf8'));
    assert.equal(m.source.registry.version, '1.1.0');
    assert.deepEqual(m.runtime.command.slice(-5), ['stdio', '--label', 'one', '--mode', 'v2'], 'the label given at install, given again');
    assert.deepEqual(m.runtime.env, { UPD_TOKEN: null });
    assert.equal(JSON.parse(fs.readFileSync(path.join(root, 'servers/upd/secrets.json'), 'utf8')).env.UPD_TOKEN, SECRET);
    assert.equal((await outdated()).outdated, false);
    // Back to 1.0.0 by name: the spec pins it from now on.
    const back = await corral(['update', 'upd', '1.0.0'], { root, env, timeout: 240000 });
    expectExit(back, 0, 'update upd 1.0.0');
    assert.deepEqual(await outdated(), { name: 'upd', kind: 'registry', current: '1.0.0', wanted: '1.0.0', latest: '1.1.0', outdated: true });
    const none = await corral(['update', 'upd', '9.9.9'], { root, env });
    expectExit(none, 66, 'a version the registry does not have');
  });

  test('smithery: a stdio bundle with its configSchema asked, an http deployment as a remote', async () => {
    const miss = await corral(['install', 'smithery:@corral/everything-bundle', '--yes'], { root, env, timeout: 120000 });
    expectExit(miss, 64, 'without api_key');
    expectOneLineError(miss, ['missing required values', 'api_key']);
    const bad = await corral(['install', 'smithery:@corral/everything-bundle', '--yes', '--set', 'api_key=x',
      '--set', 'mode=loud'], { root, env, timeout: 120000 });
    expectExit(bad, 64, 'a value outside the enum');
    expectOneLineError(bad, ['mode', 'plain, fancy']);
    const r = await corral(['install', 'smithery:@corral/everything-bundle', '--name', 'sm-bundle', '--yes', '--json',
      '--set', `api_key=${BUNDLE_SECRET}`], { root, env, timeout: 120000 });
    expectExit(r, 0, 'smithery bundle install');
    const m = JSON.parse(r.stdout);
    assert.equal(m.source.kind, 'smithery');
    assert.equal(m.source.registry.package, 'mcpb');
    assert.deepEqual(m.runtime.env, { EVERYTHING_API_KEY: null, EVERYTHING_MODE: 'plain' });
    assert.ok(reg.requests.some((q) => q.path === '/servers/@corral/everything-bundle' &&
      q.headers.authorization === 'Bearer sk-test'), 'the API key is sent as a bearer token');
    const h = await corral(['install', 'smithery:@corral/everything-hosted', '--name', 'sm-hosted', '--yes', '--json'],
      { root, env, timeout: 60000 });
    expectExit(h, 0, 'smithery http install');
    const hm = JSON.parse(h.stdout);
    assert.equal(hm.runtime.backend, 'remote');
    assert.equal(hm.source.registry.package, 'remote');

    // npx with configuration: the stdioFunction's args and env filled in.
    const nmiss = await corral(['install', 'smithery:@corral/everything-npx', '--yes'], { root, env });
    expectExit(nmiss, 64, 'npx without token');
    expectOneLineError(nmiss, ['missing required values', 'token']);
    const n = await corral(['install', 'smithery:@corral/everything-npx', '--name', 'sm-npx', '--yes', '--json',
      '--set', `token=${SECRET}`], { root, env, timeout: 240000 });
    expectExit(n, 0, 'smithery npx install');
    const nm = JSON.parse(n.stdout);
    assert.equal(nm.source.registry.package, 'npm');
    assert.equal(nm.source.registry.identifier, `@modelcontextprotocol/server-everything@${EV_VERSION}`);
    assert.equal(nm.runtime.command[0], 'node');
    assert.equal(nm.runtime.command.at(-1), 'stdio', 'config.transport (its default); config.extra left out');
    assert.deepEqual(nm.runtime.env, { EVERYTHING_TOKEN: null, EVERYTHING_PLAIN: 'yes' });
    const nsec = JSON.parse(fs.readFileSync(path.join(root, 'servers/sm-npx/secrets.json'), 'utf8'));
    assert.deepEqual(nsec.env, { EVERYTHING_TOKEN: SECRET });
    const js = await corral(['install', 'smithery:@corral/js-only', '--yes'], { root, env });
    expectExit(js, 69, 'a stdioFunction with a conditional');
    expectOneLineError(js, ['@corral/js-only', 'does not evaluate']);
  });

  test('registry: runtimeArguments corral cannot honour are refused, named, nothing installed', async () => {
    const before = storeSnapshot(root);
    const r = await corral(['install', 'registry:io.github.example/node-require', '--yes'], { root, env });
    expectExit(r, 69, 'runtimeArguments that load other code');
    expectOneLineError(r, ['runtimeArguments corral cannot honour', '--require ./evil.js', '--inspect=0.0.0.0:9229', '--package=left-pad']);
    expectSameTree(before, storeSnapshot(root));
  });

  test('registry: an isRepeated argument appears once per value', async () => {
    const r = await corral(['install', 'registry:io.github.example/repeated', '--name', 'rep', '--dry-run', '--json',
      '--set', 'tag=a', '--set', 'tag=b c'], { root, env, timeout: 240000 });
    expectExit(r, 0, 'install --dry-run with two tags');
    assert.deepEqual(JSON.parse(r.stdout).runtime.command.slice(-5), ['stdio', '--tag', 'a', '--tag', 'b c']);
    const cfg = path.join(tmp, 'tags.json');
    fs.writeFileSync(cfg, JSON.stringify({ tag: ['x', 'y', 'z'] }));
    const c = await corral(['install', 'registry:io.github.example/repeated', '--name', 'rep', '--dry-run', '--json',
      '--config', cfg], { root, env, timeout: 240000 });
    expectExit(c, 0, 'install --dry-run with a --config array');
    assert.deepEqual(JSON.parse(c.stdout).runtime.command.slice(-6), ['--tag', 'x', '--tag', 'y', '--tag', 'z']);
  });

  test('each is listed and called through the gateway; no secret in the store, logs or info', async () => {
    daemon = await startDaemon(root);
    await waitReady(root, ['everything', 'everything-mcpb', 'everything-remote', 'sm-bundle', 'sm-hosted', 'sm-npx'], 120000);
    const c = await McpClient.connect(socketPath(root));
    try {
      await c.initialize();
      const want = ['everything__echo', 'everything-mcpb__echo', 'everything-remote__echo', 'sm-bundle__echo',
        'sm-hosted__echo', 'sm-npx__echo'];
      await c.waitTools((n) => want.every((t) => n.includes(t)), 'the units\' tools');
      for (const t of want)
        assert.equal(resultText(await c.callTool(t, { message: t })), `Echo: ${t}`);
      // The npm server runs as `node FLAGS SCRIPT stdio --token VALUE`:
      // its secret argument filled in from secrets.json when it starts.
      const argvs = [];
      for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
        try {
          const a = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0$/, '').split('\0');
          if (a.includes('--max-old-space-size=200')) argvs.push(a);
        } catch { /* gone */ }
      }
      assert.ok(argvs.some((a) => a.includes('--enable-source-maps') && a.at(-3) === 'stdio' &&
        a.at(-2) === '--token' && a.at(-1) === ARG_SECRET), `the server's argv: ${JSON.stringify(argvs)}`);
      // The registry mcpb package's packageArguments, its secret filled in at start.
      const mcpbArgv = [];
      for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
        try {
          const a = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0$/, '').split('\0');
          if (a.includes('--mcpb-token')) mcpbArgv.push(a);
        } catch { /* gone */ }
      }
      assert.ok(mcpbArgv.some((a) => a.slice(-5).join(' ') === `stdio --label corral-bundle --mcpb-token ${MCPB_ARG_SECRET}`),
        `the bundle server's argv: ${JSON.stringify(mcpbArgv)}`);
    } finally {
      await c.close();
    }
    // The secret values are in secrets.json and nowhere else.
    const leaks = [];
    const walk = (dir) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) { if (e.name !== 'pkg' && e.name !== 'cache') walk(p); continue; }
        if (!e.isFile() || e.name === 'secrets.json') continue;
        let text;
        try { text = fs.readFileSync(p, 'latin1'); } catch (err) { if (err.code === 'ENOENT') continue; throw err; } // a journal gone meanwhile
        for (const s of [SECRET, BUNDLE_SECRET, HEADER_SECRET, ARG_SECRET, MCPB_ARG_SECRET]) if (text.includes(s)) leaks.push(`${p}: ${s}`);
      }
    };
    walk(root);
    for (const n of ['everything', 'everything-mcpb', 'everything-remote', 'sm-bundle', 'sm-hosted', 'sm-npx']) {
      const info = await corral(['info', '--json', n], { root });
      expectExit(info, 0, `info ${n}`);
      for (const s of [SECRET, BUNDLE_SECRET, HEADER_SECRET, ARG_SECRET, MCPB_ARG_SECRET]) if (info.stdout.includes(s)) leaks.push(`info ${n}: ${s}`);
    }
    assert.deepEqual(leaks, []);
  });

  test('corral search follows the registry\'s cursor across pages', async () => {
    const before = reg.requests.length;
    const r = await corral(['search', '--json', 'paged-'], { root, env });
    expectExit(r, 0, 'search');
    const hits = JSON.parse(r.stdout);
    assert.equal(hits.length, 45);
    assert.deepEqual(hits.map((h) => h.name), [...Array(45)].map((_, i) => `io.github.example/paged-${String(i + 1).padStart(2, '0')}`));
    assert.equal(hits[0].packages, 'npm');
    assert.equal(hits[0].registry, reg.url);
    const pages = reg.requests.slice(before).filter((q) => q.path === '/v0.1/servers');
    assert.ok(pages.length >= 2, `${pages.length} page requests`);
    assert.ok(pages.slice(1).every((q) => q.query.cursor), 'later pages carry the cursor');
    const few = await corral(['search', '--limit', '10', 'paged-'], { root, env });
    expectExit(few, 0, 'search --limit 10');
    assert.equal(few.stdout.trim().split('\n').length, 11, few.stdout);
    // Merged with Smithery's results, in turns.
    const ev = await corral(['search', '--json', 'server-everything'], { root, env });
    expectExit(ev, 0, 'search everything');
    assert.deepEqual(JSON.parse(ev.stdout).map((h) => [h.install, h.version, h.packages]),
      [[`registry:${NAME}`, EV_VERSION, 'mcpb, npm, pypi'], ['smithery:@corral/everything-bundle', '-', 'local'],
        ['smithery:@corral/everything-hosted', '-', 'remote']]);
  });

  test('corral search in Smithery: its pages followed, its key sent, merged; not asked unless configured', async () => {
    const before = reg.requests.length;
    const r = await corral(['search', '--json', 'smithery-list'], { root, env });
    expectExit(r, 0, 'search smithery-list');
    const hits = JSON.parse(r.stdout);
    assert.deepEqual(hits.map((h) => h.install),
      [...Array(35)].map((_, i) => `smithery:@corral/smithery-list-${String(i + 1).padStart(2, '0')}`));
    assert.deepEqual([hits[0].name, hits[0].version, hits[0].packages, hits[0].registry, hits[1].packages],
      ['@corral/smithery-list-01', '-', 'local', reg.url, 'remote']);
    const pages = reg.requests.slice(before).filter((q) => q.path === '/servers');
    assert.deepEqual(pages.map((q) => [q.query.q, q.query.page, q.query.pageSize, q.headers.authorization]),
      [['smithery-list', '1', '30', 'Bearer sk-test'], ['smithery-list', '2', '30', 'Bearer sk-test']]);
    const text = await corral(['search', '--limit', '3', 'smithery-list'], { root, env });
    expectExit(text, 0, 'search text');
    assert.match(text.stdout.split('\n')[1], /^smithery:@corral\/smithery-list-01 /);
    assert.equal(text.stdout.trim().split('\n').length, 4, text.stdout);
    // A refused key: a warning; the MCP registries' results stand.
    const nokey = await corral(['search', '--json', 'paged-01'], { root, env: { ...env, SMITHERY_API_KEY: '' } });
    expectExit(nokey, 0, 'search with Smithery refusing');
    assert.deepEqual(JSON.parse(nokey.stdout).map((h) => h.install), ['registry:io.github.example/paged-01']);
    assert.match(nokey.stderr, /warning: .*Smithery.*HTTP 401.*SMITHERY_API_KEY/);
    // Neither a key nor a Smithery registry configured: Smithery is not
    // asked (the public one would be, and refuse or not answer: a warning).
    const off = await corral(['search', '--json', 'smithery-list'], { root, env: { CORRAL_MCP_REGISTRY: reg.url, SMITHERY_API_KEY: '', CORRAL_SMITHERY_REGISTRY: '' } });
    expectExit(off, 0, 'search without Smithery');
    assert.deepEqual(JSON.parse(off.stdout), []);
    assert.equal(off.stderr, '');
  });

  test('registry answers and bundles are cached: fresh window, revalidation (304), --offline', async () => {
    const py = `/v0.1/servers/${encodeURIComponent('io.github.example/python-only')}/versions/latest`;
    const since = (n) => reg.requests.slice(n);
    // Window 0: asked again, with the ETag the stand-in gave; a 304 serves the cached copy.
    let n = reg.requests.length;
    const stale = await corral(['install', 'registry:io.github.example/python-only', '--yes'],
      { root, env: { ...env, CORRAL_NPM_METADATA_MAX_AGE: '0' } });
    expectExit(stale, 69, 'python-only, revalidated');
    assert.match(stale.stderr, /pypi, nuget/);
    const asked = since(n).filter((q) => q.path === py);
    assert.equal(asked.length, 1, 'one request');
    assert.match(asked[0].headers['if-none-match'] ?? '', /^"[0-9a-f]{20}"$/, 'revalidated with the ETag');
    assert.ok(asked[0].headers['if-modified-since'], 'and with Last-Modified');
    assert.equal(asked[0].status, 304);
    // Inside the window: not asked at all.
    n = reg.requests.length;
    const fresh = await corral(['install', 'registry:io.github.example/python-only', '--yes'],
      { root, env: { ...env, CORRAL_NPM_METADATA_MAX_AGE: '3600' } });
    expectExit(fresh, 69, 'python-only, fresh');
    assert.match(fresh.stderr, /pypi, nuget/);
    // --offline: the cached answer however old, and never the network.
    const off = await corral(['install', 'registry:io.github.example/python-only', '--yes', '--offline'],
      { root, env: { ...env, CORRAL_NPM_METADATA_MAX_AGE: '0' } });
    expectExit(off, 69, 'python-only --offline');
    assert.match(off.stderr, /pypi, nuget/);
    const missing = await corral(['install', 'registry:io.github.example/never-asked', '--yes', '--offline'],
      { root, env });
    expectExit(missing, 69, 'an answer not cached, --offline');
    expectOneLineError(missing, ['--offline', 'not in the cache']);
    const search = await corral(['search', '--json', '--offline', 'paged-'],
      { root, env: { ...env, CORRAL_NPM_METADATA_MAX_AGE: '0' } });
    expectExit(search, 0, 'search --offline');
    assert.equal(JSON.parse(search.stdout).length, 45);
    const nosearch = await corral(['search', '--offline', 'never-searched'], { root, env });
    expectExit(nosearch, 69, 'search --offline, not cached');
    expectOneLineError(nosearch, ['--offline', 'not in the cache']);
    // Smithery's document and the bundle its bundleUrl gave: both cached.
    const sm = await corral(['install', 'smithery:@corral/everything-bundle', '--yes', '--offline', '--dry-run',
      '--json', '--set', 'api_key=x'], { root, env: { ...env, CORRAL_NPM_METADATA_MAX_AGE: '0' } });
    expectExit(sm, 0, 'smithery --offline: the bundle from the cache');
    assert.equal(JSON.parse(sm.stdout).source.resolved.digest, `sha256:${sha256(bundle)}`);
    // The registry's mcpb package: its fileSha256 names the cached bundle.
    const rm = await corral(['install', `registry:${NAME}`, '--name', 'mcpb-offline', '--yes', '--offline', '--dry-run',
      '--json', '--set', 'api_key=x'], { root, env: { ...env, CORRAL_NPM_METADATA_MAX_AGE: '0' } });
    expectExit(rm, 0, 'registry mcpb --offline');
    assert.equal(JSON.parse(rm.stdout).source.registry.package, 'mcpb');
    const nb = await corral(['install', `mcpb:${reg.url}/bundles/never-fetched.mcpb`, '--yes', '--offline'], { root, env });
    expectExit(nb, 69, 'a bundle URL never downloaded, --offline');
    expectOneLineError(nb, ['--offline', 'never-fetched.mcpb', 'not in the cache']);
    assert.deepEqual(since(n).map((q) => q.path), [], 'no request inside the window or with --offline');
    // Online, a bundle whose fileSha256 is cached is not downloaded again.
    n = reg.requests.length;
    const again = await corral(['install', `registry:${NAME}`, '--name', 'mcpb-again', '--yes', '--dry-run',
      '--set', 'api_key=x'], { root, env });
    expectExit(again, 0, 'registry mcpb again');
    assert.deepEqual(since(n).filter((q) => q.path.startsWith('/bundles/')), [], 'the bundle came from the cache');
    const bundles = fs.readdirSync(path.join(root, 'cache/mcpb'));
    assert.ok(bundles.includes(`${sha256(bundle)}.mcpb`), `cached bundles: ${bundles}`);
    // The answers are cache entries like npm metadata: counted, and gone
    // after `corral cache clean`.
    const dir = path.join(root, 'cache/registry');
    const kept = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));
    assert.ok(kept.length >= 3, `cached answers: ${kept}`);
    const info = await corral(['cache', 'info', '--json'], { root });
    expectExit(info, 0, 'cache info');
    assert.ok(JSON.parse(info.stdout).packuments >= kept.length, info.stdout);
    expectExit(await corral(['cache', 'clean'], { root }), 0, 'cache clean');
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.json') || f.endsWith('.meta')), []);
    assert.deepEqual(fs.readdirSync(path.join(root, 'cache/mcpb')), [], 'bundles cleaned like tarballs');
  });
});
