#!/usr/bin/env node
// The MCP conformance suite's client under test (client mode) for the
// scenarios that need a person or a model behind the client: corral's
// remote unit.  The suite's scenario server at argv[2] is installed into a
// fresh store as a remote unit (`corral install URL --remote`), and the
// official TypeScript SDK client (fixture "sdk", a 2025-11-25 client)
// drives `corral serve --stdio` (the embedded supervisor): so corral is the
// MCP client the scenario server sees — it probes with server/discover,
// speaks 2026-07-28 or 2025 to it, and turns the server's input_required
// into requests to the SDK client and back (and passes 2025 elicitations
// through).  What the SDK client does per $MCP_CONFORMANCE_SCENARIO is
// below; elicitations are accepted ({confirmed: true}, or the form's
// defaults applied by the SDK).
//
// CORRAL_BIN is the corral binary; CORRAL_FIXTURES_DIR (default
// build/fixtures) holds the SDK.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURES = process.env.CORRAL_FIXTURES_DIR || path.join(REPO, 'build/fixtures');
const SDK = path.join(FIXTURES, 'sdk/node_modules/@modelcontextprotocol/sdk/dist/esm');
const sdk = async (p) => import(pathToFileURL(path.join(SDK, p)).href);
const { Client } = await sdk('client/index.js');
const { StdioClientTransport } = await sdk('client/stdio.js');
const { ElicitRequestSchema } = await sdk('types.js');

const url = process.argv[2];
const scenario = process.env.MCP_CONFORMANCE_SCENARIO ?? '';
const corral = process.env.CORRAL_BIN;
if (!url || !corral) {
  console.error('usage: CORRAL_BIN=… client-gateway.mjs URL');
  process.exit(64);
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-conf-gw-'));
const env = { ...process.env, CORRAL_ROOT: root };
delete env.CORRAL_TEST_TIMESCALE;
let client;
const t0 = Date.now();
const mark = (w) => console.error(`client-gateway: ${w} at ${Date.now() - t0} ms`);
try {
  const inst = spawnSync(corral, ['install', url, '--remote', '--yes', '--name', 'conf'],
    { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30000 });
  if (inst.status !== 0) throw new Error(`corral install failed (${inst.status}): ${inst.stderr}`);

  mark('installed');
  client = new Client({ name: 'corral-conformance-client', version: '1.0.0' },
    { capabilities: { elicitation: { form: { applyDefaults: true } } } });
  client.setRequestHandler(ElicitRequestSchema, async (req) => {
    const props = req.params.requestedSchema?.properties ?? {};
    // The SDK fills in the form's defaults (applyDefaults); a boolean
    // "confirmed" is answered yes.
    return { action: 'accept', content: 'confirmed' in props ? { confirmed: true } : {} };
  });
  await client.connect(new StdioClientTransport({ command: corral, args: ['serve', '--stdio'], env,
    stderr: 'inherit' }));

  mark('connected');
  // The embedded supervisor brings the unit up after the session opens.
  let tools = [];
  for (let i = 0; i < 150; i++) {
    tools = (await client.listTools()).tools;
    if (tools.some((t) => t.name.startsWith('conf__'))) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const call = async (name, args = {}) => {
    const r = await client.callTool({ name: `conf__${name}`, arguments: args });
    console.log(`${name}: ${JSON.stringify(r)}`);
    return r;
  };

  mark('listed');
  switch (scenario) {
  case 'sep-2322-client-request-state':
    // Two MRTR flows (with and without requestState), a call in between
    // that must carry neither, and a result without resultType.
    await call('test_mrtr_echo_state');
    await call('test_mrtr_unrelated');
    await call('test_mrtr_no_state');
    await call('test_mrtr_no_result_type');
    break;
  case 'http-standard-headers': {
    for (const t of tools.filter((x) => x.name.startsWith('conf__'))) await call(t.name.slice(6));
    const { resources } = await client.listResources();
    for (const r of resources) {
      console.log(`read ${r.uri}: ${JSON.stringify(await client.readResource({ uri: r.uri }))}`);
    }
    const { prompts } = await client.listPrompts();
    for (const p of prompts) {
      console.log(`get ${p.name}: ${JSON.stringify(await client.getPrompt({ name: p.name }))}`);
    }
    break;
  }
  case 'json-schema-2020-12-preservation': {
    // The focal tool's inputSchema as corral listed it, echoed back.
    const focal = tools.find((t) => t.name === 'conf__json_schema_2020_12_tool');
    if (!focal) throw new Error(`no conf__json_schema_2020_12_tool among ${tools.map((t) => t.name)}`);
    await call('json_schema_echo', { schema: focal.inputSchema });
    break;
  }
  case 'http-custom-headers': {
    // The calls the scenario names (MCP_CONFORMANCE_CONTEXT), as given.
    const ctx = JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT ?? '{}');
    for (const c of ctx.toolCalls ?? []) await call(c.name, c.arguments);
    break;
  }
  case 'http-invalid-tool-headers':
    // Every tool corral lists: the ones with broken annotations are not there.
    for (const t of tools.filter((x) => x.name.startsWith('conf__'))) {
      await call(t.name.slice(6), { region: 'us-west1' });
    }
    break;
  case 'elicitation-sep1034-client-defaults':
    await call('test_client_elicitation_defaults');
    break;
  case 'tools_call':
    await call('add_numbers', { a: 5, b: 3 });
    break;
  default:
    throw new Error(`client-gateway.mjs: no plan for scenario '${scenario}'`);
  }
  mark('done');
} catch (e) {
  console.error(`client-gateway.mjs: ${e.stack ?? e}`);
  process.exitCode = 1;
} finally {
  try { await client?.close(); } catch { /* gone */ }
  mark('closed');
  fs.rmSync(root, { recursive: true, force: true });
}
