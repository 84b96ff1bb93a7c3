// Identity key files (src/transport/identity.ts).
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/errors.js';
import { generateIdentity, loadIdentity, publicKeyHex, saveIdentity } from '../src/transport/identity.js';
import { nativeSigner, nativeVerifier } from '../src/node/ed25519-native.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mpc-identity-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function expectConfigError(p: Promise<unknown>, msg: RegExp): Promise<void> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ConfigError);
  expect((e as ConfigError).code).toBe('CONFIG_INVALID');
  expect((e as Error).message).toMatch(msg);
}

describe('identity', () => {
  it('generates a valid Ed25519 key pair', () => {
    const id = generateIdentity('eu-west');
    expect(id.region).toBe('eu-west');
    expect(ed25519.getPublicKey(id.secretKey)).toEqual(id.publicKey);
    expect(publicKeyHex(id)).toBe(bytesToHex(id.publicKey));
    expect(() => generateIdentity('has space')).toThrow(RangeError);
  });

  it('never prints the secret key via JSON or inspect', () => {
    const id = generateIdentity('eu');
    const sk = bytesToHex(id.secretKey);
    expect(JSON.stringify(id)).not.toContain(sk);
    expect(JSON.stringify(id)).toContain('<redacted>');
    expect(inspect(id)).not.toContain(sk);
    expect({ ...id }.secretKey).toBe(id.secretKey); // spreading still works
  });

  it('saves with mode 0600 and loads back the same identity', async () => {
    const id = generateIdentity('us-east');
    const p = join(dir, 'a.json');
    await saveIdentity(p, id);
    expect((await stat(p)).mode & 0o777).toBe(0o600);
    const back = await loadIdentity(p);
    expect(back.region).toBe('us-east');
    expect(back.secretKey).toEqual(id.secretKey);
    expect(back.publicKey).toEqual(id.publicKey);
    const json = JSON.parse(await readFile(p, 'utf8')) as Record<string, string>;
    expect(Object.keys(json).sort()).toEqual(['publicKey', 'region', 'secretKey']);
    expect(json['publicKey']).toBe(publicKeyHex(id));
  });

  it('refuses to overwrite an existing key file unless forced', async () => {
    const p = join(dir, 'b.json');
    const first = generateIdentity('r1');
    await saveIdentity(p, first);
    await expectConfigError(saveIdentity(p, generateIdentity('r1')), /already exists; refusing to overwrite/);
    expect((await loadIdentity(p)).publicKey).toEqual(first.publicKey);
    const second = generateIdentity('r1');
    await saveIdentity(p, second, { force: true });
    expect((await loadIdentity(p)).publicKey).toEqual(second.publicKey);
    expect((await stat(p)).mode & 0o777).toBe(0o600);
  });

  it('rejects a missing file, naming it', async () => {
    await expectConfigError(loadIdentity(join(dir, 'nope.json')), /nope\.json: cannot read \(ENOENT\)/);
  });

  it('rejects a key file readable by group/other', async () => {
    const p = join(dir, 'c.json');
    await saveIdentity(p, generateIdentity('r2'));
    await chmod(p, 0o644);
    await expectConfigError(loadIdentity(p), /permissions 644 .* chmod 600/);
  });

  const writeKey = async (name: string, text: string): Promise<string> => {
    const p = join(dir, name);
    await writeFile(p, text, { mode: 0o600 });
    return p;
  };

  it('rejects invalid JSON without quoting the contents', async () => {
    const secretish = 'ab'.repeat(32);
    const p = await writeKey('d.json', `{ "secretKey": "${secretish}", oops }`);
    const e = (await loadIdentity(p).then(() => new Error('loaded'), (err: unknown) => err)) as Error;
    expect(e.message).toMatch(/not valid JSON/);
    expect(e.message).not.toContain(secretish);
    expect(e.cause).toBeUndefined();
  });

  it('rejects wrong fields, bad hex and mismatched keys with a precise message', async () => {
    const id = generateIdentity('r3');
    const good = { region: 'r3', publicKey: publicKeyHex(id), secretKey: bytesToHex(id.secretKey) };
    await expectConfigError(loadIdentity(await writeKey('e1.json', JSON.stringify({ ...good, extra: 1 }))), /unexpected field\(s\) "extra"/);
    const { secretKey: _s, ...noSecret } = good;
    await expectConfigError(loadIdentity(await writeKey('e2.json', JSON.stringify(noSecret))), /missing field "secretKey"/);
    await expectConfigError(loadIdentity(await writeKey('e3.json', JSON.stringify({ ...good, secretKey: 'zz' }))), /"secretKey" must be 64 hex/);
    await expectConfigError(loadIdentity(await writeKey('e4.json', JSON.stringify({ ...good, region: '' }))), /"region"/);
    const other = generateIdentity('r3');
    const e = (await loadIdentity(await writeKey('e5.json', JSON.stringify({ ...good, publicKey: publicKeyHex(other) }))).then(() => new Error('loaded'), (err: unknown) => err)) as Error;
    expect(e.message).toMatch(/"publicKey" does not match the key derived from "secretKey"/);
    expect(e.message).not.toContain(good.secretKey);
    await expectConfigError(loadIdentity(await writeKey('e6.json', '[1,2]')), /expected a JSON object/);
  });
});

describe('native Ed25519 (node:crypto) for the node', () => {
  it('makes the same signatures as @noble/curves and verifies across both', () => {
    const id = generateIdentity('eu');
    const msg = new TextEncoder().encode('mpc-node/v1/receipt test message');
    const sig = nativeSigner(id.secretKey)(msg);
    expect(sig).toEqual(ed25519.sign(msg, id.secretKey)); // RFC 8032 signatures are deterministic
    const verify = nativeVerifier(new Map([['eu', id.publicKey]]));
    expect(verify('eu', msg, ed25519.sign(msg, id.secretKey))).toBe(true);
    const bad = sig.slice();
    bad[5]! ^= 1;
    expect(verify('eu', msg, bad)).toBe(false);
    expect(verify('us', msg, sig)).toBe(false); // unknown region
    expect(verify('eu', msg, sig.subarray(0, 63))).toBe(false);
  });
});
