/**
 * The command table of `mpc-node`: every command's name, one-line summary, usage line, options
 * (kind, short alias, default, description, required, repeatable) and positional arguments.
 * It is the single source of the command line: `parseCommand` (./args.ts) builds the
 * `node:util` parseArgs configuration from it and types each command's options from it, and
 * ./help.ts renders `mpc-node --help`, `mpc-node help CMD` and `mpc-node CMD --help` from it.
 * Nothing here runs a command; ./main.ts maps each name to its handler.
 *
 * Defaults: `default` is a literal value applied by the parser (so a handler sees it);
 * `defaultNote` is a default the handler works out at run time (e.g. `./mpc-data/ID`), shown
 * in help only.
 * @module
 */

/** One option of a command. `-h, --help` is implicit in every command. */
export interface FlagSpec {
  /** Long name without dashes, e.g. `out`. */
  readonly name: string;
  /** The parseArgs type: a `string` takes a value, a `boolean` is a switch. */
  readonly kind: 'string' | 'boolean';
  /** One-letter alias, e.g. `o` for `-o`. */
  readonly short?: string;
  /** The value's placeholder in usage and help, e.g. `PATH`. */
  readonly value?: string;
  /** Description for help. */
  readonly help: string;
  /** A literal default, applied by the parser. */
  readonly default?: string;
  /** A default worked out at run time, for help only. */
  readonly defaultNote?: string;
  /** The command refuses to run without it. */
  readonly required?: boolean;
  /** May be given more than once (values are collected in order); otherwise a repeat is an error. */
  readonly repeatable?: boolean;
}

/** A positional argument, for help. */
export interface OperandSpec {
  readonly name: string;
  readonly help: string;
}

export interface CommandSpec {
  /** As typed, e.g. `keygen` or `config check`. */
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** Usage line without the program name, e.g. `keygen --region ID [--out PATH] [--force]`. */
  readonly usage: string;
  readonly flags: readonly FlagSpec[];
  /** Whether positional arguments are accepted (default: no; yes when `operands` are listed). */
  readonly positionals?: boolean;
  /** The positional arguments, for help. */
  readonly operands?: readonly OperandSpec[];
  /** Extra help paragraphs. */
  readonly details?: string;
  /** Options are not parsed but handed on as positionals (only `-h`/`--help` first is help). */
  readonly passThrough?: boolean;
}

/** A command group (`config ...`, `policy ...`): its subcommands are the table's `GROUP SUB` entries. */
export interface GroupSpec {
  readonly name: string;
  /** Where the group's subject is documented. */
  readonly see: string;
}

/** The append-only record of deletions `prune` keeps, inside the transcripts directory. */
export const PRUNE_LOG = 'prune-log.jsonl';

/** `--config PATH`, the federation file, as most commands take it. */
const CONFIG_FLAG = { name: 'config', kind: 'string', value: 'PATH', default: 'federation.json', help: 'federation file' } as const satisfies FlagSpec;

/** Every command, in the order of the top-level help. */
export const COMMANDS = [
  {
    name: 'start',
    summary: "Run this region's node until stopped: peer listener, trainer API (loopback, or HTTPS beyond it), rounds (also 'mpc-node --region ID ...').",
    usage: '[start] --region ID [--config PATH] [--data-dir DIR] [--key PATH] [--peer-listen HOST:PORT] [--body-timeout-ms MS] [--tls-cert PATH --tls-key PATH [--tls-client-ca PATH]] [--memory-budget SIZE]',
    flags: [
      { name: 'region', kind: 'string', value: 'ID', required: true, help: 'this node’s region id, as in the federation file' },
      CONFIG_FLAG,
      { name: 'data-dir', kind: 'string', value: 'DIR', defaultNote: './mpc-data/ID', help: 'data directory: identity.json, api-token, transcripts/' },
      { name: 'key', kind: 'string', value: 'PATH', defaultNote: 'DIR/identity.json', help: 'identity key file' },
      {
        name: 'peer-listen',
        kind: 'string',
        value: 'HOST:PORT',
        defaultNote: "host and port of this region's endpoint",
        help: 'where the peer listener binds; for a proxy, NAT or port forward in front of the node',
      },
      { name: 'body-timeout-ms', kind: 'string', value: 'MS', defaultNote: '30000', help: 'idle time allowed within a trainer’s upload before it is refused (408)' },
      { name: 'tls-cert', kind: 'string', value: 'PATH', help: 'PEM certificate (chain) of the trainer API: serve HTTPS; required when api.host is beyond loopback' },
      { name: 'tls-key', kind: 'string', value: 'PATH', help: 'PEM private key of --tls-cert' },
      { name: 'tls-client-ca', kind: 'string', value: 'PATH', help: 'PEM CA of trainer client certificates (mTLS): a certificate it issued is a trainer credential' },
      {
        name: 'memory-budget',
        kind: 'string',
        value: 'SIZE',
        defaultNote: 'min(3.5GiB, half the machine’s memory)',
        help: 'WASM memory this node’s rounds may reserve at once, e.g. 2GiB or 512MiB; a round beyond it is refused (503 RESOURCE_MEMORY_BUDGET)',
      },
    ],
    details:
      'Stops cleanly on SIGINT or SIGTERM: waiting trainers get an error, share material is wiped.\n' +
      "Peers always dial the region's endpoint from the federation file; --peer-listen only changes the local bind address (IPv6 as [::1]:7101).\n" +
      'The TLS files are watched: new certificate and key files are served from the next handshake on, without a restart.',
  },
  {
    name: 'keygen',
    summary: "Create this region node's identity key (Ed25519) and print its public key.",
    usage: 'keygen --region ID [--data-dir DIR | --out PATH] [--force] [--endpoint URL] [--jurisdiction LABEL]',
    flags: [
      { name: 'region', kind: 'string', value: 'ID', required: true, help: 'region id, as in the federation file (e.g. eu)' },
      { name: 'data-dir', kind: 'string', value: 'DIR', defaultNote: './mpc-data/ID', help: 'node data directory; the key goes to DIR/identity.json' },
      { name: 'out', kind: 'string', value: 'PATH', help: 'write the key file to PATH instead' },
      { name: 'force', kind: 'boolean', help: 'replace an existing key file (the old key is lost)' },
      { name: 'endpoint', kind: 'string', value: 'URL', help: "this node's peer address for the printed snippet (wss://host:port)" },
      { name: 'jurisdiction', kind: 'string', value: 'LABEL', defaultNote: 'ID in upper case', help: 'jurisdiction for the printed snippet' },
    ],
    details:
      'The key file holds the secret key: it is created with mode 0600 and never printed. Keep it on\n' +
      'this node and back it up; other nodes only need the public key, via the federation file.',
  },
  {
    name: 'init',
    summary: 'Write a federation file template to fill in.',
    usage: 'init [--out PATH] [--regions ID,ID,...] [--name NAME] [--force]',
    flags: [
      { name: 'out', kind: 'string', value: 'PATH', default: 'federation.json', help: 'where to write it' },
      { name: 'regions', kind: 'string', value: 'IDS', default: 'eu,us,apac', help: 'comma-separated region ids' },
      { name: 'name', kind: 'string', value: 'NAME', default: 'my-federation', help: 'federation name' },
      { name: 'force', kind: 'boolean', help: 'overwrite an existing file' },
    ],
    details:
      'The template lists every region on 127.0.0.1 (peer ports 7101.., API ports 7201..) so a local\n' +
      'demo works after keygen; change the endpoints to wss://host:port for a real deployment.\n' +
      'Keys starting with "//" are comments. The file fails validation until each region runs\n' +
      "'mpc-node keygen --region ID' and its public key replaces the REPLACE-ME placeholder.",
  },
  {
    name: 'config check',
    summary: 'Validate a federation file and print a summary with its digest.',
    usage: 'config check [--config PATH] [--region ID [--data-dir DIR | --identity PATH]]',
    flags: [
      CONFIG_FLAG,
      { name: 'region', kind: 'string', value: 'ID', help: "also check this node's identity file against the region's publicKey" },
      { name: 'data-dir', kind: 'string', value: 'DIR', defaultNote: './mpc-data/ID', help: 'node data directory holding identity.json' },
      { name: 'identity', kind: 'string', value: 'PATH', help: 'identity file to check instead' },
    ],
    details: 'Every node must print the same digest; compare it across regions before the first round.',
  },
  {
    name: 'status',
    summary: "Show a running node's peers, rounds in flight and counters.",
    usage: 'status (--region ID [--config PATH] | --node URL) [--token TOKEN | --data-dir DIR] [--json]',
    flags: [
      { name: 'region', kind: 'string', value: 'ID', help: "the node's region: its API address comes from the federation file" },
      CONFIG_FLAG,
      { name: 'node', kind: 'string', value: 'URL', help: 'the node API base URL instead, e.g. http://127.0.0.1:7201' },
      { name: 'token', kind: 'string', value: 'TOKEN', defaultNote: 'MPC_API_TOKEN', help: 'API bearer token (visible in ps; prefer MPC_API_TOKEN or --data-dir)' },
      { name: 'data-dir', kind: 'string', value: 'DIR', defaultNote: './mpc-data/ID with --region', help: 'read the token from DIR/api-token' },
      { name: 'json', kind: 'boolean', help: "print the node's status JSON unchanged" },
    ],
  },
  {
    name: 'prune',
    summary: 'Delete round transcripts older than policy.retention.transcriptDays and log each deletion.',
    usage: 'prune (--data-dir DIR | --region ID) [--config PATH] [--dry-run] [--json]',
    flags: [
      { name: 'data-dir', kind: 'string', value: 'DIR', defaultNote: './mpc-data/ID', help: 'node data directory; transcripts are in DIR/transcripts' },
      { name: 'region', kind: 'string', value: 'ID', help: 'region id, for the default data directory' },
      { name: 'config', kind: 'string', value: 'PATH', default: 'federation.json', help: 'federation file holding the retention' },
      { name: 'dry-run', kind: 'boolean', help: 'print what would be deleted; delete and record nothing' },
      { name: 'json', kind: 'boolean', help: 'print the result as JSON' },
    ],
    details: `Deletions are appended to DIR/transcripts/${PRUNE_LOG} (file, round end, age, when). Run it daily, e.g. from cron.`,
  },
  {
    name: 'policy authority-keygen',
    summary: 'Create the policy authority key (Ed25519) that signs grants; print its public key.',
    usage: 'policy authority-keygen --out PATH [--force]',
    flags: [
      { name: 'out', kind: 'string', value: 'PATH', required: true, help: 'where to write the key file (mode 0600)' },
      { name: 'force', kind: 'boolean', help: 'replace an existing key file (grants signed by the old key stop verifying)' },
    ],
    details: 'Put the printed public key into the federation file as "policy": { "authority": "<hex>" }.\nKeep the key file off the region nodes: whoever holds it can allow any flow.',
  },
  {
    name: 'policy grant',
    summary: 'Sign a time-limited exception allowing one region to deal shares to a jurisdiction or region.',
    usage: 'policy grant --authority-key PATH --from REGION (--to JURISDICTION | --to-region ID) --not-after DATE [--not-before DATE] [--id ID] [--config PATH | --federation NAME]',
    flags: [
      { name: 'authority-key', kind: 'string', value: 'PATH', required: true, help: "the key file from 'mpc-node policy authority-keygen'" },
      { name: 'from', kind: 'string', value: 'REGION', required: true, help: 'the dealing region, e.g. eu' },
      { name: 'to', kind: 'string', value: 'JURISDICTION', help: 'the jurisdiction whose regions may receive shares, e.g. US' },
      { name: 'to-region', kind: 'string', value: 'ID', help: 'or: the one region that may receive shares' },
      { name: 'not-after', kind: 'string', value: 'DATE', required: true, help: 'last day (YYYY-MM-DD, through 23:59:59 UTC) or time (YYYY-MM-DDTHH:MM:SSZ)' },
      { name: 'not-before', kind: 'string', value: 'DATE', defaultNote: 'now', help: 'first day (from 00:00:00 UTC) or time' },
      { name: 'id', kind: 'string', value: 'ID', defaultNote: 'FROM-to-TO-until-DATE', help: 'grant id' },
      { name: 'config', kind: 'string', value: 'PATH', defaultNote: 'federation.json, unless --federation', help: 'federation file: checks the flow and the authority key against it' },
      { name: 'federation', kind: 'string', value: 'NAME', help: 'federation name, to sign without the federation file at hand' },
    ],
    details: 'Prints the signed grant as JSON on stdout: add it to "policy": { "grants": [ ... ] } in the federation\nfile on every node. The grant is refused before DATE and after its last second.',
  },
  {
    name: 'credential add',
    summary: 'Create a named trainer API credential with a role and print its token (once).',
    usage: 'credential add --name NAME --role trainer|operator|auditor (--data-dir DIR | --region ID)',
    flags: [
      { name: 'name', kind: 'string', value: 'NAME', required: true, help: 'who holds it, e.g. trainer-7 (a-z 0-9 . _ -); logged with each request' },
      { name: 'role', kind: 'string', value: 'ROLE', required: true, help: 'trainer (POST /v1/aggregate), auditor (GET /v1/status, /metrics) or operator (both)' },
      { name: 'data-dir', kind: 'string', value: 'DIR', defaultNote: './mpc-data/ID with --region', help: 'node data directory holding credentials.json' },
      { name: 'region', kind: 'string', value: 'ID', help: 'region id, for the default data directory' },
    ],
    details: 'Only the token\'s SHA-256 is stored (credentials.json, mode 0600). A running node accepts it from its next request on.',
  },
  {
    name: 'credential list',
    summary: 'List the named credentials of a node: name, role, creation time.',
    usage: 'credential list (--data-dir DIR | --region ID) [--json]',
    flags: [
      { name: 'data-dir', kind: 'string', value: 'DIR', defaultNote: './mpc-data/ID with --region', help: 'node data directory holding credentials.json' },
      { name: 'region', kind: 'string', value: 'ID', help: 'region id, for the default data directory' },
      { name: 'json', kind: 'boolean', help: 'print a JSON array of {name, role, created}' },
    ],
  },
  {
    name: 'credential revoke',
    summary: 'Revoke a named credential: a running node refuses it from its next request on.',
    usage: 'credential revoke --name NAME (--data-dir DIR | --region ID)',
    flags: [
      { name: 'name', kind: 'string', value: 'NAME', required: true, help: 'the credential to revoke' },
      { name: 'data-dir', kind: 'string', value: 'DIR', defaultNote: './mpc-data/ID with --region', help: 'node data directory holding credentials.json' },
      { name: 'region', kind: 'string', value: 'ID', help: 'region id, for the default data directory' },
    ],
  },
  {
    name: 'demo',
    summary: 'Run three regions on this machine and aggregate synthetic updates privately.',
    usage: 'demo [--params N] [--json] [--keep]',
    flags: [
      { name: 'params', kind: 'string', value: 'N', default: '100000', help: 'model parameters per update' },
      { name: 'json', kind: 'boolean', help: 'print one JSON object instead of the summary' },
      { name: 'keep', kind: 'boolean', help: 'keep the temporary folder (keys, federation file, data dirs)' },
    ],
  },
  {
    name: 'bench',
    summary: 'Measure field, sharing and round throughput (the benchmarks under bench/).',
    usage: 'bench [field|round|verify] [--json] [options]',
    flags: [],
    passThrough: true,
    operands: [{ name: 'BENCHMARK', help: 'field (the default), round or verify' }],
    details:
      '  field    field kernels and sharing, WASM against the BigInt oracle (L = 1e6): npm run bench\n' +
      '  round    whole rounds between real node processes on 127.0.0.1: npm run bench:round\n' +
      '  verify   transcript verification in Node and Chromium: npm run bench:verify\n\n' +
      'Options are passed to the benchmark (e.g. --json, --quick, --reps N). Results: bench/RESULTS.md.',
  },
  {
    name: 'verify',
    summary: 'Check round transcripts against the federation file (and a result vector).',
    usage: 'verify <transcript.jsonl>... --federation PATH [--result PATH] [--json]',
    operands: [{ name: '<transcript.jsonl>...', help: "every region's transcript of the round" }],
    flags: [
      { name: 'federation', kind: 'string', value: 'PATH', required: true, help: 'the federation file every region runs with' },
      { name: 'result', kind: 'string', value: 'PATH', help: 'the aggregate as returned by POST /v1/aggregate (raw float32 LE, sum or mean)' },
      { name: 'json', kind: 'boolean', help: 'print {"ok","checks":[{"name","ok","detail"}],"errors"} instead of the checklist' },
    ],
    details:
      "Give every region's transcript of the round (<dataDir>/transcripts/<round>.jsonl, or GET /transcripts/<round> from each node) to cross-check them.\n" +
      'Exit codes: 0 every check passed, 1 a check failed, 2 usage error.',
  },
] as const satisfies readonly CommandSpec[];

/** The command groups: `mpc-node config check`, `mpc-node policy grant`, ... */
export const GROUPS = [
  { name: 'config', see: 'docs/configuration.md' },
  { name: 'policy', see: 'docs/policy.md' },
  { name: 'credential', see: 'docs/api.md' },
] as const satisfies readonly GroupSpec[];

export type CommandName = (typeof COMMANDS)[number]['name'];
/** The table entry of command `N`, with its literal option names and kinds. */
export type SpecOf<N extends CommandName> = Extract<(typeof COMMANDS)[number], { readonly name: N }>;

/** The table entry of a command. @example commandSpec('keygen').usage */
export function commandSpec<N extends CommandName>(name: N): SpecOf<N> {
  return COMMANDS.find((c) => c.name === name) as SpecOf<N>;
}

/** The table entry named `name` (as typed, e.g. `config check`), if any. */
export function findCommand(name: string): CommandSpec | undefined {
  return (COMMANDS as readonly CommandSpec[]).find((c) => c.name === name);
}

/** The subcommands of a group, e.g. `['check']` for `config`. */
export function subcommandsOf(group: string): string[] {
  return COMMANDS.filter((c) => c.name.startsWith(`${group} `)).map((c) => c.name.slice(group.length + 1));
}

/** Every first word a command line may start with (for did-you-mean), plus `help`. */
export function commandWords(): string[] {
  return [...new Set(COMMANDS.map((c) => c.name.split(' ')[0]!)), 'help'];
}
