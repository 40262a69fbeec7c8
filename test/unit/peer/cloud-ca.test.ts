/**
 * The cloud CA an agent trusts is saved in its data directory at register and sign-in, so the
 * agent trusts that cloud (and only it) wherever it runs; a wrong one is named clearly. Real
 * parts: a one-server TLS cloud in this process, agents' data directories on disk.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caFingerprintOf } from '../../../src/client/cloud-trust.js';
import { createClusterCa } from '../../../src/identity/certificates.js';
import { PeerAgent } from '../../../src/peer/agent.js';
import { DataDir } from '../../../src/peer/data-dir.js';
import { registerUser } from '../../../src/peer/registration.js';
import { createLogger } from '../../../src/util/log.js';
import { startOneServerCloud, type OneServerCloud } from './helpers/agent-parts.js';

let dir: string;
let cloud: OneServerCloud;
let caPem: string;
let otherCaPem: string;
const savedEnv = process.env.CLOUDP2P_CLOUD_CA;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'peer-cloud-ca-'));
  cloud = await startOneServerCloud(dir);
  caPem = readFileSync(join(dir, 'keys', 'ca.crt'), 'utf8');
  otherCaPem = (await createClusterCa({ clusterId: 1 })).certPem;
}, 120_000);

afterAll(async () => {
  await cloud?.stop();
  if (savedEnv === undefined) delete process.env.CLOUDP2P_CLOUD_CA;
  else process.env.CLOUDP2P_CLOUD_CA = savedEnv;
  rmSync(dir, { recursive: true, force: true });
});

const config = (dataDir: DataDir): Record<string, unknown> =>
  JSON.parse(readFileSync(dataDir.configPath, 'utf8')) as Record<string, unknown>;

async function signInAndOut(dataDir: DataDir): Promise<void> {
  const agent = PeerAgent.open({
    dataDir,
    mode: 'running',
    heartbeat_ms: 60_000,
    logger: createLogger('test', { level: 'error' }),
  });
  await agent.start();
  await agent.stop();
}

describe('the cloud CA an agent trusts', () => {
  it('is saved at registration and used later whatever the environment says', async () => {
    process.env.CLOUDP2P_CLOUD_CA = join(dir, 'keys', 'ca.crt');
    const dataDir = new DataDir(join(dir, 'alice'));
    await registerUser({ dataDir, username: 'alice', servers: cloud.servers });
    expect(config(dataDir).cloud_ca).toEqual({ ca_pem: caPem });
    // Another machine, another environment: the saved CA is the one that counts.
    process.env.CLOUDP2P_CLOUD_CA = join(dir, 'nowhere.crt');
    await signInAndOut(dataDir);
    expect(dataDir.readSettings()?.cloud_ca).toEqual({ ca_pem: caPem });
  }, 60_000);

  it('can be a fingerprint; a CA named at sign-in replaces the saved one', async () => {
    const dataDir = new DataDir(join(dir, 'bob'));
    const fingerprint = caFingerprintOf(caPem);
    await registerUser({
      dataDir,
      username: 'bob',
      servers: cloud.servers,
      cloudTrust: { kind: 'fingerprint', caFingerprint: fingerprint },
    });
    expect(config(dataDir).cloud_ca).toEqual({ ca_fingerprint: fingerprint });
    const agent = PeerAgent.open({
      dataDir,
      mode: 'running',
      heartbeat_ms: 60_000,
      cloudTrust: { kind: 'ca', caPem },
      logger: createLogger('test', { level: 'error' }),
    });
    await agent.start();
    await agent.stop();
    expect(config(dataDir).cloud_ca).toEqual({ ca_pem: caPem });
  }, 60_000);

  it('refuses a cloud whose certificates are not from the trusted CA, saying what to do', async () => {
    const dataDir = new DataDir(join(dir, 'carol'));
    const wrong = registerUser({
      dataDir,
      username: 'carol',
      servers: cloud.servers,
      cloudTrust: { kind: 'ca', caPem: otherCaPem },
      directoryTimeout_ms: 5000,
    });
    await expect(wrong).rejects.toMatchObject({ code: 'bad_certificate' });
    await expect(wrong).rejects.toThrow(/not from the cloud CA this agent trusts.*--cloud-ca/);
    expect(dataDir.hasIdentity()).toBe(false);

    // A registered agent whose saved CA is (now) wrong: sign-in fails the same way.
    const alice = new DataDir(join(dir, 'alice'));
    const settings = alice.readSettings();
    if (!settings) throw new Error('alice has no settings');
    alice.writeSettings({ ...settings, cloud_ca: { ca_pem: otherCaPem } });
    await expect(signInAndOut(alice)).rejects.toMatchObject({ code: 'bad_certificate' });
    alice.writeSettings(settings);
  }, 60_000);

  it('a damaged saved CA is named as such', () => {
    const dataDir = new DataDir(join(dir, 'alice'));
    const good = readFileSync(dataDir.configPath, 'utf8');
    for (const bad of [{ ca_pem: 'hello' }, { ca_fingerprint: 'AB' }, { both: 1 }, 'x']) {
      writeFileSync(dataDir.configPath, JSON.stringify({ ...config(dataDir), cloud_ca: bad }));
      expect(() => dataDir.readSettings()).toThrow(/cloud_ca must be/);
    }
    writeFileSync(
      dataDir.configPath,
      JSON.stringify({
        ...JSON.parse(good),
        cloud_ca: { ca_pem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' },
      }),
    );
    expect(() =>
      PeerAgent.open({ dataDir, mode: 'one-shot', logger: createLogger('t', { level: 'error' }) }),
    ).toThrow(/cloud_ca.ca_pem is not a usable certificate/);
    writeFileSync(dataDir.configPath, good);
  });
});
