import { ImportRunRepository, JobLockService, MessageRepository, type PrismaService } from '@agenthub/db';
import { ImportDatabase } from '../src/import/import-database';
import { ImportTargetRepository } from '../src/import/import-target.repository';
import { ImportService } from '../src/import/import.service';

/** ImportService wired by hand on `prisma` (what ImportModule does in the app), for the int-specs and the benchmark. */
export function importServiceOn(prisma: PrismaService): ImportService {
  return new ImportService(new ImportDatabase(prisma), new ImportRunRepository(prisma), new ImportTargetRepository(prisma, new MessageRepository(prisma)), new JobLockService(prisma));
}
