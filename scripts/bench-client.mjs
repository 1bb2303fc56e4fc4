#!/usr/bin/env node
// The Node client of `npm run bench`: one workload against one server, run by bench-tcp.mjs
// inside the client namespace (`ip netns exec`), on the kernel's TCP/UDP. The same client
// meets tapstack (over a TAP) and the kernel (over a veth), so the rows compare servers.
// (The HTTP rows use wrk and ab instead: bench-tcp.mjs runs them directly.)
//
//   node bench-client.mjs <host> download <MiB>                 chargen, port 19
//   node bench-client.mjs <host> upload <MiB>                   discard, port 9
//   node bench-client.mjs <host> echo <count>                   1-byte round trips, TCP port 7
//   node bench-client.mjs <host> udp <count>                    1-byte round trips, UDP port 7
//   node bench-client.mjs <host> connect <count>                connect + end, port 9
//   node bench-client.mjs <host> idle <count>                   hold connections to port 9
//
// Every workload is bounded in count and by BENCH_CLIENT_SECONDS (default 60) of wall
// time; the result is one JSON line on stdout (`capped: true` when time ran out first,
// `cpuS`: this process's CPU seconds).
// `idle` prints {"opened":n} once its connections are up, then holds them until a line
// arrives on stdin (or stdin closes), resets them all and prints {"closed":n}.
import dgram from 'node:dgram';
import net from 'node:net';
import { createInterface } from 'node:readline';

const [host, workload, arg1] = process.argv.slice(2);
const CAP_MS = Number(process.env.BENCH_CLIENT_SECONDS ?? 60) * 1000;
const CONCURRENCY = 8;
const t0 = performance.now();
const deadline = t0 + CAP_MS;
const timeLeft = () => deadline - performance.now();

/** Ends the process with one result line. A hard stop, so a stuck socket cannot keep us. */
function done(result) {
  const cpu = process.cpuUsage();
  process.stdout.write(`${JSON.stringify({ ...result, cpuS: (cpu.user + cpu.system) / 1e6 })}\n`, () => process.exit(0));
}
// Whatever happens, this process does not outlive its cap by much.
setTimeout(() => done({ error: 'hard time cap' }), CAP_MS + 5000).unref();

function connect(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port, noDelay: true });
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Reads `mib` MiB from chargen, then resets. */
async function download(mib) {
  const want = mib * 1024 * 1024;
  const s = await connect(19);
  const start = performance.now();
  let got = 0;
  await new Promise((resolve) => {
    const timer = setTimeout(resolve, timeLeft());
    s.on('data', (d) => {
      got += d.length;
      if (got >= want) {
        clearTimeout(timer);
        resolve();
      }
    });
    s.on('error', resolve);
    s.on('close', resolve);
  });
  const secs = (performance.now() - start) / 1000;
  s.resetAndDestroy();
  return { bytes: got, secs, capped: got < want };
}

/** Sends `mib` MiB to discard, and counts the time until the server's FIN: by then it has read it all. */
async function upload(mib) {
  const want = mib * 1024 * 1024;
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const s = await connect(9);
  const start = performance.now();
  let sent = 0;
  let capped = false;
  const finished = new Promise((resolve) => {
    s.on('end', resolve);
    s.on('close', resolve);
    s.on('error', resolve);
  });
  while (sent < want) {
    if (timeLeft() <= 0) {
      capped = true;
      break;
    }
    const n = Math.min(chunk.length, want - sent);
    sent += n;
    if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, timeLeft()));
        s.once('drain', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
  s.end();
  await Promise.race([finished, new Promise((r) => setTimeout(r, Math.max(0, timeLeft())))]);
  const secs = (performance.now() - start) / 1000;
  s.destroy();
  // Out of time, the server has not said it read everything: count what left Node's buffer.
  return { bytes: capped ? sent - s.writableLength : sent, secs, capped };
}

/** `count` round trips of one byte on one connection; latencies in µs. */
async function echo(count) {
  const s = await connect(7);
  const lat = [];
  const one = Buffer.from('x');
  const start = performance.now();
  await new Promise((resolve) => {
    let sentAt = 0;
    const next = () => {
      if (lat.length >= count || timeLeft() <= 0) return resolve();
      sentAt = performance.now();
      s.write(one);
    };
    s.on('data', (d) => {
      // One byte out, one byte back; a coalesced reply would answer several at once.
      for (let i = 0; i < d.length; i++) lat.push((performance.now() - sentAt) * 1000);
      next();
    });
    s.on('error', resolve);
    s.on('close', resolve);
    next();
  });
  const secs = (performance.now() - start) / 1000;
  s.destroy();
  lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN;
  return { transactions: lat.length, secs, p50: q(0.5), p99: q(0.99), capped: lat.length < count };
}

/**
 * `count` round trips of one UDP datagram of one byte; latencies in µs. The byte is the round
 * trip's number (mod 256), so a late answer to a datagram given up for lost (after 200 ms;
 * counted in `lost`, then the next one goes) is not taken for the answer to the next.
 */
async function udpEcho(count) {
  const s = dgram.createSocket('udp4');
  await new Promise((resolve, reject) => {
    s.once('error', reject);
    s.connect(7, host, () => {
      s.off('error', reject);
      resolve();
    });
  });
  const lat = [];
  let lost = 0;
  let n = 0;
  const one = Buffer.alloc(1);
  const start = performance.now();
  await new Promise((resolve) => {
    let sentAt = 0;
    let timer;
    const next = () => {
      clearTimeout(timer);
      if (lat.length >= count || timeLeft() <= 0 || lost > count / 10) return resolve();
      one[0] = ++n & 0xff;
      sentAt = performance.now();
      s.send(one);
      timer = setTimeout(() => {
        lost++;
        next();
      }, 200);
    };
    s.on('message', (d) => {
      if (d.length !== 1 || d[0] !== (n & 0xff)) return;
      lat.push((performance.now() - sentAt) * 1000);
      next();
    });
    s.on('error', resolve);
    next();
  });
  const secs = (performance.now() - start) / 1000;
  s.close();
  lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN;
  return { transactions: lat.length, lost, secs, p50: q(0.5), p99: q(0.99), capped: lat.length < count };
}

/** Runs `job` `count` times, CONCURRENCY at a time, until done or out of time. */
async function pool(count, job) {
  let started = 0;
  let ok = 0;
  let failed = 0;
  const start = performance.now();
  const worker = async () => {
    while (started < count && timeLeft() > 0) {
      started++;
      try {
        await job();
        ok++;
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { ok, failed, secs: (performance.now() - start) / 1000, capped: ok + failed < count };
}

/** Opens a connection to discard, ends it, and waits for the server's FIN and the close. */
function connectOnce() {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port: 9 });
    const timer = setTimeout(() => s.destroy(new Error('timeout')), 5000);
    s.once('connect', () => s.end());
    s.resume();
    s.once('close', (hadError) => {
      clearTimeout(timer);
      if (hadError) reject(new Error('connection failed'));
      else resolve();
    });
    s.on('error', () => {});
  });
}

/** Opens `count` connections to discard (200 handshakes in flight at most) and holds them. */
async function idle(count) {
  const socks = [];
  let failed = 0;
  let next = 0;
  const opener = async () => {
    while (next < count && timeLeft() > 0) {
      next++;
      try {
        const s = await connect(9);
        s.on('error', () => {});
        socks.push(s);
      } catch {
        failed++;
      }
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: 200 }, opener));
  process.stdout.write(`${JSON.stringify({ opened: socks.length, failed, secs: (performance.now() - start) / 1000 })}\n`);
  await new Promise((resolve) => {
    const lines = createInterface({ input: process.stdin });
    lines.once('line', resolve);
    lines.once('close', resolve);
    setTimeout(resolve, Math.max(0, timeLeft())).unref();
  });
  // Resets, not FINs: ten thousand TIME-WAITs would only get in the next row's way. In
  // batches, because a burst of 10,000 RSTs overflows the TAP's queue (txqueuelen 1000) and
  // the lost ones would leave connections open on the server.
  for (let i = 0; i < socks.length; i += 100) {
    for (const s of socks.slice(i, i + 100)) s.resetAndDestroy();
    await new Promise((r) => setTimeout(r, 5));
  }
  return { closed: socks.length };
}

const n1 = Number(arg1);
switch (workload) {
  case 'download': done(await download(n1)); break;
  case 'upload': done(await upload(n1)); break;
  case 'echo': done(await echo(n1)); break;
  case 'udp': done(await udpEcho(n1)); break;
  case 'connect': done(await pool(n1, connectOnce)); break;
  case 'idle': done(await idle(n1)); break;
  default:
    process.stderr.write(`bench-client: unknown workload ${workload}\n`);
    process.exit(2);
}
