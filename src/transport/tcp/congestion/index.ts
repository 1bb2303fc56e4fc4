/**
 * Congestion control: one interface (types.ts), two algorithms. CUBIC is Linux's default
 * (`net.ipv4.tcp_congestion_control = cubic`); NewReno is the RFC 5681 baseline.
 */
import { Cubic } from './cubic.js';
import { NewReno } from './newreno.js';
import type { CongestionControl, CongestionControlName } from './types.js';

export { Cubic, CUBIC_ALPHA, CUBIC_BETA, CUBIC_C } from './cubic.js';
export { NewReno } from './newreno.js';
export {
  INITIAL_WINDOW_SEGMENTS, MIN_SSTHRESH_SEGMENTS, type CongestionControl, type CongestionControlName,
} from './types.js';

/** A fresh congestion controller for a connection whose MSS is `mss` bytes. */
export function createCongestionControl(name: CongestionControlName, mss: number): CongestionControl {
  switch (name) {
    case 'newreno':
      return new NewReno(mss);
    case 'cubic':
      return new Cubic(mss);
  }
}
