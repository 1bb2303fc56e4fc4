/**
 * UDP sockets shaped like `node:dgram`, over tapstack's UDP. Besides the `'message'`
 * event, an application can read without events: `recv()` returns the next datagram
 * or `null` at once (like `recvfrom` with MSG_DONTWAIT), and `await recvAsync()` waits
 * for one (the "blocking" read).
 */
import { EventEmitter } from 'node:events';
import { codeError, systemError } from '../core/errors.js';
import type { Datagram, Udp, UdpEndpoint } from '../transport/udp.js';
import { IPV6_ANY, formatIp, ipv6Bytes, isIpv4, parseIp, type IpAddr } from '../wire/addr.js';

/** What a socket needs from its stack. */
export interface UdpHost {
  readonly udp: Udp;
  now(): number;
  /** The address `send()` uses when none is given (Node uses 127.0.0.1 or ::1; we have no `lo`). */
  defaultAddress(family: 'udp4' | 'udp6'): IpAddr;
  /** Called after the application queued output outside a receive turn: flush and re-arm timers. */
  afterOutput(): void;
}

export interface RemoteInfo {
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
  size: number;
}

export interface UdpMessage {
  msg: Buffer;
  rinfo: RemoteInfo;
}

export interface SocketOptions {
  /** `udp4` binds `0.0.0.0` by default; `udp6` binds `::`, which takes IPv4 too unless `ipv6Only`. */
  type: 'udp4' | 'udp6';
  ipv6Only?: boolean;
  recvBufferSize?: number;
}

type SendCallback = (error: Error | null, bytes?: number) => void;

const State = { UNBOUND: 0, BOUND: 1, CLOSED: 2 } as const;

export class UdpSocket extends EventEmitter {
  private readonly ep: UdpEndpoint;
  private readonly type: 'udp4' | 'udp6';
  private state: number = State.UNBOUND;
  private readonly waiters: { resolve: (m: UdpMessage) => void; reject: (e: Error) => void }[] = [];

  constructor(
    private readonly host: UdpHost,
    options: SocketOptions = { type: 'udp4' },
  ) {
    super();
    if (options.type !== 'udp4' && options.type !== 'udp6') {
      throw codeError('ERR_SOCKET_BAD_TYPE', 'Bad socket type specified. Valid types are: udp4, udp6');
    }
    this.type = options.type;
    this.ep = host.udp.newEndpoint();
    this.ep.v6Only = options.ipv6Only === true;
    if (options.recvBufferSize !== undefined) this.ep.rcvbuf = options.recvBufferSize;
    this.ep.onReadable = () => this.drain();
    // Datagrams that waited for a listener go to the first one attached.
    this.on('newListener', (event) => {
      if (event === 'message') process.nextTick(() => this.drain());
    });
  }

  bind(port?: number | { port?: number; address?: string }, address?: string | (() => void), callback?: () => void): this {
    if (typeof port === 'object') {
      callback = address as (() => void) | undefined;
      address = port.address;
      port = port.port;
    } else if (typeof address === 'function') {
      callback = address;
      address = undefined;
    }
    if (this.state === State.BOUND) throw codeError('ERR_SOCKET_ALREADY_BOUND', 'Socket is already bound');
    if (this.state === State.CLOSED) throw codeError('ERR_SOCKET_DGRAM_NOT_RUNNING', 'Not running');
    if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 0xffff)) {
      throw codeError('ERR_SOCKET_BAD_PORT', `Port should be >= 0 and < 65536. Received ${String(port)}.`);
    }
    if (callback) this.once('listening', callback);

    const addrText = address ?? (this.type === 'udp4' ? '0.0.0.0' : IPV6_ANY);
    const addr = parseIp(addrText);
    const wrongFamily = addr !== null && isIpv4(addr) !== (this.type === 'udp4');
    const err = addr === null || wrongFamily ? 'EINVAL' : this.host.udp.bind(this.ep, addr, port ?? 0);
    if (err !== undefined) {
      process.nextTick(() => this.emit('error', systemError(err, 'bind', addrText, port ?? 0)));
      return this;
    }
    this.state = State.BOUND;
    process.nextTick(() => this.emit('listening'));
    return this;
  }

  send(msg: Uint8Array | string, port: number, address?: string | SendCallback, callback?: SendCallback): void;
  send(msg: Uint8Array | string, offset: number, length: number, port: number, address?: string, callback?: SendCallback): void;
  send(msg: Uint8Array | string, ...args: unknown[]): void {
    let data = typeof msg === 'string' ? Buffer.from(msg) : msg;
    if (typeof args[1] === 'number' && typeof args[2] === 'number') {
      const [offset, length] = args as [number, number];
      data = data.subarray(offset, offset + length);
      args = args.slice(2);
    }
    let [port, address, callback] = args as [number, string | SendCallback | undefined, SendCallback | undefined];
    if (typeof address === 'function') {
      callback = address;
      address = undefined;
    }
    if (this.state === State.CLOSED) throw codeError('ERR_SOCKET_DGRAM_NOT_RUNNING', 'Not running');
    if (!Number.isInteger(port) || port <= 0 || port > 0xffff) {
      throw codeError('ERR_SOCKET_BAD_PORT', `Port should be > 0 and < 65536. Received ${String(port)}.`);
    }
    if (this.state === State.UNBOUND) this.bind(0);

    const dst = address === undefined ? this.host.defaultAddress(this.type) : unmapped(parseIp(address));
    const fail = (code: string): void => {
      const err = systemError(code, dst === null ? 'getaddrinfo' : 'send', String(address), port);
      if (callback) process.nextTick(callback, err);
      else process.nextTick(() => this.emit('error', err));
    };
    if (dst === null) return fail('ENOTFOUND');
    const err = this.host.udp.send(this.ep, data, dst, port, this.host.now());
    this.host.afterOutput();
    if (err !== undefined) return fail(err);
    if (callback) process.nextTick(callback, null, data.length);
  }

  /** The next queued datagram, or `null` when none is waiting. Never blocks. */
  recv(): UdpMessage | null {
    const d = this.host.udp.read(this.ep);
    return d === undefined ? null : toMessage(d, this.type);
  }

  /** Waits for the next datagram. */
  recvAsync(): Promise<UdpMessage> {
    if (this.state === State.CLOSED) return Promise.reject(codeError('ERR_SOCKET_DGRAM_NOT_RUNNING', 'Not running'));
    const now = this.recv();
    if (now !== null) return Promise.resolve(now);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  close(callback?: () => void): this {
    if (this.state === State.CLOSED) throw codeError('ERR_SOCKET_DGRAM_NOT_RUNNING', 'Not running');
    if (callback) this.once('close', callback);
    this.state = State.CLOSED;
    this.host.udp.close(this.ep);
    const err = codeError('ERR_SOCKET_DGRAM_NOT_RUNNING', 'Socket closed');
    for (const w of this.waiters.splice(0)) w.reject(err);
    process.nextTick(() => this.emit('close'));
    return this;
  }

  address(): { address: string; family: 'IPv4' | 'IPv6'; port: number } {
    if (this.state !== State.BOUND) throw systemError('EBADF', 'getsockname');
    return { address: formatIp(this.ep.localAddr), family: this.type === 'udp4' ? 'IPv4' : 'IPv6', port: this.ep.localPort };
  }

  setBroadcast(flag: boolean): void {
    this.ep.broadcast = flag;
  }

  setRecvBufferSize(size: number): void {
    this.ep.rcvbuf = size;
  }

  getRecvBufferSize(): number {
    return this.ep.rcvbuf;
  }

  /** Datagrams waiting to be read. */
  get queued(): number {
    return this.ep.length;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  /** Hands queued datagrams to waiting `recvAsync()` calls first, then to `'message'` listeners. */
  private drain(): void {
    while (this.waiters.length > 0 || this.listenerCount('message') > 0) {
      const d = this.host.udp.read(this.ep);
      if (d === undefined) return;
      const m = toMessage(d, this.type);
      const w = this.waiters.shift();
      if (w !== undefined) w.resolve(m);
      else this.emit('message', m.msg, m.rinfo);
    }
  }
}

/**
 * As Node shows it: an IPv4 sender seen by a `udp6` socket is an IPv4-mapped IPv6 address
 * (`::ffff:192.168.69.1`, RFC 4291 §2.5.5.2), family IPv6.
 */
function toMessage(d: Datagram, type: 'udp4' | 'udp6'): UdpMessage {
  const v4 = isIpv4(d.address);
  const address = v4 && type === 'udp6' ? `::ffff:${formatIp(d.address)}` : formatIp(d.address);
  return {
    msg: Buffer.from(d.data.buffer, d.data.byteOffset, d.data.length),
    rinfo: { address, family: v4 && type === 'udp4' ? 'IPv4' : 'IPv6', port: d.port, size: d.data.length },
  };
}

/** An IPv4-mapped IPv6 address names the IPv4 host it maps: send to that over IPv4. */
function unmapped(a: IpAddr | null): IpAddr | null {
  if (a === null || isIpv4(a) || !a.startsWith('::ffff:')) return a;
  const b = ipv6Bytes(a);
  return ((b[12]! << 24) | (b[13]! << 16) | (b[14]! << 8) | b[15]!) >>> 0;
}
