'use strict';
// A deliberate native leak, to check that hostile-input's memory check catches one
// (RELIABILITY.md): keeps a 1 KB Buffer (memory outside the V8 heap) per accepted connection.
// CHAOS_SERVICE_NODE_OPTIONS="--require tools/chaos/probe/leak-native.cjs". Never loaded unless asked for.
const dc = require('node:diagnostics_channel');
const kept = [];
dc.subscribe('net.server.socket', () => {
  kept.push(Buffer.alloc(1024, kept.length & 0xff));
});
