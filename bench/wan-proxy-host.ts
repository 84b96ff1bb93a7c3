/**
 * The WAN benchmark's proxies in a process of their own (bench/wan-proxy.ts does the shaping):
 * so that their timers never wait on the benchmark's trainers and result checks, and so that
 * their CPU time is theirs alone (`process.cpuUsage` of this process). The benchmark forks this
 * file with an IPC channel and drives it with `ProxyHost`: start a proxy, read every proxy's
 * per-connection counters with the host's CPU time, close.
 * @module
 */
import { fork, type ChildProcess } from 'node:child_process';
import { getPriority, setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import { WanProxy, type LinkShape, type ProxiedConnection } from './wan-proxy.js';

/** Nice value asked for the proxy process (needs CAP_SYS_NICE; refused quietly otherwise). */
const PROXY_PRIORITY = -10;

type Op = { op: 'start'; listenPort: number; targetPort: number; shape: LinkShape } | { op: 'stats' } | { op: 'close' };
type Request = Op & { id: number };

/** One proxy's counters. */
export interface ProxySnapshot {
  /** The port it listens on (the region's endpoint in the federation file). */
  port: number;
  targetPort: number;
  connections: ProxiedConnection[];
}

export interface HostSnapshot {
  proxies: ProxySnapshot[];
  /** The host process's CPU time so far, user + system, seconds. */
  cpuSeconds: number;
}

/** The parent's handle on the proxy process. */
export class ProxyHost {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #next = 0;

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.on('message', (m: { id: number; ok: boolean; value?: unknown; error?: string }) => {
      const p = this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(new Error(`proxy host: ${m.error}`));
    });
    child.once('exit', (code) => {
      for (const p of this.#pending.values()) p.reject(new Error(`proxy host exited with ${code}`));
      this.#pending.clear();
    });
  }

  /**
   * Forks the proxy process (this file, built, under dist/bench) and raises its scheduling
   * priority to PROXY_PRIORITY when allowed: the links it emulates do not share the nodes'
   * cores, so its timers should not wait behind them (its own CPU time is small and reported).
   */
  static async start(): Promise<ProxyHost> {
    const child = fork(fileURLToPath(import.meta.url), ['--wan-proxy-host'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    try {
      setPriority(child.pid!, PROXY_PRIORITY);
    } catch {
      /* not permitted: it runs at the default priority (`priority` says which) */
    }
    return new ProxyHost(child);
  }

  get pid(): number {
    return this.#child.pid!;
  }

  /** The proxy process's nice value (PROXY_PRIORITY, or 0 where raising it was refused). */
  get priority(): number {
    return getPriority(this.#child.pid!);
  }

  #call<T>(req: Op): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#child.send({ ...req, id });
    });
  }

  /** Starts a proxy 127.0.0.1:listenPort (0: any) -> 127.0.0.1:targetPort. @returns its port and its shape with the defaults filled in. */
  startProxy(listenPort: number, targetPort: number, shape: LinkShape): Promise<{ port: number; shape: Required<LinkShape> }> {
    return this.#call({ op: 'start', listenPort, targetPort, shape });
  }

  stats(): Promise<HostSnapshot> {
    return this.#call({ op: 'stats' });
  }

  /** Closes every proxy and ends the process. */
  async close(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.#child.once('exit', () => r()));
    await this.#call({ op: 'close' }).catch(() => {});
    await exited;
  }

  /** Kills the process at once (the benchmark is ending abnormally). */
  kill(): void {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGKILL');
  }
}

/** The child's side: serves requests until `close` or the parent goes away. */
function serve(): void {
  const proxies: WanProxy[] = [];
  const reply = (id: number, r: { ok: true; value?: unknown } | { ok: false; error: string }): void => void process.send!({ id, ...r });
  process.on('disconnect', () => process.exit(0));
  process.on('message', (req: Request) => {
    void (async () => {
      try {
        if (req.op === 'start') {
          const p = await WanProxy.start({ listenPort: req.listenPort, targetPort: req.targetPort, shape: req.shape });
          proxies.push(p);
          reply(req.id, { ok: true, value: { port: p.port, shape: p.shape } });
        } else if (req.op === 'stats') {
          const cpu = process.cpuUsage();
          const value: HostSnapshot = { proxies: proxies.map((p) => ({ port: p.port, targetPort: p.targetPort, connections: p.connections })), cpuSeconds: (cpu.user + cpu.system) / 1e6 };
          reply(req.id, { ok: true, value });
        } else {
          await Promise.all(proxies.map((p) => p.close()));
          reply(req.id, { ok: true });
          process.disconnect();
        }
      } catch (e) {
        reply(req.id, { ok: false, error: (e as Error).message });
      }
    })();
  });
}

if (process.argv.includes('--wan-proxy-host') && process.send) serve();
