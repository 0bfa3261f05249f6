import { PrismaPg } from '@prisma/adapter-pg';
import type pg from 'pg';

type Adapter = Awaited<ReturnType<PrismaPg['connect']>>;
type Transaction = Awaited<ReturnType<Adapter['startTransaction']>>;

/**
 * Workaround: `@prisma/adapter-pg` 6.19 gives an interactive transaction's connection back to the pool only in the
 * transaction's `commit()`/`rollback()`, and Prisma's client calls `rollback()` only after its `ROLLBACK` statement
 * succeeded. When the connection is lost mid-transaction (the server stopped: a failover, a restart; a terminated
 * backend), that `ROLLBACK` fails, the connection is never released, and after `DATABASE_POOL_SIZE` such losses every
 * statement of the process waits for a connection forever (found by review of the failover drill). Here a
 * transaction's connection that ends or errors is released at once, destroyed (pg-pool drops a client released with
 * an error), and the transaction's own `commit()`/`rollback()` then do nothing.
 */
export class LostConnectionPrismaPg extends PrismaPg {
  override async connect(): ReturnType<PrismaPg['connect']> {
    const adapter = await super.connect();
    const start = adapter.startTransaction.bind(adapter);
    adapter.startTransaction = async (isolationLevel) => releaseWhenLost(await start(isolationLevel));
    return adapter;
  }
}

export function releaseWhenLost(tx: Transaction): Transaction {
  const conn = (tx as unknown as { client: pg.PoolClient }).client;
  let released = false;
  const lost = (error?: Error) => {
    if (released) return;
    released = true;
    stopWatching();
    (tx as unknown as { cleanup?: () => void }).cleanup?.();
    conn.release(error ?? new Error('connection ended during a transaction'));
  };
  const onError = (error: Error) => lost(error);
  const onEnd = () => lost();
  const stopWatching = () => {
    conn.removeListener('error', onError);
    conn.removeListener('end', onEnd);
  };
  conn.on('error', onError);
  conn.on('end', onEnd);
  const commit = tx.commit.bind(tx);
  const rollback = tx.rollback.bind(tx);
  tx.commit = async () => {
    stopWatching();
    if (released) return;
    released = true;
    await commit();
  };
  tx.rollback = async () => {
    stopWatching();
    if (released) return;
    released = true;
    await rollback();
  };
  return tx;
}
