// Preloaded into the Prisma CLI child process by applyMigrations (libs/db/src/lib/migrations.ts).
// Prisma 6.19's WASM schema engine arms a 10 s timer (setTimeout from the engine's async runtime) that is still
// pending when `migrate deploy` has finished, and the CLI does not call process.exit for that command: every
// deploy took ~11 s of which ~10 s were spent waiting for that timer. Timers of 5 s or more are unref'd here, so
// they still fire while the CLI has work in flight (open sockets keep it alive) but no longer hold the process
// open once it is done. Plain JS: the CLI runs under node, without a TypeScript loader.
'use strict';
const originalSetTimeout = global.setTimeout;
global.setTimeout = function setTimeoutUnrefLong(callback, ms, ...args) {
  const timer = originalSetTimeout.call(this, callback, ms, ...args);
  if (typeof ms === 'number' && ms >= 5000 && timer && typeof timer.unref === 'function') timer.unref();
  return timer;
};
