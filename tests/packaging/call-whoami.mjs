#!/usr/bin/env node
// Speaks MCP to `CORRAL serve --stdio` (argv: the corral command and its
// global options), calls SERVER__whoami and checks that the server ran
// sandboxed: uid 1000 inside, the host name is the server's name, and only
// the loopback interface.  Prints the tool's answer; exits 1 on any mismatch.
import { spawn } from 'node:child_process';
import readline from 'node:readline';

const [server, ...cmd] = process.argv.slice(2);
const child = spawn(cmd[0], [...cmd.slice(1), 'serve', '--stdio'],
                    { stdio: ['pipe', 'pipe', 'inherit'] });
const rl = readline.createInterface({ input: child.stdout });
const waiting = new Map();
rl.on('line', (line) => {
  const msg = JSON.parse(line);
  if (msg.id !== undefined && waiting.has(msg.id)) waiting.get(msg.id)(msg);
});
let next = 1;
const request = (method, params) => new Promise((resolve) => {
  const id = next++;
  waiting.set(id, resolve);
  child.stdin.write(JSON.stringify({ jsonrpc: '2.0', id, method, params }) + '\n');
});
const fail = (why) => { console.error(`call-whoami: ${why}`); process.exit(1); };
const timer = setTimeout(() => fail('no answer within 60 s'), 60000);

const init = await request('initialize', { protocolVersion: '2025-06-18', capabilities: {},
                                           clientInfo: { name: 'call-whoami', version: '1' } });
if (!init.result) fail(`initialize: ${JSON.stringify(init)}`);
child.stdin.write(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) + '\n');
// The server may still be starting: retry while the gateway does not list it.
let res;
for (let i = 0; i < 100; i++) {
  res = await request('tools/call', { name: `${server}__whoami`, arguments: {} });
  if (res.result) break;
  await new Promise((r) => setTimeout(r, 200));
}
if (!res.result) fail(`tools/call: ${JSON.stringify(res)}`);
const info = JSON.parse(res.result.content[0].text);
console.log(JSON.stringify(info));
if (info.uid !== 1000) fail(`uid ${info.uid}, want 1000 (the sandbox's)`);
if (info.hostname !== server) fail(`host name ${info.hostname}, want ${server}`);
if (JSON.stringify(info.interfaces) !== '["lo"]') fail(`interfaces ${info.interfaces}, want lo only`);
clearTimeout(timer);
child.stdin.end();
child.on('exit', (code) => process.exit(code === 0 ? 0 : 1));
