// MCP Bundles from a file (issue 13): a small honest bundle installs and
// runs; hostile ones are refused with exit 65 (or 69 for what this host
// cannot run) and leave nothing in the store or its staging area: path
// traversal, an absolute path, a symlink out, a 2 GiB entry, 100,000
// entries, a command escaping ${__dirname}, a binary outside the bundle.
// A python bundle packed by the real mcpb CLI runs with the host's python3
// and its bundled server/lib; a uv bundle and a python range this host
// does not meet are refused naming what is missing.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  FIXTURES, MOCK_SERVER, cleanupRoot, corral, expectExit, expectOneLineError, expectSameTree, newRoot,
  onTty, run, storeSnapshot,
} from './lib.mjs';
import { makeZip, startRegistry } from './registry-standin.mjs';

const MCPB_CLI = path.join(FIXTURES, 'mcpb/node_modules/@anthropic-ai/mcpb/dist/cli/cli.js');
const PY_SECRET = `py-${crypto.randomBytes(6).toString('hex')}`;

/* A stdio MCP server in python with nothing but the standard library and
 * its bundled module (server/lib/echolib). */
const PY_SERVER = `import hashlib, json, sys
from echolib import render

token = sys.argv[sys.argv.index("--token") + 1] if "--token" in sys.argv else ""
for line in sys.stdin:
    msg = json.loads(line)
    if "id" not in msg:
        continue
    method, result = msg.get("method"), None
    if method == "initialize":
        result = {"protocolVersion": msg["params"]["protocolVersion"], "capabilities": {"tools": {}},
                  "serverInfo": {"name": "pyecho", "version": "0.1.0"}}
    elif method == "tools/list":
        result = {"tools": [{"name": "echo", "inputSchema": {"type": "object"}},
                            {"name": "token_sha256", "inputSchema": {"type": "object"}}]}
    elif method == "tools/call":
        p = msg["params"]
        text = render(p["arguments"]["message"]) if p["name"] == "echo" else hashlib.sha256(token.encode()).hexdigest()
        result = {"content": [{"type": "text", "text": text}]}
    reply = {"jsonrpc": "2.0", "id": msg["id"]}
    if result is None:
        reply["error"] = {"code": -32601, "message": "no such method"}
    else:
        reply["result"] = result
    sys.stdout.write(json.dumps(reply) + "\\n")
    sys.stdout.flush()
`;

function manifest(over = {}) {
  return JSON.stringify({
    manifest_version: '0.3',
    name: 'mock',
    version: '1.2.3',
    description: 'the mock server as a bundle',
    author: { name: 'corral tests' },
    server: {
      type: 'node',
      entry_point: 'server/mock-server.mjs',
      mcp_config: { command: 'node', args: ['${__dirname}/server/mock-server.mjs', 'ok'], env: { MOCK_MODE: '${user_config.mode}' } },
    },
    user_config: { mode: { type: 'string', title: 'Mode', description: 'a mode', default: 'ok' } },
    ...over,
  });
}

describe('mcpb: bundles from files, hostile ones refused', { timeout: 300000 }, () => {
  let root;
  let tmp;
  const mock = fs.readFileSync(MOCK_SERVER);
  const write = (name, entries) => {
    const p = path.join(tmp, name);
    fs.writeFileSync(p, makeZip(entries));
    return p;
  };

  before(() => {
    root = newRoot('mcpb');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-mcpb-'));
  });

  after(() => {
    cleanupRoot(root);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('an honest bundle: ./NAME.mcpb installs with its manifest\'s command and version', async () => {
    const p = write('mock.mcpb', [
      { name: 'manifest.json', data: manifest(), deflate: true },
      { name: 'server/', data: '', mode: 0o40755 },
      { name: 'server/mock-server.mjs', data: mock, deflate: true },
    ]);
    const r = await corral(['install', p, '--yes', '--json'], { root });
    expectExit(r, 0, 'install mock.mcpb');
    const m = JSON.parse(r.stdout);
    assert.equal(m.name, 'mock');
    assert.equal(m.source.kind, 'mcpb');
    assert.equal(m.source.resolved.version, '1.2.3');
    assert.match(m.source.resolved.digest, /^sha256:[0-9a-f]{64}$/);
    const pkg = path.join(root, 'servers/mock/pkg');
    assert.deepEqual(m.runtime.command, ['node', `${pkg}/server/mock-server.mjs`, 'ok']);
    assert.deepEqual(m.runtime.env, { MOCK_MODE: 'ok' });
    assert.ok(fs.existsSync(`${pkg}/server/mock-server.mjs`));
    // Through the sandbox, speaking MCP.
    const init = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
    const run = await corral(['run', 'mock'], { root, input: `${init}\n`, timeout: 30000 });
    assert.match(run.stdout, /"serverInfo"/, run.stderr);
  });

  test('a python bundle packed by the real mcpb CLI runs with its server/lib; a sensitive argument via secrets.json', async () => {
    const src = path.join(tmp, 'pyecho');
    fs.mkdirSync(path.join(src, 'server/lib/echolib'), { recursive: true });
    fs.writeFileSync(path.join(src, 'server/lib/echolib/__init__.py'),
      'def render(message):\n    return "Echo: " + message\n');
    fs.writeFileSync(path.join(src, 'server/main.py'), PY_SERVER);
    fs.writeFileSync(path.join(src, 'manifest.json'), JSON.stringify({
      manifest_version: '0.3', name: 'pyecho', version: '0.1.0', description: 'a python MCP server with a bundled module',
      author: { name: 'corral tests' },
      server: {
        type: 'python', entry_point: 'server/main.py',
        mcp_config: { command: 'python', args: ['${__dirname}/server/main.py', '--token', '${user_config.token}'], env: {} },
      },
      user_config: { token: { type: 'string', title: 'Token', description: 'a secret', sensitive: true, required: true } },
      compatibility: { platforms: ['linux'], runtimes: { python: '>=3.8' } },
    }));
    const out = path.join(tmp, 'pyecho.mcpb');
    expectExit(await run(process.execPath, [MCPB_CLI, 'pack', src, out], { timeout: 120000 }), 0, 'mcpb pack');
    const miss = await corral(['install', out, '--yes'], { root });
    expectExit(miss, 64, 'without the token');
    expectOneLineError(miss, ['missing required values', 'token']);
    const r = await corral(['install', out, '--yes', '--json', '--set', `token=${PY_SECRET}`], { root });
    expectExit(r, 0, 'install pyecho.mcpb');
    const m = JSON.parse(r.stdout);
    const pkg = path.join(root, 'servers/pyecho/pkg');
    assert.deepEqual(m.runtime.command, ['python3', `${pkg}/server/main.py`, '--token', '${CORRAL_ARG_TOKEN}']);
    assert.deepEqual(m.runtime.env, { PYTHONPATH: `${pkg}/server/lib` });
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(root, 'servers/pyecho/secrets.json'), 'utf8')).env,
      { CORRAL_ARG_TOKEN: PY_SECRET });
    const msgs = [
      { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { message: 'from python' } } },
      { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'token_sha256', arguments: {} } },
    ];
    const res = await corral(['run', 'pyecho'], { root, input: msgs.map((x) => `${JSON.stringify(x)}\n`).join(''), timeout: 30000 });
    const answers = Object.fromEntries(res.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l)).map((a) => [a.id, a]));
    assert.equal(answers[1]?.result?.serverInfo?.name, 'pyecho', res.stderr);
    assert.equal(answers[2]?.result?.content?.[0]?.text, 'Echo: from python', 'echolib from server/lib');
    assert.equal(answers[3]?.result?.content?.[0]?.text, crypto.createHash('sha256').update(PY_SECRET).digest('hex'),
      'the sensitive argument reached the server');
    const info = await corral(['info', '--json', 'pyecho'], { root });
    assert.ok(!info.stdout.includes(PY_SECRET) && !fs.readFileSync(path.join(root, 'servers/pyecho/manifest.json'), 'utf8').includes(PY_SECRET));
  });

  test('update and outdated: a bundle file that changed, a bundle URL and a Smithery bundle fetched again, a new required input', async () => {
    const REGION = `eu-${crypto.randomBytes(6).toString('hex')}`;
    const bundle = (version, extra = {}, more = []) => makeZip([
      { name: 'manifest.json', data: manifest({ version, ...extra }), deflate: true },
      { name: 'server/', data: '', mode: 0o40755 },
      { name: 'server/mock-server.mjs', data: mock, deflate: true },
      ...more,
    ]);
    // 1.1.0 adds a required, sensitive input.
    const v11 = {
      server: {
        type: 'node', entry_point: 'server/mock-server.mjs',
        mcp_config: { command: 'node', args: ['${__dirname}/server/mock-server.mjs', 'ok'], env: { MOCK_MODE: '${user_config.mode}', MOCK_REGION: '${user_config.region}' } },
      },
      user_config: {
        mode: { type: 'string', title: 'Mode', description: 'a mode', default: 'ok' },
        region: { type: 'string', title: 'Region', description: 'where', required: true, sensitive: true },
      },
    };
    const served = { 'u.mcpb': bundle('1.0.0') };
    const smithery = { '@corral/upd': { qualifiedName: '@corral/upd', remote: false, connections: [{ type: 'stdio', runtime: 'node', configSchema: {} }] } };
    const reg = await startRegistry({ smithery, bundles: served });
    smithery['@corral/upd'].connections[0].bundleUrl = `${reg.url}/bundles/u.mcpb`;
    try {
      const env = { CORRAL_SMITHERY_REGISTRY: reg.url, SMITHERY_API_KEY: 'sk-test' };
      const file = path.join(tmp, 'upd.mcpb');
      fs.writeFileSync(file, bundle('1.0.0'));
      const json = (r) => { expectExit(r, 0, r.args?.join(' ')); return JSON.parse(r.stdout); };
      json(await corral(['install', `mcpb:${file}`, '--name', 'upd-file', '--yes', '--json', '--set', 'mode=custom'], { root }));
      json(await corral(['install', `mcpb:${reg.url}/bundles/u.mcpb`, '--name', 'upd-url', '--yes', '--json'], { root }));
      const sm = json(await corral(['install', 'smithery:@corral/upd', '--name', 'upd-sm', '--yes', '--json'], { root, env }));
      assert.equal(sm.source.kind, 'smithery');
      const outdated = async () => {
        const o = await corral(['outdated', '--json'], { root, env, timeout: 60000 });
        expectExit(o, 0, 'outdated');
        return Object.fromEntries(JSON.parse(o.stdout).filter((x) => x.name.startsWith('upd-')).map((x) => [x.name, x]));
      };
      let o = await outdated();
      assert.equal(o['upd-file'].kind, 'mcpb');
      assert.equal(o['upd-file'].outdated, false, JSON.stringify(o));
      assert.equal(o['upd-url'].outdated, false, JSON.stringify(o));
      assert.equal(o['upd-sm'].outdated, false, JSON.stringify(o));
      const same = await corral(['update', 'upd-file'], { root });
      expectExit(same, 0, 'update, nothing new');
      assert.match(same.stdout, /^upd-file is up to date \(digest sha256:[0-9a-f]{12}\)$/m);

      // The same version, other bytes: a new digest.
      fs.writeFileSync(file, bundle('1.0.0', {}, [{ name: 'README.md', data: 'new' }]));
      o = await outdated();
      assert.equal(o['upd-file'].outdated, true);
      assert.match(o['upd-file'].wanted, /^sha256:[0-9a-f]{12}$/);
      const dry = await corral(['update', 'upd-file', '--dry-run'], { root });
      expectExit(dry, 0, 'update --dry-run');
      assert.equal(dry.stdout.trim(), `would update upd-file: digest ${o['upd-file'].current} -> ${o['upd-file'].wanted}`);
      const up = json(await corral(['update', 'upd-file', '--json'], { root }));
      assert.deepEqual(up, { name: 'upd-file', updated: true, dry_run: false, old_digest: o['upd-file'].current, digest: o['upd-file'].wanted });
      let m = JSON.parse(fs.readFileSync(path.join(root, 'servers/upd-file/manifest.json'), 'utf8'));
      assert.deepEqual(m.runtime.env, { MOCK_MODE: 'custom' }, 'the value given at install, given again');

      // 1.1.0 asks for a required input: without it, refused and nothing changes.
      fs.writeFileSync(file, bundle('1.1.0', v11));
      const before = storeSnapshot(root);
      const miss = await corral(['update', 'upd-file'], { root });
      expectExit(miss, 64, 'update without region');
      expectOneLineError(miss, ['missing required values', 'region', '--set']);
      expectSameTree(before, storeSnapshot(root));
      const cfg = path.join(tmp, 'region.json');
      fs.writeFileSync(cfg, JSON.stringify({ region: REGION }));
      const u11 = json(await corral(['update', 'upd-file', '--config', cfg, '--json'], { root }));
      assert.deepEqual(u11, { name: 'upd-file', updated: true, dry_run: false, old_version: '1.0.0', version: '1.1.0' });
      m = JSON.parse(fs.readFileSync(path.join(root, 'servers/upd-file/manifest.json'), 'utf8'));
      assert.equal(m.source.resolved.version, '1.1.0');
      assert.deepEqual(m.runtime.env, { MOCK_MODE: 'custom', MOCK_REGION: null });
      const sec = JSON.parse(fs.readFileSync(path.join(root, 'servers/upd-file/secrets.json'), 'utf8'));
      assert.equal(sec.env.MOCK_REGION, REGION, 'the new secret in secrets.json');
      assert.ok(!fs.readFileSync(path.join(root, 'servers/upd-file/manifest.json'), 'utf8').includes(REGION));
      // Given once, kept: the next update needs no --set.
      expectExit(await corral(['update', 'upd-file'], { root }), 0, 'update again');
      // On a terminal, the input a new version adds is asked.
      const v12 = structuredClone(v11);
      v12.user_config.zone = { type: 'string', title: 'Zone', description: 'which zone', required: true };
      v12.server.mcp_config.env.MOCK_ZONE = '${user_config.zone}';
      fs.writeFileSync(file, bundle('1.1.1', v12));
      const tty = await onTty(['update', 'upd-file'], { root, input: 'z-9\n' });
      expectExit(tty, 0, 'update on a terminal');
      assert.match(tty.stdout, /zone \(which zone\): /);
      assert.match(tty.stdout, /updated upd-file: version 1\.1\.0 -> 1\.1\.1/);
      m = JSON.parse(fs.readFileSync(path.join(root, 'servers/upd-file/manifest.json'), 'utf8'));
      assert.deepEqual(m.runtime.env, { MOCK_MODE: 'custom', MOCK_REGION: null, MOCK_ZONE: 'z-9' });

      // A bundle URL and a Smithery bundle: downloaded again, a new version.
      served['u.mcpb'] = bundle('1.2.0');
      o = await outdated();
      for (const n of ['upd-url', 'upd-sm'])
        assert.deepEqual([o[n].current, o[n].wanted, o[n].latest, o[n].outdated], ['1.0.0', '1.2.0', '1.2.0', true], n);
      for (const n of ['upd-url', 'upd-sm']) {
        const u = json(await corral(['update', n, '--json'], { root, env }));
        assert.deepEqual(u, { name: n, updated: true, dry_run: false, old_version: '1.0.0', version: '1.2.0' });
      }
      o = await outdated();
      assert.ok(Object.values(o).every((x) => !x.outdated), JSON.stringify(o));
    } finally {
      await reg.close();
    }
  });

  const hostile = [
    ['path traversal', [{ name: 'manifest.json', data: manifest() }, { name: '../evil.js', data: 'x' }], 65, ['../evil.js', 'refusing']],
    ['an absolute path', [{ name: 'manifest.json', data: manifest() }, { name: '/tmp/corral-evil.js', data: 'x' }], 65, ['refusing']],
    ['a symlink out', [{ name: 'manifest.json', data: manifest() }, { name: 'server/mock-server.mjs', data: '../../../../../etc/passwd', mode: 0o120777 }], 65, ['links are not allowed']],
    ['a 2 GiB sparse entry', [{ name: 'manifest.json', data: manifest() }, { name: 'big.bin', data: Buffer.alloc(1 << 20), deflate: true, declaredSize: 2 ** 31 }], 65, ['2147483648', 'MCPB_MAX_ENTRY']],
    ['a command escaping ${__dirname}', [{ name: 'manifest.json', data: manifest({ server: { type: 'node', entry_point: 'x.js', mcp_config: { command: 'node', args: ['${__dirname}/../../../../usr/lib/x.js'] } } }) }], 65, ['leaves ${__dirname}']],
    ['a binary outside the bundle', [{ name: 'manifest.json', data: manifest({ server: { type: 'binary', entry_point: 'sh', mcp_config: { command: '/bin/sh', args: ['-c', 'id'] } } }) }], 65, ['not inside']],
    ['a uv bundle (no uv here)', [{ name: 'manifest.json', data: manifest({ server: { type: 'uv', entry_point: 'server/main.py', mcp_config: { command: 'uv', args: ['run', '${__dirname}/server/main.py'] } } }) }], 69, ['uv server', 'uv is not installed']],
    ['a python bundle for a python this host lacks', [{ name: 'manifest.json', data: manifest({ server: { type: 'python', entry_point: 'server/main.py', mcp_config: { command: 'python3', args: ['${__dirname}/server/main.py'] } }, compatibility: { runtimes: { python: '>=9.0,<10' } } }) }], 69, ['needs python >=9.0,<10', 'this host has 3.']],
    ['a python entry outside the bundle', [{ name: 'manifest.json', data: manifest({ server: { type: 'python', entry_point: 'x.py', mcp_config: { command: 'python3', args: ['-u', '/usr/lib/python3/x.py'] } } }) }], 65, ['python entry', 'not inside']],
  ];
  for (const [what, entries, code, words] of hostile) {
    test(`refused: ${what}`, async () => {
      const p = write('hostile.mcpb', entries);
      const before = storeSnapshot(root);
      const r = await corral(['install', `mcpb:${p}`, '--name', 'hostile', '--yes'], { root });
      expectExit(r, code, what);
      expectOneLineError(r, words);
      expectSameTree(before, storeSnapshot(root));
      assert.deepEqual(fs.readdirSync(path.join(root, 'staging')), [], 'staging is empty');
      assert.ok(!fs.existsSync('/tmp/corral-evil.js'));
    });
  }

  test('refused: 100,000 entries', async () => {
    const entries = [{ name: 'manifest.json', data: manifest() }];
    for (let i = 0; i < 100000; i++) entries.push({ name: `f/${i}`, data: '' });
    const p = write('many.mcpb', entries);
    const before = storeSnapshot(root);
    const r = await corral(['install', `mcpb:${p}`, '--name', 'many', '--yes'], { root });
    expectExit(r, 65, '100,000 entries');
    expectOneLineError(r, ['more than 50000 entries']);
    expectSameTree(before, storeSnapshot(root));
    assert.deepEqual(fs.readdirSync(path.join(root, 'staging')), []);
  });
});
