#!/usr/bin/env node
// A minimal MCP server over stdio (newline-delimited JSON-RPC 2.0, no
// dependencies) for the packaging tests: one tool, "whoami", that reports
// what the process sees of its confinement (uid, host name, network
// interfaces), so a test can tell a sandboxed run from an unconfined one.
import os from 'node:os';
import readline from 'node:readline';

const send = (msg) => process.stdout.write(JSON.stringify(msg) + '\n');
const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let req;
  try { req = JSON.parse(line); } catch { return; }
  if (req.id === undefined) return; // notifications
  if (req.method === 'initialize') {
    send({ jsonrpc: '2.0', id: req.id, result: {
      protocolVersion: req.params?.protocolVersion ?? '2025-06-18',
      capabilities: { tools: {} }, serverInfo: { name: 'whoami', version: '1.0.0' } } });
  } else if (req.method === 'tools/list') {
    send({ jsonrpc: '2.0', id: req.id, result: { tools: [{ name: 'whoami',
      description: 'Reports uid, host name and network interfaces',
      inputSchema: { type: 'object', properties: {} } }] } });
  } else if (req.method === 'tools/call' && req.params?.name === 'whoami') {
    const info = { uid: process.getuid(), hostname: os.hostname(),
                   interfaces: Object.keys(os.networkInterfaces()).sort() };
    send({ jsonrpc: '2.0', id: req.id,
           result: { content: [{ type: 'text', text: JSON.stringify(info) }] } });
  } else if (req.method === 'ping') {
    send({ jsonrpc: '2.0', id: req.id, result: {} });
  } else {
    send({ jsonrpc: '2.0', id: req.id, error: { code: -32601, message: 'no such method' } });
  }
});
rl.on('close', () => process.exit(0));
