import { Logger } from '@nestjs/common';
import { BackupBusyError } from './backup-events';
import type { BackupRetentionService, PruneResult } from './backup-retention.service';
import { BackupJobsService } from './backup-jobs.service';
import type { BackupResult, BackupService } from './backup.service';

const PRUNED: PruneResult = { deleted: [{ id: 'old', status: 'completed', startedAt: '2026-01-01T00:00:00.000Z', reason: 'count' }], kept: 3 };
const result = (id: string) => ({ id, location: `mem://${id}` }) as unknown as BackupResult;

/** The jobs over stubbed services (its ports): each call is recorded in `calls`, in order. */
function setup(options: { queued?: string[]; runFails?: Error; pruneFails?: Error } = {}) {
  const calls: string[] = [];
  const queue = [...(options.queued ?? [])];
  const backups = {
    run: jest.fn(async () => {
      calls.push('run');
      if (options.runFails) throw options.runFails;
      return result('now');
    }),
    runNextQueued: jest.fn(async () => {
      const next = queue.shift();
      if (next) calls.push(`queued ${next}`);
      return next ? result(next) : null;
    }),
    sweepIfIdle: jest.fn(async () => (calls.push('sweep'), [])),
  };
  const retention = {
    prune: jest.fn(async () => {
      calls.push('prune');
      if (options.pruneFails) throw options.pruneFails;
      return PRUNED;
    }),
  };
  const sut = new BackupJobsService(backups as unknown as BackupService, retention as unknown as BackupRetentionService);
  return { sut, calls, backups, retention };
}

describe(BackupJobsService.name, () => {
  beforeAll(() => Logger.overrideLogger(false));

  it('backs up, then prunes; `prune: false` skips retention', async () => {
    const { sut, calls } = setup();
    expect(await sut.backupThenPrune()).toEqual({ backup: result('now'), pruned: PRUNED });
    expect(calls).toEqual(['run', 'prune']);
    calls.length = 0;
    expect((await sut.backupThenPrune({ prune: false })).pruned).toBeNull();
    expect(calls).toEqual(['run']);
  });

  it('a failed backup is thrown and nothing is pruned; a failed prune keeps the completed backup', async () => {
    const busy = setup({ runFails: new BackupBusyError() });
    await expect(busy.sut.backupThenPrune()).rejects.toBeInstanceOf(BackupBusyError);
    expect(busy.calls).toEqual(['run']);
    const pruneFails = setup({ pruneFails: new Error('storage down') });
    expect(await pruneFails.sut.backupThenPrune()).toEqual({ backup: result('now'), pruned: null });
  });

  it('the cron job never throws at its timer', async () => {
    for (const runFails of [new BackupBusyError(), new Error('disk full')]) {
      const { sut, calls } = setup({ runFails });
      await expect(sut.scheduledBackup()).resolves.toBeUndefined();
      expect(calls).toEqual(['run']);
    }
  });

  it('drains the queue: sweep, every queued request, then retention once', async () => {
    const { sut, calls } = setup({ queued: ['a', 'b'] });
    expect(await sut.drainQueue()).toBe(2);
    expect(calls).toEqual(['sweep', 'queued a', 'queued b', 'prune']);
    calls.length = 0;
    expect(await sut.drainQueue()).toBe(0);
    expect(calls).toEqual(['sweep']);
  });

  it('concurrent drains share one', async () => {
    const { sut, backups } = setup({ queued: ['a'] });
    const [first, second] = await Promise.all([sut.drainQueue(), sut.drainQueue()]);
    expect([first, second]).toEqual([1, 1]);
    expect(backups.sweepIfIdle).toHaveBeenCalledTimes(1);
  });
});
