'use strict';
// A deliberate leak, to check that hostile-input's memory check catches one (RELIABILITY.md):
// CHAOS_SERVICE_NODE_OPTIONS="--require tools/chaos/probe/leak-js.cjs" keeps a ~1 KB string per
// connection the service accepts. Never loaded unless asked for.
const dc = require('node:diagnostics_channel');
const kept = [];
dc.subscribe('net.server.socket', ({ socket }) => {
  kept.push({ port: socket.remotePort, pad: 'x'.repeat(1000) + kept.length });
});
