/**
 * The cloud's distributed algorithms as sans-IO state machines (see README.md here).
 * The runtime (src/server, src/client) and the simulator (src/sim) import from this file.
 */
export * from './client-session.js';
export * from './config.js';
export * from './epoch.js';
export * from './events.js';
export * from './history.js';
export * from './messages.js';
export * from './placement.js';
export * from './random.js';
export * from './score.js';
export * from './server-node.js';
