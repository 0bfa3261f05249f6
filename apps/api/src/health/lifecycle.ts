import { Injectable } from '@nestjs/common';

/** Flipped by the shutdown sequence (main.ts) so that load balancers stop sending traffic first. */
@Injectable()
export class Lifecycle {
  shuttingDown = false;
}
