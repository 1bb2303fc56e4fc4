import { afterEach, describe, expect, it } from 'vitest';
import { RealClock } from '../../src/core/clock.js';
import { MemoryLink } from '../../src/dev/memory.js';
import { run, type Running } from '../../src/driver.js';
import { createStack } from '../../src/stack.js';
import { seededRandom } from '../../src/core/random.js';
import { arpFrame, decode } from '../helpers/packets.js';

/**
 * A stack on one end of a MemoryLink, which moves frames only when someone asks it to, once
 * its start-up chatter is out and no timer is due for a second (so no timer reads the link).
 */
async function setup(busyPoll: boolean): Promise<{ peer: MemoryLink; running: Running }> {
  const [link, peer] = MemoryLink.pair();
  const stack = createStack({
    link, ipv4: '192.168.69.2/24', mac: '02:00:00:00:00:0b', random: seededRandom(7),
    config: { ipv6: { dadTransmits: 0, routerSolicitations: 0 } },
  });
  const running = run(stack, new RealClock(), { busyPoll });
  await new Promise((r) => setTimeout(r, 20));
  expect(stack.pollAt() - new RealClock().now()).toBeGreaterThan(500);
  peer.take();
  return { peer, running };
}

let running: Running | undefined;
afterEach(() => running?.stop());

describe('the driver', () => {
  it('busy polling reads frames the link never signalled; without it they wait for a wake-up', async () => {
    const busy = await setup(true);
    running = busy.running;
    busy.peer.send(arpFrame());
    busy.peer.flush();
    await new Promise((r) => setTimeout(r, 50));
    const replies = busy.peer.take().map(decode).filter((d) => d.arp !== undefined);
    expect(replies.map((d) => d.arp!.op)).toEqual([2]);
    running.stop();

    const quiet = await setup(false);
    running = quiet.running;
    quiet.peer.send(arpFrame());
    quiet.peer.flush();
    await new Promise((r) => setTimeout(r, 50));
    expect(quiet.peer.take().map(decode).filter((d) => d.arp !== undefined)).toEqual([]);
  });
});
