/**
 * The credential store (src/node/credentials.ts) and `mpc-node credential add|list|revoke`
 * (src/cli/credential.ts) on a real temp data directory: tokens stored only as hashes, exact
 * comparison, roles, changes picked up by a running store without a restart, a broken file
 * failing closed, and the pseudonymous trainer ids.
 */
import { createHash } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveNodePaths } from '../src/config/node-files.js';
import { addCredential, CredentialStore, listCredentials, mayDo, revokeCredential, SHARED_CREDENTIAL, trainerPseudonym } from '../src/node/credentials.js';
import { TRAINER_ID_RE } from '../src/core/ids.js';
import { runCli } from './support/cli.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mpc-cred-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const KEY = 'ab'.repeat(32);
const SHARED = 'cd'.repeat(32);
const store = (log?: (e: Record<string, unknown>) => void) => new CredentialStore({ path: resolveNodePaths(dir).credentials, sharedToken: SHARED, trainerIdKey: KEY, ...(log ? { log } : {}) });

describe('credential store', () => {
  it('keeps only the SHA-256 of a token, in a 0600 file, and gives the token once', async () => {
    const { token, credential } = await addCredential(dir, 'trainer-7', 'trainer');
    expect(token).toMatch(/^mpc_[0-9a-f]{16}_[0-9a-f]{64}$/);
    const path = resolveNodePaths(dir).credentials;
    const text = await readFile(path, 'utf8');
    expect(text).not.toContain(token.slice(-64));
    expect(credential.hash).toBe(createHash('sha256').update(token).digest('hex'));
    expect(text).toContain(credential.hash);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await listCredentials(dir)).map((c) => [c.name, c.role])).toEqual([['trainer-7', 'trainer']]);
  });

  it('accepts exactly the token: a changed character, another id, a prefix or the hash itself are refused', async () => {
    const { token } = await addCredential(dir, 'alice', 'trainer');
    const { token: other } = await addCredential(dir, 'bob', 'auditor');
    const s = store();
    expect(s.authenticate(token)).toEqual({ name: 'alice', role: 'trainer' });
    expect(s.authenticate(other)).toEqual({ name: 'bob', role: 'auditor' });
    const flipped = token.slice(0, -1) + (token.endsWith('0') ? '1' : '0');
    expect(s.authenticate(flipped)).toBeUndefined();
    expect(s.authenticate(`${other.slice(0, 21)}${token.slice(21)}`)).toBeUndefined(); // bob's id, alice's secret
    expect(s.authenticate(token.slice(0, -2))).toBeUndefined();
    expect(s.authenticate((await listCredentials(dir))[0]!.hash)).toBeUndefined();
    expect(s.authenticate(undefined)).toBeUndefined();
  });

  it("takes the node's api-token as the operator credential named api-token", () => {
    const s = store();
    expect(s.authenticate(SHARED)).toEqual({ name: SHARED_CREDENTIAL, role: 'operator' });
    expect(s.authenticate(SHARED.slice(1))).toBeUndefined();
    expect(new CredentialStore({ path: resolveNodePaths(dir).credentials, trainerIdKey: KEY }).authenticate(SHARED)).toBeUndefined();
  });

  it('sees additions and revocations on the next call, without a new store', async () => {
    const s = store();
    expect(s.authenticate('mpc_0000000000000000_' + '0'.repeat(64))).toBeUndefined(); // no file yet
    const { token } = await addCredential(dir, 'late', 'operator');
    expect(s.authenticate(token)).toEqual({ name: 'late', role: 'operator' });
    expect(await revokeCredential(dir, 'late')).toBe(true);
    expect(s.authenticate(token)).toBeUndefined();
    expect(await revokeCredential(dir, 'late')).toBe(false);
    const { token: again } = await addCredential(dir, 'late', 'trainer'); // the name is free again, with a new token
    expect(s.authenticate(again)).toEqual({ name: 'late', role: 'trainer' });
    expect(s.authenticate(token)).toBeUndefined();
  });

  it('fails closed on a malformed or world-readable file (the api-token still works), and recovers when it is fixed', async () => {
    const { token } = await addCredential(dir, 'carol', 'trainer');
    const path = resolveNodePaths(dir).credentials;
    const events: Record<string, unknown>[] = [];
    const s = store((e) => events.push(e));
    expect(s.authenticate(token)).toBeDefined();
    const good = await readFile(path, 'utf8');
    await writeFile(path, '{"version":1,"credentials":[{"name":"x"}', { mode: 0o600 });
    expect(s.authenticate(token)).toBeUndefined();
    expect(s.authenticate(SHARED)).toBeDefined();
    expect(events.at(-1)).toMatchObject({ event: 'credentials-invalid' });
    await writeFile(path, good);
    await chmod(path, 0o644);
    expect(s.authenticate(token)).toBeUndefined();
    expect(String(events.at(-1)!.reason)).toMatch(/permissions 644/);
    await chmod(path, 0o600);
    expect(s.authenticate(token)).toEqual({ name: 'carol', role: 'trainer' });
    for (const e of events) expect(JSON.stringify(e)).not.toContain(token.slice(-64));
  });

  it('refuses bad names, the reserved name, unknown roles and a name taken', async () => {
    await expect(addCredential(dir, 'Bad Name', 'trainer')).rejects.toThrow(/credential name is 1-64/);
    await expect(addCredential(dir, SHARED_CREDENTIAL, 'trainer')).rejects.toThrow(/api-token file/);
    await expect(addCredential(dir, 'dave', 'admin')).rejects.toThrow(/not one of trainer, operator, auditor/);
    await addCredential(dir, 'dave', 'trainer');
    await expect(addCredential(dir, 'dave', 'auditor')).rejects.toThrow(/exists; revoke it first/);
  });

  it('gives each role its rights: trainer aggregates, auditor reads, operator both', () => {
    expect([mayDo('trainer', 'aggregate'), mayDo('trainer', 'read')]).toEqual([true, false]);
    expect([mayDo('auditor', 'aggregate'), mayDo('auditor', 'read')]).toEqual([false, true]);
    expect([mayDo('operator', 'aggregate'), mayDo('operator', 'read')]).toEqual([true, true]);
  });

  it('names trainers by a keyed pseudonym: stable per key, different under another key, never the name', () => {
    const a = trainerPseudonym(KEY, 'alice');
    expect(a).toMatch(TRAINER_ID_RE);
    expect(trainerPseudonym(KEY, 'alice')).toBe(a);
    expect(store().pseudonym('alice')).toBe(a);
    expect(trainerPseudonym(KEY, 'bob')).not.toBe(a);
    expect(trainerPseudonym('ef'.repeat(32), 'alice')).not.toBe(a);
    expect(a).not.toBe(createHash('sha256').update('alice').digest('hex').slice(0, 32)); // not an unkeyed hash
  });
});

describe('mpc-node credential', () => {
  it('add prints the token once on stdout; list shows names and roles, never a token or hash; revoke removes it', async () => {
    const add = await runCli(['credential', 'add', '--name', 'eve', '--role', 'auditor', '--data-dir', dir]);
    expect(add.code).toBe(0);
    const token = add.stdout.trim();
    expect(token).toMatch(/^mpc_[0-9a-f]{16}_[0-9a-f]{64}$/);
    expect(add.stderr).toMatch(/added the auditor credential 'eve'/);
    expect(add.stderr).not.toContain(token);
    const list = await runCli(['credential', 'list', '--data-dir', dir, '--json']);
    const shown = JSON.parse(list.stdout) as { name: string; role: string; created: string }[];
    expect(shown.map((c) => [c.name, c.role])).toEqual([['eve', 'auditor']]);
    expect(list.stdout).not.toContain(token.slice(-64));
    expect(list.stdout).not.toContain((await listCredentials(dir))[0]!.hash);
    expect((await runCli(['credential', 'list', '--data-dir', dir])).stdout).toMatch(/^eve\tauditor\t\d{4}-/);
    expect((await runCli(['credential', 'revoke', '--name', 'eve', '--data-dir', dir])).code).toBe(0);
    expect(await listCredentials(dir)).toEqual([]);
    const missing = await runCli(['credential', 'revoke', '--name', 'eve', '--data-dir', dir]);
    expect([missing.code, missing.stderr]).toEqual([1, expect.stringMatching(/no credential named 'eve'/)]);
  });

  it('needs --data-dir or --region, a name and a valid role', async () => {
    expect((await runCli(['credential', 'list'])).code).toBe(2);
    expect((await runCli(['credential', 'add', '--role', 'trainer', '--data-dir', dir])).code).toBe(2);
    const bad = await runCli(['credential', 'add', '--name', 'x', '--role', 'root', '--data-dir', dir]);
    expect([bad.code, bad.stderr]).toEqual([1, expect.stringMatching(/role "root" is not one of/)]);
  });
});
