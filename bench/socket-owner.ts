/**
 * Which process holds a TCP socket on 127.0.0.1 (Linux /proc): the WAN benchmark's way of
 * naming the region that dialled a proxied connection, without reading anything the
 * connection carries. The socket's inode comes from /proc/net/tcp (matched on its local and
 * remote ports), its owner from the `socket:[inode]` links under /proc/<pid>/fd.
 * @module
 */
import { readFile, readdir, readlink } from 'node:fs/promises';

/** The inode of the IPv4 socket 127.0.0.1:localPort -> 127.0.0.1:remotePort, or undefined. */
async function socketInode(localPort: number, remotePort: number): Promise<string | undefined> {
  const table = await readFile('/proc/net/tcp', 'utf8');
  const want = (port: number): string => `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1] === want(localPort) && f[2] === want(remotePort)) return f[9];
  }
  return undefined;
}

/**
 * The pid among `pids` that holds the socket whose local port is `localPort` and whose peer is
 * 127.0.0.1:`remotePort`; undefined when the socket is gone or belongs to none of them.
 */
export async function socketOwner(localPort: number, remotePort: number, pids: number[]): Promise<number | undefined> {
  const inode = await socketInode(localPort, remotePort);
  if (inode === undefined || inode === '0') return undefined;
  const link = `socket:[${inode}]`;
  for (const pid of pids) {
    const dir = `/proc/${pid}/fd`;
    const fds = await readdir(dir).catch(() => [] as string[]);
    for (const fd of fds) {
      if ((await readlink(`${dir}/${fd}`).catch(() => '')) === link) return pid;
    }
  }
  return undefined;
}
