/**
 * TCP sockets shaped like `node:net`, over tapstack's TCP. `TcpSocket` is a real
 * `stream.Duplex`, so Node's own `http.Server` serves over it
 * (`server.emit('connection', sock)`) and `http.request({ createConnection })` uses it.
 * Besides events and streams, `await sock.recv()` waits for the next chunk (null at the
 * end), and `sock.read()` returns null at once when nothing is buffered.
 *
 * Flow control is real: data the application does not read stays in the connection's
 * receive buffer, the advertised window closes, and the peer stops sending.
 */
import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import { codeError, systemError } from '../core/errors.js';
import { TcpState, type Tcb, type TcpUser } from '../transport/tcp/tcb.js';
import type { Listener, Tcp } from '../transport/tcp/tcp.js';
import { IPV6_ANY, formatIp, isIpv4, parseIp, type IpAddr } from '../wire/addr.js';

/** What sockets need from their stack. */
export interface TcpHost {
  readonly tcp: Tcp;
  now(): number;
  /** After application output outside a receive turn: flush and re-arm timers. */
  afterOutput(): void;
}

export interface TcpSocketOptions {
  /** Keep the writable side open after the peer's FIN (default false, as in Node). */
  allowHalfOpen?: boolean;
}

export interface ConnectOptions {
  port: number;
  host?: string;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
}

/** Bytes read from the connection per `push` (Node's net uses 64 KiB reads too). */
const READ_CHUNK = 65_536;

export class TcpSocket extends Duplex {
  private tcb: Tcb | null = null;
  /** Accepted by a listener on `::`: IPv4 ends show as IPv4-mapped IPv6 addresses. */
  private dualStack = false;
  connecting = false;
  bytesRead = 0;
  private written = 0;
  private pending: { chunk: Uint8Array; cb: (err?: Error | null) => void } | null = null;
  private finishPending: ((err?: Error | null) => void) | null = null;
  private reading = false;
  private eof = false;
  private noDelay = false;
  private keepAlive: [boolean, number] | null = null;
  private idleMs = 0;
  private idleTimer: NodeJS.Timeout | null = null;
  private remote: { address: string; port: number } | null = null;

  constructor(
    private readonly host: TcpHost,
    options: TcpSocketOptions = {},
  ) {
    super({ allowHalfOpen: options.allowHalfOpen ?? false, decodeStrings: true, emitClose: true, autoDestroy: true });
  }

  // ── attaching to a connection ────────────────────────────────────────────

  /** Wraps an accepted connection (the server side); `dualStack` if its listener was bound to `::`. */
  attach(tcb: Tcb, dualStack = false): this {
    this.tcb = tcb;
    this.dualStack = dualStack;
    tcb.user = this.hooks;
    this.applyOptions();
    // Data or a FIN may have come with the handshake, before we existed.
    if (tcb.rcvBuf.length > 0 || tcb.finReceived) process.nextTick(() => this.hooks.onReadable());
    if (tcb.state === TcpState.CLOSED) process.nextTick(() => this.hooks.onClosed(tcb.error));
    return this;
  }

  connect(port: number | ConnectOptions, host?: string | (() => void), listener?: () => void): this {
    const opts: ConnectOptions = typeof port === 'object' ? port : { port, ...(typeof host === 'string' && { host }) };
    if (typeof host === 'function') listener = host;
    if (typeof port === 'object' && typeof host === 'function') listener = host;
    if (listener) this.once('connect', listener);
    if (!Number.isInteger(opts.port) || opts.port <= 0 || opts.port > 0xffff) {
      throw codeError('ERR_SOCKET_BAD_PORT', `Port should be > 0 and < 65536. Received ${String(opts.port)}.`);
    }
    if (opts.noDelay) this.noDelay = true;
    if (opts.keepAlive) this.keepAlive = [true, opts.keepAliveInitialDelay ?? 0];
    const hostText = opts.host ?? 'localhost';
    const addr = hostText === 'localhost' ? this.host.tcp.ip.v4.routes.addresses[0]?.addr ?? null : parseIp(hostText);
    this.remote = { address: hostText, port: opts.port };
    if (addr === null) {
      process.nextTick(() => this.destroy(systemError('ENOTFOUND', 'getaddrinfo', hostText)));
      return this;
    }
    this.connecting = true;
    const r = this.host.tcp.connect(addr, opts.port, this.hooks, this.host.now());
    this.host.afterOutput();
    if (typeof r === 'string') {
      process.nextTick(() => this.destroy(systemError(r, 'connect', formatIp(addr), opts.port)));
      return this;
    }
    this.tcb = r;
    this.applyOptions();
    return this;
  }

  private applyOptions(): void {
    const tcb = this.tcb!;
    tcb.noDelay = this.noDelay;
    if (this.keepAlive !== null) {
      const [on, delay] = this.keepAlive;
      this.host.tcp.setKeepAlive(tcb, on, delay > 0 ? delay : undefined, this.host.now());
    }
  }

  /** The stack's callbacks, run after each batch of segments (see Tcp.wakeUsers). */
  private readonly hooks: TcpUser = {
    onEstablished: () => {
      this.connecting = false;
      this.emit('connect');
      this.emit('ready');
      this.pump();
      if (this.finishPending !== null) this._final(this.finishPending);
    },
    onReadable: () => {
      this.touch();
      if (this.reading) this.pull();
    },
    onWritable: () => this.pump(),
    onClosed: (error) => {
      const tcb = this.tcb;
      const syscall = this.connecting ? 'connect' : 'read';
      this.connecting = false;
      if (error !== null) {
        this.destroy(systemError(error, syscall, tcb ? formatIp(tcb.remoteAddr) : undefined, tcb?.remotePort));
        return;
      }
      // A clean end: whatever was received has been queued; finish the readable side.
      this.pull();
      if (this.pending !== null) {
        const { cb } = this.pending;
        this.pending = null;
        cb(systemError('EPIPE', 'write'));
      }
    },
  };

  // ── stream.Duplex ───────────────────────────────────────────────────────

  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.send(chunk, cb);
  }

  private send(chunk: Uint8Array, cb: (err?: Error | null) => void): void {
    if (this.tcb === null) {
      cb(systemError('ENOTCONN', 'write'));
      return;
    }
    this.pending = { chunk, cb };
    this.pump();
  }

  /**
   * Chunks written while the stream was corked (Node's http writes headers and body so)
   * leave as one write: two writes would make two segments, and Nagle would hold the second
   * until the first is acknowledged — a delayed ACK, 40 ms, per response.
   */
  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    this.send(chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk)), cb);
  }

  /** Moves the pending chunk into the connection's send buffer as room appears. */
  private pump(): void {
    const p = this.pending;
    const tcb = this.tcb;
    if (p === null || tcb === null) return;
    if (tcb.state === TcpState.CLOSED) {
      this.pending = null;
      p.cb(systemError(tcb.error ?? 'EPIPE', 'write'));
      return;
    }
    const n = this.host.tcp.write(tcb, p.chunk, this.host.now());
    this.written += n;
    this.host.afterOutput();
    if (n === p.chunk.length) {
      this.pending = null;
      this.touch();
      p.cb();
    } else {
      p.chunk = p.chunk.subarray(n);
    }
  }

  override _final(cb: (err?: Error | null) => void): void {
    const tcb = this.tcb;
    if (tcb === null || this.connecting) {
      this.finishPending = cb;
      return;
    }
    this.finishPending = null;
    this.host.tcp.shutdown(tcb, this.host.now());
    this.host.afterOutput();
    cb();
  }

  override _read(): void {
    this.reading = true;
    this.pull();
  }

  /** Moves received bytes into the stream until it says stop; EOF after the peer's FIN. */
  private pull(): void {
    const tcb = this.tcb;
    if (tcb === null || this.eof) return;
    while (this.reading) {
      const chunk = this.host.tcp.read(tcb, READ_CHUNK, this.host.now());
      if (chunk === undefined) {
        if (tcb.finReceived || tcb.state === TcpState.CLOSED) {
          this.eof = true;
          this.push(null);
        }
        break;
      }
      this.bytesRead += chunk.length;
      this.reading = this.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
    }
    this.host.afterOutput();
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    this.clearIdle();
    const tcb = this.tcb;
    if (tcb !== null && tcb.state !== TcpState.CLOSED) {
      // Like closing a socket: FIN if everything was read, RST if data would be lost.
      tcb.user = null;
      if (err !== null) this.host.tcp.abort(tcb, this.host.now());
      else this.host.tcp.close(tcb, this.host.now());
      this.host.afterOutput();
    }
    cb(err);
  }

  /** Waits for the next chunk; null once the peer has finished sending. */
  recv(): Promise<Buffer | null> {
    const now = this.read() as Buffer | null;
    if (now !== null) return Promise.resolve(now);
    if (this.readableEnded) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const done = (): void => {
        this.off('readable', onReadable);
        this.off('end', onEnd);
        this.off('error', onError);
      };
      const onReadable = (): void => {
        const chunk = this.read() as Buffer | null;
        if (chunk === null) return;
        done();
        resolve(chunk);
      };
      const onEnd = (): void => {
        done();
        resolve(null);
      };
      const onError = (e: Error): void => {
        done();
        reject(e);
      };
      this.on('readable', onReadable);
      this.on('end', onEnd);
      this.on('error', onError);
    });
  }

  // ── node:net's socket surface ───────────────────────────────────────────

  get bytesWritten(): number {
    return this.written;
  }

  get remoteAddress(): string | undefined {
    return this.tcb ? this.show(this.tcb.remoteAddr) : undefined;
  }

  get remotePort(): number | undefined {
    return this.tcb?.remotePort ?? this.remote?.port;
  }

  get remoteFamily(): string | undefined {
    return this.tcb ? (this.mapped() ? 'IPv6' : family(this.tcb.remoteAddr)) : undefined;
  }

  get localAddress(): string | undefined {
    return this.tcb ? this.show(this.tcb.localAddr) : undefined;
  }

  /** An IPv4 connection accepted by a `::` listener, which Node shows in IPv4-mapped form (`::ffff:a.b.c.d`). */
  private mapped(): boolean {
    return this.dualStack && this.tcb !== null && isIpv4(this.tcb.remoteAddr);
  }

  private show(a: IpAddr): string {
    return this.mapped() ? `::ffff:${formatIp(a)}` : formatIp(a);
  }

  get localPort(): number | undefined {
    return this.tcb?.localPort;
  }

  get readyState(): string {
    if (this.connecting) return 'opening';
    if (this.readable && this.writable) return 'open';
    if (this.readable) return 'readOnly';
    if (this.writable) return 'writeOnly';
    return 'closed';
  }

  /** The connection's state in the RFC's words (`ESTABLISHED`, `TIME-WAIT`…), for tools. */
  get tcpState(): TcpState | undefined {
    return this.tcb?.state;
  }

  address(): { address: string; family: string; port: number } | Record<string, never> {
    const tcb = this.tcb;
    if (tcb === null) return {};
    return { address: this.show(tcb.localAddr), family: this.mapped() ? 'IPv6' : family(tcb.localAddr), port: tcb.localPort };
  }

  setNoDelay(noDelay = true): this {
    this.noDelay = noDelay;
    if (this.tcb) this.tcb.noDelay = noDelay;
    return this;
  }

  setKeepAlive(enable = false, initialDelay = 0): this {
    this.keepAlive = [enable, initialDelay];
    if (this.tcb) this.applyOptions();
    return this;
  }

  /** Emits 'timeout' after `ms` without activity; like Node, it never closes the socket itself. */
  setTimeout(ms: number, callback?: () => void): this {
    this.idleMs = ms;
    if (callback) {
      if (ms === 0) this.off('timeout', callback);
      else this.once('timeout', callback);
    }
    this.touch();
    return this;
  }

  private touch(): void {
    this.clearIdle();
    if (this.idleMs > 0 && !this.destroyed) {
      this.idleTimer = setTimeout(() => this.emit('timeout'), this.idleMs);
      this.idleTimer.unref();
    }
  }

  private clearIdle(): void {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }
}

export interface ListenOptions {
  port?: number;
  host?: string;
  backlog?: number;
}

/** A listening socket shaped like `net.Server`. */
export class TcpServer extends EventEmitter {
  private listener: Listener | null = null;
  private readonly sockets = new Set<TcpSocket>();
  private closing = false;

  constructor(
    private readonly host: TcpHost,
    connectionListener?: (socket: TcpSocket) => void,
    private readonly options: TcpSocketOptions = {},
  ) {
    super();
    if (connectionListener) this.on('connection', connectionListener);
  }

  get listening(): boolean {
    return this.listener !== null;
  }

  listen(port?: number | ListenOptions, host?: string | number | (() => void), backlog?: number | (() => void), cb?: () => void): this {
    let opts: ListenOptions;
    if (typeof port === 'object') {
      opts = port;
      if (typeof host === 'function') cb = host;
    } else {
      opts = { ...(port !== undefined && { port }) };
      for (const a of [host, backlog]) {
        if (typeof a === 'string') opts.host = a;
        else if (typeof a === 'number') opts.backlog = a;
        else if (typeof a === 'function') cb = a;
      }
    }
    if (this.listener !== null) throw codeError('ERR_SERVER_ALREADY_LISTEN', 'Listen method has been called more than once without closing.');
    if (opts.port !== undefined && (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 0xffff)) {
      throw codeError('ERR_SOCKET_BAD_PORT', `options.port should be >= 0 and < 65536. Received ${String(opts.port)}.`);
    }
    if (cb) this.once('listening', cb);
    // Like Node: without a host, `::`, which takes IPv4 as well (Linux bindv6only=0).
    const hostText = opts.host ?? '::';
    const addr = parseIp(hostText);
    const r = addr === null
      ? 'EADDRNOTAVAIL'
      : this.host.tcp.listen(addr, opts.port ?? 0, opts.backlog ?? 511, (tcb) => this.accept(tcb));
    if (typeof r === 'string') {
      process.nextTick(() => this.emit('error', systemError(r, 'listen', hostText, opts.port ?? 0)));
      return this;
    }
    this.listener = r;
    process.nextTick(() => this.emit('listening'));
    return this;
  }

  private accept(tcb: Tcb): void {
    const sock = new TcpSocket(this.host, this.options).attach(tcb, this.listener?.localAddr === IPV6_ANY);
    this.sockets.add(sock);
    sock.once('close', () => {
      this.sockets.delete(sock);
      this.maybeClosed();
    });
    this.emit('connection', sock);
  }

  address(): { address: string; family: string; port: number } | null {
    const l = this.listener;
    return l ? { address: formatIp(l.localAddr), family: family(l.localAddr), port: l.localPort } : null;
  }

  /** Stops accepting; 'close' follows once every accepted connection has closed (as in Node). */
  close(cb?: (err?: Error) => void): this {
    if (this.listener === null) {
      if (cb) process.nextTick(cb, codeError('ERR_SERVER_NOT_RUNNING', 'Server is not running.'));
      return this;
    }
    if (cb) this.once('close', cb);
    this.host.tcp.unlisten(this.listener, this.host.now());
    this.host.afterOutput();
    this.listener = null;
    this.closing = true;
    this.maybeClosed();
    return this;
  }

  /** Connections currently open. */
  get connections(): number {
    return this.sockets.size;
  }

  private maybeClosed(): void {
    if (this.closing && this.sockets.size === 0) {
      this.closing = false;
      process.nextTick(() => this.emit('close'));
    }
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }
}

function family(a: IpAddr): 'IPv4' | 'IPv6' {
  return isIpv4(a) ? 'IPv4' : 'IPv6';
}
