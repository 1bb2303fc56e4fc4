/**
 * Errors shaped like Node's own (`ExceptionWithHostPort` in lib/internal/errors.js),
 * so code written for `node:net` and `node:dgram` handles ours the same way:
 * `err.code === 'EADDRINUSE'`, `err.syscall === 'bind'`, `err.errno` negative.
 */
import { constants } from 'node:os';

export interface SystemError extends Error {
  code: string;
  errno: number;
  syscall: string;
  address?: string;
  port?: number;
}

export function systemError(code: string, syscall: string, address?: string, port?: number): SystemError {
  const where = address === undefined ? '' : port === undefined || port === 0 ? ` ${address}` : ` ${address}:${port}`;
  const err = new Error(`${syscall} ${code}${where}`) as SystemError;
  err.code = code;
  err.errno = -((constants.errno as Record<string, number>)[code] ?? 0);
  err.syscall = syscall;
  if (address !== undefined) err.address = address;
  if (port !== undefined) err.port = port;
  return err;
}

/** A programmer error with a Node-style `ERR_*` code (thrown synchronously, as Node does). */
export function codeError(code: string, message: string): Error & { code: string } {
  const err = new Error(message) as Error & { code: string };
  err.code = code;
  return err;
}
