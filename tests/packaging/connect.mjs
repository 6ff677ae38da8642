#!/usr/bin/env node
// Connects to the unix socket argv[2]: exits 0 when the connection is
// accepted, 13 on EACCES, 1 on anything else (for the socket-mode checks).
import net from 'node:net';

const c = net.connect(process.argv[2]);
c.on('connect', () => { c.destroy(); process.exit(0); });
c.on('error', (e) => {
  console.error(`connect ${process.argv[2]}: ${e.code}`);
  process.exit(e.code === 'EACCES' ? 13 : 1);
});
