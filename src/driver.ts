/**
 * Drives a stack in real time: frames from the link go to `receive`, and one timer,
 * re-armed after every turn, calls `poll` when `pollAt` says. This is the only place
 * where protocol time meets the event loop.
 */
import { RealClock, type Clock } from './core/clock.js';
import type { Stack } from './stack.js';

export interface Running {
  stop(): void;
}

export function run(stack: Stack, clock: Clock = new RealClock()): Running {
  let timer: NodeJS.Timeout | undefined;
  let armedFor = Infinity;

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

  return {
    stop() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      stack.setWakeup(null);
      stack.link.setReceiver(null);
    },
  };
}
