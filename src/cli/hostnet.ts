/**
 * The kernel's side of the tap: namespaces, addresses and link state, set with `ip`
 * from iproute2 (shelling out keeps us free of netlink code that is not the stack).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export class CliError extends Error {}

function ip(args: string[]): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') throw new CliError('the `ip` command is missing: install iproute2 (apt-get install iproute2)');
    const detail = String(err.stderr ?? err.message).trim().split('\n')[0];
    throw new CliError(`ip ${args.join(' ')}: ${detail}`);
  }
}

export function netnsExists(name: string): boolean {
  return existsSync(`/var/run/netns/${name}`);
}

export function createNetns(name: string): void {
  ip(['netns', 'add', name]);
  ip(['-n', name, 'link', 'set', 'lo', 'up']);
}

export function deleteNetns(name: string): void {
  try {
    ip(['netns', 'delete', name]);
  } catch {
    // already gone
  }
}

/**
 * Brings the kernel's end of the tap up with `hostCidr` (and `hostCidr6`, if given) and the
 * MTU, inside `netns` if given. The IPv6 address skips duplicate address detection
 * (`nodad`): the link is ours alone, and the address is usable at once.
 */
export function configureHostSide(tap: string, hostCidr: string, hostCidr6: string | undefined, mtu: number, netns?: string): void {
  const ns = netns === undefined ? [] : ['-n', netns];
  ip([...ns, 'link', 'set', 'dev', tap, 'mtu', String(mtu)]);
  const current = ip([...ns, '-o', 'addr', 'show', 'dev', tap]);
  if (!current.includes(` ${hostCidr} `)) ip([...ns, 'addr', 'add', hostCidr, 'dev', tap]);
  if (hostCidr6 !== undefined && !current.includes(` ${hostCidr6} `)) ip([...ns, '-6', 'addr', 'add', hostCidr6, 'dev', tap, 'nodad']);
  ip([...ns, 'link', 'set', 'dev', tap, 'up']);
}
