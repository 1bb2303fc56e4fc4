/**
 * The Echo Protocol over UDP (RFC 862): every datagram goes back to where it came from.
 */
import type { Stack } from '../stack.js';
import type { UdpSocket } from '../user/dgram.js';

export function udpEcho(stack: Stack, port = 7): UdpSocket {
  const sock = stack.udp.createSocket('udp6'); // bound to ::, it answers over IPv4 and IPv6
  sock.on('message', (msg, rinfo) => {
    // Source port 0 means "no reply expected" (RFC 768); sending to it would throw ERR_SOCKET_BAD_PORT.
    if (rinfo.port !== 0) sock.send(msg, rinfo.port, rinfo.address);
  });
  sock.bind(port);
  return sock;
}
