import { describe, expect, it } from 'vitest';
import { CONSUMED, DropReason } from '../../src/core/drop.js';
import { udpEcho } from '../../src/services/echo.js';
import { ETH_HLEN } from '../../src/wire/ethernet.js';
import { PEER, US, bytes, decode, harness, refreshIpChecksum, udpFrame } from '../helpers/packets.js';

describe('UDP input', () => {
  it('echo service: sends every datagram back to where it came from', () => {
    const h = harness();
    udpEcho(h.stack, 7);
    h.rx(udpFrame(40000, 7, bytes(100)));
    const [f] = h.tx();
    const d = decode(f!);
    expect(d.ip).toMatchObject({ src: US.ip, dst: PEER.ip });
    expect(d.udp).toMatchObject({ srcPort: 7, dstPort: 40000, length: 108 });
    expect(d.udp!.checksum).not.toBe(0);
    expect(d.payload).toEqual(bytes(100));
    expect(h.stack.counters().Udp).toMatchObject({ InDatagrams: 1, OutDatagrams: 1, NoPorts: 0 });
  });

  it('accepts checksum 0 (none, RFC 768) and drops a wrong checksum as UDP_CSUM', () => {
    const h = harness();
    const s = h.stack.udp.createSocket('udp4');
    s.bind(5000);
    const none = udpFrame(1, 5000, bytes(5));
    none[ETH_HLEN + 20 + 6] = 0;
    none[ETH_HLEN + 20 + 7] = 0;
    expect(h.input(none)).toBe(CONSUMED);
    const bad = udpFrame(1, 5000, bytes(5));
    bad[ETH_HLEN + 20 + 8]! ^= 0xff;
    expect(h.input(bad)).toBe(DropReason.UDP_CSUM);
    expect(h.stack.counters().Udp).toMatchObject({ InCsumErrors: 1, InErrors: 1 });
    expect(s.queued).toBe(1);
  });

  it.each([
    ['shorter than a header', (f: Uint8Array) => {
      // cut the datagram to 7 bytes and keep the IP header consistent with that
      const cut = f.slice(0, ETH_HLEN + 20 + 7);
      cut[ETH_HLEN + 3] = 27;
      refreshIpChecksum(cut, ETH_HLEN);
      return cut;
    }],
    ['with a length field beyond the packet', (f: Uint8Array) => { f[ETH_HLEN + 25] = 200; return f; }],
    ['with a length field below 8', (f: Uint8Array) => { f[ETH_HLEN + 25] = 7; return f; }],
  ])('drops a datagram %s as PKT_TOO_SMALL (InErrors)', (_name, mutate) => {
    const h = harness();
    expect(h.input(mutate(udpFrame(1, 9, bytes(20))))).toBe(DropReason.PKT_TOO_SMALL);
    expect(h.stack.counters().Udp.InErrors).toBe(1);
    expect(h.tx()).toHaveLength(0);
  });

  it('counts NoPorts and answers port unreachable for a closed port', () => {
    const h = harness();
    expect(h.input(udpFrame(1, 9, bytes(3)))).toBe(DropReason.NO_SOCKET);
    expect(h.stack.counters().Udp.NoPorts).toBe(1);
    expect(h.tx()).toHaveLength(1);
  });

  it('bounds the socket receive queue and counts RcvbufErrors (SOCKET_RCVBUFF)', () => {
    const h = harness();
    const s = h.stack.udp.createSocket({ type: 'udp4', recvBufferSize: 10_000 });
    s.bind(5000);
    const verdicts = Array.from({ length: 20 }, () => h.input(udpFrame(1, 5000, bytes(1000))));
    const kept = verdicts.filter((v) => v === CONSUMED).length;
    expect(kept).toBe(Math.floor(10_000 / (1000 + 256)));
    expect(h.stack.counters().Udp.RcvbufErrors).toBe(20 - kept);
    expect(h.stack.drops()[DropReason.SOCKET_RCVBUFF]).toBe(20 - kept);
    // Reading makes room again.
    while (s.recv() !== null);
    expect(h.input(udpFrame(1, 5000, bytes(1000)))).toBe(CONSUMED);
  });

  it('prefers a socket bound to the exact address over the wildcard', () => {
    const h = harness();
    const any = h.stack.udp.createSocket('udp4');
    const exact = h.stack.udp.createSocket('udp4');
    any.bind(5000);
    const err = new Promise((resolve) => exact.on('error', resolve));
    exact.bind(5000, '192.168.69.2');
    return err.then((e) => {
      // Without SO_REUSEADDR the wildcard and an exact bind conflict, as on Linux.
      expect((e as { code: string }).code).toBe('EADDRINUSE');
    });
  });
});

describe('dgram-shaped sockets', () => {
  it("a 'message' handler that throws does not leave the stack stuck", () => {
    const h = harness();
    const bad = h.stack.udp.createSocket('udp4');
    bad.bind(5000);
    bad.on('message', () => {
      throw new Error('application bug');
    });
    udpEcho(h.stack, 7);
    // Like an exception in a Node 'message' handler, it reaches the caller (the driver)…
    expect(() => h.rx(udpFrame(1, 5000, bytes(1)), udpFrame(1, 7, bytes(2)))).toThrow('application bug');
    // …and the next turn works: the echo still answers, the queued reply went out.
    h.rx(udpFrame(1, 7, bytes(3)));
    const echoed = h.tx().map((f) => decode(f).payload?.length);
    expect(echoed).toContain(3);
  });

  it('recv() returns null when nothing waits, then the datagram with rinfo', () => {
    const h = harness();
    const s = h.stack.udp.createSocket('udp4');
    s.bind(5000);
    expect(s.recv()).toBeNull();
    h.rx(udpFrame(4242, 5000, bytes(7)));
    const m = s.recv();
    expect(m?.msg).toEqual(Buffer.from(bytes(7)));
    expect(m?.rinfo).toEqual({ address: '192.168.69.1', family: 'IPv4', port: 4242, size: 7 });
    expect(s.recv()).toBeNull();
  });

  it('a udp6 socket on :: sees an IPv4 sender as an IPv4-mapped address, as Node does, and answers it over IPv4', () => {
    const h = harness();
    const s = h.stack.udp.createSocket('udp6');
    s.bind(5000);
    h.rx(udpFrame(4242, 5000, bytes(7)));
    const m = s.recv();
    expect(m?.rinfo).toEqual({ address: '::ffff:192.168.69.1', family: 'IPv6', port: 4242, size: 7 });
    s.send(m!.msg, m!.rinfo.port, m!.rinfo.address);
    const d = decode(h.tx()[0]!);
    expect(d.ip).toMatchObject({ src: US.ip, dst: PEER.ip });
    expect(d.udp).toMatchObject({ srcPort: 5000, dstPort: 4242 });
  });

  it("recvAsync() waits for the next datagram; 'message' listeners get queued ones", async () => {
    const h = harness();
    const s = h.stack.udp.createSocket('udp4');
    s.bind(5000);
    const waiting = s.recvAsync();
    h.rx(udpFrame(1, 5000, bytes(3)));
    expect((await waiting).msg.length).toBe(3);
    h.rx(udpFrame(1, 5000, bytes(4)));
    const got = await new Promise<Buffer>((resolve) => s.on('message', resolve));
    expect(got.length).toBe(4);
  });

  it("emits 'listening' after bind and reports its address", async () => {
    const h = harness();
    const s = h.stack.udp.createSocket('udp4');
    await new Promise<void>((resolve) => s.bind(5353, resolve));
    expect(s.address()).toEqual({ address: '0.0.0.0', family: 'IPv4', port: 5353 });
  });

  it('binds an ephemeral port on the first send', () => {
    const h = harness();
    const s = h.stack.udp.createSocket('udp4');
    s.send('hi', 7, '192.168.69.1');
    const port = s.address().port;
    expect(port).toBeGreaterThanOrEqual(32768);
    expect(port).toBeLessThanOrEqual(60999);
    expect(decode(h.tx()[0]!).udp?.srcPort).toBe(port);
  });

  it('reports bind errors like Node: EADDRINUSE, EADDRNOTAVAIL', async () => {
    const h = harness();
    h.stack.udp.createSocket('udp4').bind(5000);
    const inUse = h.stack.udp.createSocket('udp4');
    const e1 = await new Promise<any>((resolve) => inUse.on('error', resolve).bind(5000));
    expect(e1).toMatchObject({ code: 'EADDRINUSE', syscall: 'bind', port: 5000 });
    expect(e1.message).toBe('bind EADDRINUSE 0.0.0.0:5000');
    const notOurs = h.stack.udp.createSocket('udp4');
    const e2 = await new Promise<any>((resolve) => notOurs.on('error', resolve).bind(5001, '10.0.0.1'));
    expect(e2.code).toBe('EADDRNOTAVAIL');
  });

  it('refuses datagrams over 65507 bytes (EMSGSIZE) and broadcasts without setBroadcast (EACCES)', async () => {
    const h = harness();
    const s = h.stack.udp.createSocket('udp4');
    const big = await new Promise<any>((resolve) => s.send(new Uint8Array(65_508), 9, '192.168.69.1', resolve));
    expect(big.code).toBe('EMSGSIZE');
    const bcast = await new Promise<any>((resolve) => s.send('x', 9, '192.168.69.255', resolve));
    expect(bcast.code).toBe('EACCES');
    s.setBroadcast(true);
    const ok = await new Promise<any>((resolve) => s.send('x', 9, '192.168.69.255', resolve));
    expect(ok).toBeNull();
    expect(decode(h.tx().at(-1)!).eth.dst).toBe(0xffff_ffff_ffff);
  });

  it('sends the largest datagram, 65507 bytes, in fragments', () => {
    const h = harness();
    h.stack.udp.createSocket('udp4').send(new Uint8Array(65_507), 9, '192.168.69.1');
    const out = h.tx().map(decode);
    expect(out.length).toBe(Math.ceil((65_507 + 8) / 1480));
    expect(h.stack.counters().Udp.OutDatagrams).toBe(1);
  });

  it('close() purges queued datagrams (QUEUE_PURGE) and frees the port', async () => {
    const h = harness();
    const s = h.stack.udp.createSocket('udp4');
    s.bind(5000);
    h.rx(udpFrame(1, 5000, bytes(3)), udpFrame(1, 5000, bytes(3)));
    const pending = s.recvAsync();
    await new Promise<void>((resolve) => s.close(resolve));
    expect(h.stack.drops()[DropReason.QUEUE_PURGE]).toBe(1);
    await expect(pending).resolves.toBeDefined(); // it had taken the first one
    expect(h.input(udpFrame(1, 5000, bytes(3)))).toBe(DropReason.NO_SOCKET);
    expect(() => s.send('x', 9, '192.168.69.1')).toThrow(expect.objectContaining({ code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' }));
  });

  it('rejects a bad port synchronously, like Node', () => {
    const h = harness();
    const s = h.stack.udp.createSocket('udp4');
    expect(() => s.bind(70000)).toThrow(expect.objectContaining({ code: 'ERR_SOCKET_BAD_PORT' }));
    expect(() => s.send('x', 0, '192.168.69.1')).toThrow(expect.objectContaining({ code: 'ERR_SOCKET_BAD_PORT' }));
  });

  it('reports an unparsable address as ENOTFOUND', async () => {
    const h = harness();
    const s = h.stack.udp.createSocket('udp4');
    const e = await new Promise<any>((resolve) => s.send('x', 9, 'no.such.host', resolve));
    expect(e.code).toBe('ENOTFOUND');
  });
});
