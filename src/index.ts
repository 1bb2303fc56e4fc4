/**
 * tapstack's public API. A host on a TAP device in four lines:
 *
 *   const link = TapLink.open({ name: 'tap0' });
 *   const stack = createStack({ link, ipv4: '192.168.69.2/24', gateway: '192.168.69.1' });
 *   const sock = stack.udp.createSocket('udp4');
 *   sock.on('message', (msg, rinfo) => sock.send(msg, rinfo.port, rinfo.address)).bind(7);
 *   run(stack);
 */
export { createStack, Stack, type StackOptions } from './stack.js';
export { run, type Running } from './driver.js';
export { ManualClock, RealClock, type Clock } from './core/clock.js';
export { DEFAULT_CONFIG, type StackConfig } from './core/config.js';
export { DropReason, CONSUMED, type Verdict } from './core/drop.js';
export type { CountersSnapshot } from './core/counters.js';
export {
  formatProcNetSnmp, formatProcNetNetstat, formatNetstatS, formatNstat, formatEthtoolS, Nstat,
  type NstatOptions,
} from './core/report.js';
export { seededRandom } from './core/random.js';
export type { Link, LinkStats } from './dev/device.js';
export { TapLink } from './dev/tap.js';
export { MemoryLink } from './dev/memory.js';
export { FaultyLink } from './dev/fault.js';
export { PcapWriter, capture } from './dev/pcap.js';
export { UdpSocket, type RemoteInfo, type UdpMessage } from './user/dgram.js';
export { formatSockets, formatTcpInfo, formatTcpLife, type SocketRow, type SocketTimer, type SsOptions } from './core/ss.js';
export { TcpCaState, type LifeRecord, type TcpInfo } from './transport/tcp/info.js';
