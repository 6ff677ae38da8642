// `corral import`: client configs as users have them (Claude Desktop, VS Code
// mcp.json with inputs, .mcp.json with ${VAR}) become installed servers that
// run and answer through the gateway; a second import is a no-op, --dry-run
// changes nothing, bad input is refused entry by entry.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';

import {
  FIXTURES, MOCK_SERVER, McpClient, cleanupRoot, corral, describeRun, expectExit, newRoot, resultText,
  socketPath, startDaemon, storeSnapshot, expectSameTree, waitFor, waitReady,
} from './lib.mjs';

const EVERYTHING = path.join(FIXTURES, 'everything/node_modules/@modelcontextprotocol/server-everything/dist/index.js');
// No engine: the docker entry fails at install, and must not stop the others.
const NO_DOCKER = { DOCKER_HOST: 'unix:///nonexistent/corral-import-test.sock', CONTAINER_HOST: undefined };

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

async function startEverythingHttp(port) {
  const child = spawn(process.execPath, [EVERYTHING, 'streamableHttp'], {
    env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  await waitFor(() => new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.once('connect', () => { sock.destroy(); resolve(true); });
    sock.once('error', () => resolve(false));
  }), { timeout: 30000, what: `server-everything streamableHttp on ${port}` });
  return { async stop() { if (child.exitCode === null) child.kill('SIGKILL'); await exited; } };
}

const SDK = path.join(FIXTURES, 'sdk/node_modules/@modelcontextprotocol/sdk/dist/esm');
const sdk = async (p) => import(pathToFileURL(path.join(SDK, p)).href);

/* What the official SDK client lists when it starts an exported entry the
 * way a client does (command + args, no shell). */
async function sdkTools(entry) {
  const { Client } = await sdk('client/index.js');
  const { StdioClientTransport } = await sdk('client/stdio.js');
  // The client features corral's gateway declares upstream: server-everything
  // registers its conditional tools (sampling, elicitation, roots) for them.
  const client = new Client({ name: 'export-test', version: '1.0.0' },
    { capabilities: { sampling: {}, elicitation: { form: {}, url: {} }, roots: { listChanged: true } } });
  const transport = new StdioClientTransport({ command: entry.command, args: entry.args, stderr: 'ignore' });
  await client.connect(transport);
  try {
    const names = [];
    let cursor;
    do {
      const res = await client.listTools(cursor ? { cursor } : {});
      names.push(...res.tools.map((t) => t.name));
      cursor = res.nextCursor;
    } while (cursor);
    return names.sort();
  } finally {
    await client.close();
  }
}

/* An MCP server over stdio (newline-delimited JSON-RPC 2.0) with two tools:
 * echo and get-env (its environment as JSON). */
const ENV_SERVER = `
const rl = require('node:readline').createInterface({ input: process.stdin });
const send = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
const tools = [
  { name: 'echo', inputSchema: { type: 'object', properties: { text: { type: 'string' } } } },
  { name: 'get-env', inputSchema: { type: 'object' } },
];
rl.on('line', (line) => {
  let m;
  try { m = JSON.parse(line); } catch { return; }
  if (m.id === undefined) return;
  const ok = (result) => send({ jsonrpc: '2.0', id: m.id, result });
  if (m.method === 'initialize') {
    ok({ protocolVersion: m.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'env-server', version: '0.1.0' } });
  } else if (m.method === 'tools/list') {
    ok({ tools });
  } else if (m.method === 'tools/call') {
    const text = m.params.name === 'echo' ? String(m.params.arguments?.text) : JSON.stringify(process.env);
    ok({ content: [{ type: 'text', text }] });
  } else if (m.method === 'ping') {
    ok({});
  } else {
    send({ jsonrpc: '2.0', id: m.id, error: { code: -32601, message: 'no such method' } });
  }
});
rl.on('close', () => process.exit(0));
`;

const readJson = (p) => JSON.parse(fs.readFileSync(p, 'utf8'));

describe('corral import', { timeout: 300000 }, () => {
  let root; let dir; let http; let port; let daemon;
  let claudeFile; let vscodeFile; let mcpJsonFile;

  before(async () => {
    root = newRoot('import');
    dir = newRoot('import-cfg');
    port = await freePort();
    http = await startEverythingHttp(port);
    // A small node server project of the user's own (tests/fixtures/mock-server.mjs).
    const proj = path.join(dir, 'my-mcp-server');
    fs.mkdirSync(path.join(proj, 'dist'), { recursive: true });
    fs.writeFileSync(path.join(proj, 'package.json'), '{"name": "my-mcp-server", "version": "1.2.3", "type": "module"}\n');
    fs.copyFileSync(MOCK_SERVER, path.join(proj, 'dist/server.mjs'));
    const script = path.join(proj, 'dist/server.mjs');
    // Another one that reports its environment (few files: the store stays small).
    const envProj = path.join(dir, 'env-server');
    fs.mkdirSync(envProj);
    fs.writeFileSync(path.join(envProj, 'package.json'), '{"name": "env-server", "version": "0.1.0"}\n');
    fs.writeFileSync(path.join(envProj, 'index.js'), ENV_SERVER);
    // Claude Desktop's claude_desktop_config.json, as people write it.
    claudeFile = path.join(dir, 'claude_desktop_config.json');
    fs.writeFileSync(claudeFile, JSON.stringify({
      mcpServers: {
        everything: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-everything@2026.8.31'] },
        'Local Tools': {
          command: 'node', args: [path.join(envProj, 'index.js')],
          env: { API_TOKEN: 'sekrit-value', GREETING: '${IMPORT_TEST_GREETING:-hello}', PRICE: '$$5', PLAIN: '$HOME' },
        },
        github: {
          command: 'docker',
          args: ['run', '-i', '--rm', '--privileged', '--network', 'host', '--cap-add', 'SYS_ADMIN',
            '-e', 'GITHUB_PERSONAL_ACCESS_TOKEN', '-v', `${dir}:/data:ro`, 'ghcr.io/github/github-mcp-server', 'stdio'],
          env: { GITHUB_PERSONAL_ACCESS_TOKEN: 'ghp_not_a_real_token' },
        },
        fetch: { command: 'uvx', args: ['mcp-server-fetch'] },
        sneaky: { command: 'npx -y foo; touch /tmp/corral-import-pwned', args: [] },
      },
    }, null, 2));
    // VS Code's .vscode/mcp.json: an input with password, stdio and http servers.
    fs.mkdirSync(path.join(dir, 'proj/.vscode'), { recursive: true });
    vscodeFile = path.join(dir, 'proj/.vscode/mcp.json');
    fs.writeFileSync(vscodeFile, JSON.stringify({
      inputs: [{ type: 'promptString', id: 'api-token', description: 'API token', password: true }],
      servers: {
        notes: {
          type: 'stdio', command: 'node', args: [script, 'ok'],
          env: { NOTES_FILE: '${workspaceFolder}/notes.json', SERVICE_TOKEN: '${input:api-token}' },
        },
        'remote-everything': {
          type: 'http', url: `http://127.0.0.1:${port}/mcp`,
          headers: { Authorization: 'Bearer ${input:api-token}', 'X-Team': 'blue' },
        },
      },
    }, null, 2));
    // Claude Code's .mcp.json with ${VAR} in args and env.
    mcpJsonFile = path.join(dir, '.mcp.json');
    fs.writeFileSync(mcpJsonFile, JSON.stringify({
      mcpServers: {
        scripted: {
          command: 'node', args: ['${IMPORT_TEST_DIR}/my-mcp-server/dist/server.mjs', '${IMPORT_TEST_MODE:-ok}'],
          env: { REGION: '${IMPORT_TEST_REGION}' },
        },
      },
    }));
  });

  after(async () => {
    if (daemon) await daemon.stop();
    if (http) await http.stop();
    cleanupRoot(root);
    cleanupRoot(dir);
  });

  test('--dry-run prints the plan, what is dropped and why, and changes nothing', async () => {
    const before = storeSnapshot(root);
    const r = await corral(['import', '--dry-run', claudeFile], { root, env: NO_DOCKER });
    expectExit(r, 0, 'import --dry-run');
    assert.match(r.stdout, /everything\s+install\s+npm:@modelcontextprotocol\/server-everything@2026\.8\.31/);
    assert.match(r.stdout, /local-tools\s+install/);
    assert.match(r.stdout, /named 'local-tools'/);
    assert.match(r.stdout, /secrets: API_TOKEN/);
    assert.match(r.stdout, /github\s+install\s+docker:ghcr\.io\/github\/github-mcp-server/);
    assert.match(r.stdout, /--privileged: dropped: it would weaken confinement/);
    assert.match(r.stdout, /--network host: dropped/);
    assert.match(r.stdout, /--cap-add SYS_ADMIN: dropped/);
    assert.match(r.stdout, new RegExp(`mounts:\\s+${dir}:/data:ro`));
    assert.match(r.stdout, /fetch\s+not installable\s+uvx runs a PyPI package/);
    assert.match(r.stdout, /sneaky\s+refused\s+.*shell syntax/);
    assert.ok(!r.stdout.includes('sekrit-value') && !r.stdout.includes('ghp_not'), 'no secret printed');
    expectSameTree(before, storeSnapshot(root), 'the store after --dry-run');
  });

  test('Claude Desktop: each entry on its own; secrets to secrets.json; a failure stops nothing', async () => {
    const r = await corral(['import', '--yes', claudeFile], { root, env: NO_DOCKER, timeout: 240000 });
    // The docker entry (no engine) and the refused one fail; the rest install.
    assert.notEqual(r.code, 0, describeRun(r));
    assert.match(r.stdout, /imported everything \(npm/);
    assert.match(r.stdout, /imported local-tools \(local/);
    assert.match(r.stdout, /failed github: /);
    assert.match(r.stdout, /2 imported, 0 unchanged, 2 failed, 1 not installable/);
    assert.ok(!fs.existsSync('/tmp/corral-import-pwned'), 'nothing ran through a shell');
    assert.ok(!fs.existsSync(path.join(root, 'servers/github')), 'the failed entry left nothing');
    const m = readJson(path.join(root, 'servers/local-tools/manifest.json'));
    assert.equal(m.runtime.env.API_TOKEN, null, 'the secret is not in the manifest');
    assert.equal(m.runtime.env.GREETING, 'hello', '${VAR:-default} expanded');
    // Expanded once at import; a "$" that is final is written "$$" so that
    // the start-time expansion gives "$5" and "$HOME" back.
    assert.equal(m.runtime.env.PRICE, '$$5');
    assert.equal(m.runtime.env.PLAIN, '$$HOME');
    const sp = path.join(root, 'servers/local-tools/secrets.json');
    assert.equal(fs.statSync(sp).mode & 0o777, 0o600);
    assert.equal(readJson(sp).env.API_TOKEN, 'sekrit-value');
  });

  test('VS Code mcp.json: inputs (password → secret), stdio and http servers', async () => {
    // Without a value for the input, the entries using it are refused.
    let r = await corral(['import', '--dry-run', vscodeFile], { root });
    expectExit(r, 0);
    assert.match(r.stdout, /notes\s+refused\s+input 'api-token' has no value \(set CORRAL_INPUT_API_TOKEN/);
    r = await corral(['import', '--yes', vscodeFile], { root, env: { CORRAL_INPUT_API_TOKEN: 'tok-123' } });
    expectExit(r, 0, 'import vscode');
    assert.match(r.stdout, /imported notes \(local/);
    assert.match(r.stdout, /imported remote-everything \(remote http:\/\/127\.0\.0\.1/);
    const notes = readJson(path.join(root, 'servers/notes/manifest.json'));
    assert.equal(notes.runtime.env.NOTES_FILE, `${path.join(dir, 'proj')}/notes.json`);
    assert.equal(notes.runtime.env.SERVICE_TOKEN, null);
    assert.deepEqual(notes.runtime.command, ['node', 'dist/server.mjs', 'ok']);
    assert.equal(notes.source.resolved.version, '1.2.3');
    assert.equal(readJson(path.join(root, 'servers/notes/secrets.json')).env.SERVICE_TOKEN, 'tok-123');
    const rem = readJson(path.join(root, 'servers/remote-everything/manifest.json'));
    assert.equal(rem.runtime.backend, 'remote');
    assert.equal(rem.runtime.headers.Authorization, null);
    assert.equal(rem.runtime.headers['X-Team'], 'blue');
    assert.equal(readJson(path.join(root, 'servers/remote-everything/secrets.json')).headers.Authorization, 'Bearer tok-123');
  });

  test('.mcp.json from stdin: ${VAR} in args and env; an unset one is named', async () => {
    const text = fs.readFileSync(mcpJsonFile, 'utf8');
    let r = await corral(['import', '--yes', '-'], { root, input: text, env: { IMPORT_TEST_DIR: dir } });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr + r.stdout, /\$\{IMPORT_TEST_REGION\} is not set and has no default/);
    assert.ok(!fs.existsSync(path.join(root, 'servers/scripted')));
    r = await corral(['import', '--yes', '-'], {
      root, input: text, env: { IMPORT_TEST_DIR: dir, IMPORT_TEST_REGION: 'eu-west' },
    });
    expectExit(r, 0, 'import .mcp.json');
    const m = readJson(path.join(root, 'servers/scripted/manifest.json'));
    assert.equal(m.runtime.env.REGION, 'eu-west');
    assert.deepEqual(m.runtime.command, ['node', 'dist/server.mjs', 'ok']);
  });

  test('the imported servers run and answer through the gateway', async () => {
    daemon = await startDaemon(root, { env: NO_DOCKER });
    await waitReady(root, ['everything', 'local-tools', 'notes', 'remote-everything', 'scripted'], 120000);
    const c = await McpClient.connect(socketPath(root));
    try {
      await c.initialize();
      const names = (await c.listTools()).map((t) => t.name);
      for (const n of ['everything__echo', 'local-tools__echo', 'notes__echo',
        'remote-everything__echo', 'scripted__echo']) {
        assert.ok(names.includes(n), `${n} listed: ${names.join(', ')}`);
      }
      const echo = await c.callTool('remote-everything__echo', { message: 'via remote' });
      assert.match(resultText(echo), /via remote/);
      // The secret reached the server's environment; ${…} was expanded at start.
      const env = resultText(await c.callTool('local-tools__get-env', {}));
      assert.match(env, /"API_TOKEN":\s*"sekrit-value"/);
      assert.match(env, /"GREETING":\s*"hello"/);
      assert.match(env, /"PRICE":\s*"\$5"/);
      assert.match(env, /"PLAIN":\s*"\$HOME"/);
      assert.match(resultText(await c.callTool('scripted__echo', { text: 'scripted ok' })), /scripted ok/);
    } finally {
      await c.close();
    }
  });

  test('export: the SDK client reading the exported config lists the same tools; no secret written', async () => {
    const c = await McpClient.connect(socketPath(root));
    let gateway;
    try {
      await c.initialize();
      gateway = (await c.listTools()).map((t) => t.name).sort();
    } finally {
      await c.close();
    }
    let r = await corral(['export', '--format', 'mcp-json'], { root });
    expectExit(r, 0, 'export mcp-json');
    const cfg = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(cfg.mcpServers), ['corral']);
    assert.deepEqual(cfg.mcpServers.corral.args.slice(-2), ['serve', '--stdio']);
    assert.ok(path.isAbsolute(cfg.mcpServers.corral.command));
    assert.deepEqual(await sdkTools(cfg.mcpServers.corral), gateway);

    r = await corral(['export', '--format', 'vscode', '--per-server'], { root });
    expectExit(r, 0, 'export vscode --per-server');
    const vs = JSON.parse(r.stdout);
    assert.equal(vs.servers['local-tools'].type, 'stdio');
    // The remote server is not a `corral run` one; it is said so on stderr.
    assert.ok(!vs.servers['remote-everything']);
    assert.match(r.stderr, /remote-everything left out/);
    const own = gateway.filter((n) => n.startsWith('local-tools__')).map((n) => n.slice('local-tools__'.length)).sort();
    assert.deepEqual(await sdkTools(vs.servers['local-tools']), own);

    for (const f of ['claude-desktop', 'vscode', 'mcp-json']) {
      r = await corral(['export', '--format', f, '--per-server'], { root });
      for (const secret of ['sekrit-value', 'tok-123', 'ghp_not']) assert.ok(!r.stdout.includes(secret), `${f}: ${secret}`);
    }
    // --http with "auth": the token is asked for, never written.
    const other = newRoot('export-http');
    fs.mkdirSync(path.join(other, 'etc'), { recursive: true });
    fs.writeFileSync(path.join(other, 'etc/corral.json'), '{"auth": {"issuers": []}}');
    r = await corral(['export', '--format', 'vscode', '--http', 'https://corral.example/mcp'], { root: other });
    expectExit(r, 0);
    const h = JSON.parse(r.stdout);
    assert.deepEqual(h.servers.corral, { type: 'http', url: 'https://corral.example/mcp', headers: { Authorization: 'Bearer ${input:corral-token}' } });
    assert.equal(h.inputs[0].password, true);
    cleanupRoot(other);
  });

  test('a second import is a no-op', async () => {
    // Each server directory's inode and its manifest's bytes: a reinstall
    // (staging renamed over) would change both.
    const state = () => fs.readdirSync(path.join(root, 'servers')).filter((n) => !n.startsWith('.')).sort()
      .map((n) => [n, fs.statSync(path.join(root, 'servers', n)).ino,
        fs.readFileSync(path.join(root, 'servers', n, 'manifest.json'), 'utf8')]);
    const before = state();
    for (const [file, n] of [[vscodeFile, 2], [claudeFile, 2]]) {
      const r = await corral(['import', '--yes', file], { root, env: { CORRAL_INPUT_API_TOKEN: 'tok-123', ...NO_DOCKER } });
      assert.match(r.stdout, new RegExp(`0 imported, ${n} unchanged`), r.stdout);
    }
    assert.deepEqual(state(), before, 'the store after a second import');
  });

  test('--from reads the client\'s own file on Linux', async () => {
    const home = path.join(dir, 'home');
    fs.mkdirSync(path.join(home, '.config/Claude'), { recursive: true });
    fs.copyFileSync(claudeFile, path.join(home, '.config/Claude/claude_desktop_config.json'));
    fs.mkdirSync(path.join(home, '.cursor'), { recursive: true });
    fs.writeFileSync(path.join(home, '.cursor/mcp.json'), '{"mcpServers": {"cur": {"command": "uvx", "args": ["x"]}}}');
    const env = { HOME: home, XDG_CONFIG_HOME: undefined };
    let r = await corral(['import', '--dry-run', '--from', 'claude-desktop'], { root, env, cwd: home });
    expectExit(r, 0);
    assert.match(r.stdout, /Claude\/claude_desktop_config\.json \(mcpServers format\): 5 servers/);
    r = await corral(['import', '--dry-run', '--from', 'cursor'], { root, env, cwd: home });
    expectExit(r, 0);
    assert.match(r.stdout, /cur\s+not installable/);
    r = await corral(['import', '--dry-run', '--from', 'vscode'], { root, env, cwd: home });
    expectExit(r, 66);
    assert.match(r.stderr, /^corral: import: cannot read .*Code\/User\/mcp\.json/m);
    r = await corral(['import', '--from', 'emacs'], { root, env });
    expectExit(r, 64);
  });

  test('npx mcp-remote → a remote unit; VS Code envFile; ~/.claude.json per-project servers', async () => {
    const home = path.join(dir, 'cc-home');
    const proj = path.join(dir, 'cc-proj');
    fs.mkdirSync(home);
    fs.mkdirSync(path.join(proj, '.vscode'), { recursive: true });
    // Claude Code keeps a project's own ("local") servers under its directory.
    fs.writeFileSync(path.join(home, '.claude.json'), JSON.stringify({
      numStartups: 4,
      mcpServers: { 'cc-user': { command: 'uvx', args: ['mcp-server-time'] } },
      projects: {
        [proj]: {
          mcpServers: {
            'via-proxy': {
              command: 'npx',
              args: ['-y', 'mcp-remote@0.1.29', `http://127.0.0.1:${port}/mcp`, '--header', 'Authorization:${AUTH_HEADER}',
                '--header', 'X-Team: red', '--transport', 'http-first'],
              env: { AUTH_HEADER: 'Bearer proxy-secret' },
            },
          },
        },
        '/somewhere/else': { mcpServers: { 'other-project': { command: 'npx', args: ['-y', 'left-pad'] } } },
      },
    }));
    let r = await corral(['import', '--yes', '--from', 'claude-code'], { root, env: { HOME: home }, cwd: proj });
    assert.match(r.stdout, new RegExp(`imported via-proxy \\(remote http://127\\.0\\.0\\.1:${port}/mcp\\)`), describeRun(r));
    assert.match(r.stderr, /mcp-remote is not installed: corral connects to the server itself/);
    assert.match(r.stderr, /cc-user\s+not installable/);
    assert.ok(!/other-project/.test(r.stdout + r.stderr), 'another project\'s servers are not imported');
    assert.ok(!(r.stdout + r.stderr).includes('proxy-secret'), 'no secret printed');
    const m = readJson(path.join(root, 'servers/via-proxy/manifest.json'));
    assert.equal(m.runtime.backend, 'remote');
    assert.ok(!fs.existsSync(path.join(root, 'servers/via-proxy/node_modules')), 'mcp-remote is not installed');
    assert.equal(m.runtime.headers.Authorization, null);
    assert.equal(m.runtime.headers['X-Team'], 'red');
    assert.equal(readJson(path.join(root, 'servers/via-proxy/secrets.json')).headers.Authorization, 'Bearer proxy-secret');

    // With a .mcp.json in the project too: all three of Claude Code's
    // scopes, local > project > user on a name.
    const proj2 = path.join(dir, 'cc-proj2');
    fs.mkdirSync(proj2);
    const cc = readJson(path.join(home, '.claude.json'));
    cc.projects[proj2] = { mcpServers: { shared: { command: 'npx', args: ['-y', 'local-pkg'] } } };
    fs.writeFileSync(path.join(home, '.claude.json'), JSON.stringify(cc));
    fs.writeFileSync(path.join(proj2, '.mcp.json'), JSON.stringify({
      mcpServers: {
        'cc-user': { command: 'npx', args: ['-y', 'project-pkg'] },
        shared: { command: 'npx', args: ['-y', 'project-shared'] },
        'team-only': { command: 'npx', args: ['-y', 'team-pkg'] },
      },
    }));
    r = await corral(['import', '--dry-run', '--json', '--from', 'claude-code'], { root, env: { HOME: home }, cwd: proj2 });
    expectExit(r, 0, 'import --dry-run of both files');
    const plan = Object.fromEntries(JSON.parse(r.stdout).map((e) => [e.key, e]));
    assert.deepEqual(Object.keys(plan).sort(), ['cc-user', 'shared', 'team-only']);
    assert.equal(plan['cc-user'].spec, 'npm:project-pkg');
    assert.match(plan['cc-user'].notes.join('\n'), /replaces the user-scope entry/);
    assert.equal(plan['team-only'].spec, 'npm:team-pkg');
    assert.equal(plan.shared.spec, 'npm:local-pkg');
    assert.match(plan.shared.notes.join('\n'), /local scope.*replaces the project-scope entry/);

    // VS Code envFile: read from the workspace, "env" wins, secrets apart.
    fs.writeFileSync(path.join(proj, '.env'), '# from the team\nexport REGION=from-env-file\nSERVICE_TOKEN="file-secret"\nMODE=file\n');
    fs.writeFileSync(path.join(proj, '.vscode/mcp.json'), JSON.stringify({
      servers: {
        'env-file': {
          type: 'stdio', command: 'node', args: [path.join(dir, 'env-server/index.js')],
          envFile: '${workspaceFolder}/.env', env: { MODE: 'env-wins' },
        },
      },
    }));
    r = await corral(['import', '--yes', path.join(proj, '.vscode/mcp.json')], { root });
    expectExit(r, 0, 'import with envFile');
    const em = readJson(path.join(root, 'servers/env-file/manifest.json'));
    assert.equal(em.runtime.env.REGION, 'from-env-file');
    assert.equal(em.runtime.env.MODE, 'env-wins');
    assert.equal(em.runtime.env.SERVICE_TOKEN, null);
    assert.equal(readJson(path.join(root, 'servers/env-file/secrets.json')).env.SERVICE_TOKEN, 'file-secret');

    // Both run under the daemon (picked up without a reload) and answer.
    await waitReady(root, ['via-proxy', 'env-file'], 120000);
    const c = await McpClient.connect(socketPath(root));
    try {
      await c.initialize();
      assert.match(resultText(await c.callTool('via-proxy__echo', { message: 'no proxy needed' })), /no proxy needed/);
      const env = resultText(await c.callTool('env-file__get-env', {}));
      assert.match(env, /"REGION":\s*"from-env-file"/);
      assert.match(env, /"SERVICE_TOKEN":\s*"file-secret"/);
      assert.match(env, /"MODE":\s*"env-wins"/);
    } finally {
      await c.close();
    }
  });

  test('bad input: unknown shapes, huge files, duplicates, odd names, shell syntax', async () => {
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ servers: [1, 2] }));
    let r = await corral(['import', '--dry-run', bad], { root });
    expectExit(r, 65);
    assert.match(r.stderr, /^corral: import: .*not a client config/m);
    fs.writeFileSync(bad, '{"mcpServers": {"a": ' + '['.repeat(10) + ']'.repeat(10) + '}, "pad": "' + 'x'.repeat(1100000) + '"}');
    r = await corral(['import', '--dry-run', bad], { root });
    expectExit(r, 65);
    assert.match(r.stderr, /larger than 1048576 bytes/);
    fs.writeFileSync(bad, '{"mcpServers": {"Dup": {"command": "uvx", "args": ["a"]}, "Dup": {"command": "npx", "args": ["-y", "left-pad"]},' +
      ' "A__B": {"command": "npx", "args": ["-y", "left-pad", "$(rm -rf /)"]}, "x": {"command": "node", "args": ["-e", "1"]},' +
      ' "y": {"command": "npx", "args": ["-y", "../../etc"]}, "z": {"url": 5}, "w": "str"}}');
    r = await corral(['import', '--dry-run', '--json', bad], { root });
    expectExit(r, 0);
    const plan = JSON.parse(r.stdout);
    const by = (k) => plan.filter((e) => e.key === k);
    assert.equal(by('Dup')[0].action, 'refused');
    assert.match(by('Dup')[0].reason, /appears again later/);
    assert.equal(by('Dup')[1].action, 'install');
    assert.equal(by('Dup')[1].name, 'dup');
    assert.equal(by('A__B')[0].name, 'a-b');
    // Kept as one argument, never given to a shell ("$$": a literal "$" in the manifest).
    assert.deepEqual(by('A__B')[0].args, ['$$(rm -rf /)']);
    assert.equal(by('x')[0].action, 'refused');
    assert.equal(by('y')[0].action, 'refused');
    assert.equal(by('z')[0].action, 'refused');
    assert.equal(by('w')[0].action, 'refused');
  });
});
