/**
 * Drives a stack in real time: frames from the link go to `receive`, and one timer,
 * re-armed after every turn, calls `poll` when `pollAt` says. This is the only place
 * where protocol time meets the event loop.
 *
 * Two ways to learn that frames arrived, as a NIC driver has (Linux interrupts vs
 * SO_BUSY_POLL): by default the link wakes us (the addon's epoll readiness, one JS call per
 * batch); with `busyPoll` the driver also asks the link on every turn of the event loop
 * (`readNow`), trading a core spinning for the wake-up latency.
 */
import { RealClock, type Clock } from './core/clock.js';
import type { Stack } from './stack.js';

export interface Running {
  stop(): void;
}

export interface RunOptions {
  /** Poll the link on every turn of the event loop instead of only when it signals. Default false. */
  busyPoll?: boolean;
}

export function run(stack: Stack, clock: Clock = new RealClock(), opts: RunOptions = {}): Running {
  let timer: NodeJS.Timeout | undefined;
  let armedFor = Infinity;
  let spin: NodeJS.Immediate | undefined;

  const arm = (): void => {
    const at = stack.pollAt();
    if (timer !== undefined && at === armedFor) return;
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    armedFor = at;
    if (at === Infinity) return;
    timer = setTimeout(tick, Math.max(0, Math.ceil(at - clock.now())));
  };

  const tick = (): void => {
    timer = undefined;
    // Frames already waiting go first: an ACK queued in the device while this process was
    // busy must stop the retransmission timer, not lose the race to it. It arrives through
    // the receiver below, which re-arms; the timer's own work follows.
    stack.link.readNow?.();
    stack.poll(clock.now());
    arm();
  };

  stack.link.setReceiver((frames) => {
    stack.receive(frames, clock.now());
    arm();
  });
  stack.setWakeup(arm);
  stack.start(clock.now());
  arm();

  // Busy polling: a check between every two turns of the loop (setImmediate lets I/O and
  // timers run in between, so the process stays responsive while it spins).
  const busy = (): void => {
    stack.link.readNow?.();
    spin = setImmediate(busy);
  };
  if (opts.busyPoll === true && stack.link.readNow !== undefined) spin = setImmediate(busy);

  return {
    stop() {
      if (spin !== undefined) clearImmediate(spin);
      spin = undefined;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      stack.setWakeup(null);
      stack.link.setReceiver(null);
    },
  };
}
