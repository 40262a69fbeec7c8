/**
 * `cloudp2p encrypt <image> [--out file]`: one image through the cloud. Shows each step as it
 * happens (assignment, acceptance, failover), verifies the result by extracting it, writes the
 * stego PNG.
 */
import { randomBytes } from 'node:crypto';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { CloudClient, type TaskProgress } from '../../client/cloud-client.js';
import { loadClientConfig } from '../../client/config.js';
import { buildTaskPayload, verifyResult } from '../../client/payload.js';
import { checkHiddenImage } from '../../stego/index.js';
import type { AccessRights, ViewerGrant } from '../../stego/index.js';
import { UsageError } from '../../util/errors.js';
import { resolveCloudTrust } from '../../client/cloud-trust.js';
import { collectViewer, parsePositiveNumber, readInputFile } from '../options.js';
import { checkOutputFile, writeOutputFile } from '../output-file.js';
import { DEFAULT_SERVERS, resolveServers } from '../servers.js';

interface EncryptOptions {
  cloudCa?: string;
  cloudFingerprint?: string;
  out?: string;
  config?: string;
  servers?: string;
  owner?: string;
  viewer: ViewerGrant[];
  message?: string;
  deadline: number;
  json?: boolean;
}

function describe(event: TaskProgress): string | null {
  switch (event.type) {
    case 'assigned':
      return `assigned to server ${event.assignment.server_id}`;
    case 'reassigned':
      return `server ${event.from_server ?? '?'} stopped answering; following the task to server ${event.assignment.server_id}`;
    case 'accepted':
      return `server ${event.server_id} accepted it${event.queue_position > 0 ? ` (${event.queue_position} ahead in its queue)` : ''}`;
    case 'busy':
      return `every server is busy; retrying`;
    default:
      return null;
  }
}

async function runEncrypt(file: string, options: EncryptOptions): Promise<void> {
  if (options.viewer.length > 0 && options.owner === undefined)
    throw new UsageError('--viewer needs --owner');
  const out = options.out ?? `${basename(file).replace(/\.[^.]+$/, '')}.stego.png`;
  await checkOutputFile(out, 'the stego PNG', 'photo.stego.png');
  const image = await readInputFile(file, 'image');
  await checkHiddenImage(image, {}, 'image'); // what `stego embed` accepts, before the cloud sees it
  const rights: AccessRights | undefined = options.owner
    ? {
        owner: options.owner,
        imageId: `img-${randomBytes(6).toString('hex')}`,
        viewers: options.viewer,
      }
    : undefined;
  const payload = buildTaskPayload(image, {
    ...(rights ? { rights } : {}),
    ...(options.message !== undefined ? { message: options.message } : {}),
  });
  const say = (line: string): void => {
    if (!options.json) process.stderr.write(`${line}\n`);
  };
  const { servers, clusterId } = resolveServers(options);
  say(
    `encrypting ${basename(file)} (${image.length} bytes) through the cloud at ${servers.map((s) => `${s.host}:${s.port}`).join(', ')}`,
  );
  const client = await CloudClient.connect({
    clientId: `cli-${randomBytes(6).toString('hex')}`,
    servers,
    clusterId,
    taskDeadline_ms: options.deadline * 1000,
    trust: resolveCloudTrust(
      options.config && !options.cloudCa && !options.cloudFingerprint
        ? loadClientConfig(options.config).tls
        : { caPath: options.cloudCa, caFingerprint: options.cloudFingerprint },
    ),
  });
  try {
    const result = await client.encrypt('t1', payload, (event) => {
      const line = describe(event);
      if (line) say(`  ${line}`);
    });
    await verifyResult(result.png, image);
    await writeOutputFile(out, result.png, 'the stego PNG');
    const summary = {
      out,
      bytes: result.png.length,
      server: result.serverId,
      latency_ms: Math.round(result.latency_ms),
      reassignments: result.reassignments,
      verified: true,
    };
    if (options.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else
      say(
        `done in ${summary.latency_ms} ms by server ${result.serverId}; verified (hidden bytes identical); wrote ${out} (${result.png.length} bytes)`,
      );
  } finally {
    client.close();
  }
}

export function registerEncryptCommand(program: Command): void {
  program
    .command('encrypt')
    .description(
      'hide an image in the default cover through the cloud, verify it, and save the PNG',
    )
    .argument('<image>', 'PNG or JPEG file to hide')
    .option('-o, --out <file>', 'output PNG (default: <image>.stego.png in this folder)')
    .option('-c, --config <file>', 'client TOML config whose server_addresses to use')
    .option(
      '--servers <list>',
      `comma-separated server addresses (default: $CLOUDP2P_SERVERS or ${DEFAULT_SERVERS})`,
    )
    .option('--owner <user>', 'owner recorded in the hidden access rights')
    .option(
      '--viewer <user:quota>',
      'a viewer and their view quota (repeatable; needs --owner)',
      collectViewer,
      [],
    )
    .option('--message <text>', 'a text message hidden along with the image')
    .option(
      '--deadline <seconds>',
      'give up after this long without a result',
      parsePositiveNumber,
      120,
    )
    .option('--json', 'print a JSON summary on stdout')
    .option(
      '--cloud-ca <file>',
      "the cloud's CA certificate (default: CLOUDP2P_CLOUD_CA, else the local cloud's .cloudp2p/keys/ca.crt)",
    )
    .option('--cloud-fingerprint <sha256>', "or the SHA-256 fingerprint of the cloud's CA")
    .addHelpText(
      'after',
      '\nExit codes: 0 ok, 2 usage, 3 bad image, 5 result failed verification, 8 cloud unreachable or deadline passed.',
    )
    .action(async (file: string, options: EncryptOptions) => {
      await runEncrypt(file, options);
    });
}
