/**
 * `cloudp2p cluster init`: makes the cloud's keys (a CA and a certificate per server, layout in
 * src/server/cluster-keys.ts and docs/SECURITY.md); running it again with more ids adds servers.
 * `cloudp2p cluster fingerprint <file>`: the SHA-256 of a certificate, for pinning the CA in
 * clients or revoking a server (`[tls] revoked`).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { certificateFingerprint, parseCertificates } from '../../identity/certificates.js';
import {
  CA_CERT_FILE,
  initClusterKeys,
  serverCertFile,
  serverKeyFile,
} from '../../server/cluster-keys.js';
import { UsageError } from '../../util/errors.js';

function parseIds(text: string): number[] {
  const ids = text.split(',').map((part) => Number(part.trim()));
  if (ids.length === 0 || ids.some((id) => !Number.isInteger(id) || id < 1 || id > 999))
    throw new UsageError(`--servers: "${text}" must be server ids 1..999 separated by commas`);
  return [...new Set(ids)];
}

function parseClusterId(text: string): number {
  const id = Number(text);
  if (!Number.isInteger(id) || id < 0 || id > 0xffff_ffff)
    throw new UsageError(`--cluster-id: "${text}" must be a whole number 0..4294967295`);
  return id;
}

export function registerClusterCommand(program: Command): void {
  const cluster = program
    .command('cluster')
    .description("the cloud's keys: a CA and a certificate per server (docs/SECURITY.md)");
  cluster
    .command('init')
    .description('make the cluster CA (unless present) and a certificate per server id')
    .requiredOption('-d, --dir <folder>', 'keys folder (created with mode 0700)')
    .requiredOption('-s, --servers <ids>', 'server ids, e.g. 1,2,3 (existing ones are kept)')
    .option('--cluster-id <n>', 'the [server] cluster_id of these servers', '1')
    .action(async (opts: { dir: string; servers: string; clusterId: string }) => {
      const dir = resolve(opts.dir);
      const ids = parseIds(opts.servers);
      const result = await initClusterKeys({
        dir,
        clusterId: parseClusterId(opts.clusterId),
        serverIds: ids,
      });
      const say = (line: string): void => void process.stdout.write(`${line}\n`);
      for (const file of result.created) say(`created ${file}`);
      for (const file of result.kept) say(`kept    ${file}`);
      say('');
      say(`cloud CA fingerprint (clients may pin it): ${result.caFingerprint}`);
      say(`clients name the CA file instead: ${join(dir, CA_CERT_FILE)}`);
      say('');
      say('add to each server config (copy the files to that server; ca.key stays with you):');
      for (const id of ids) {
        say(
          `  server ${id}: [tls] ca = "${join(dir, CA_CERT_FILE)}"  cert = "${join(dir, serverCertFile(id))}"  key = "${join(dir, serverKeyFile(id))}"`,
        );
      }
    });
  cluster
    .command('fingerprint <file>')
    .description('print the SHA-256 fingerprint of the (first) certificate in a PEM file')
    .action((file: string) => {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
      }
      const [cert] = parseCertificates(text, file);
      process.stdout.write(`${certificateFingerprint(cert!)}\n`);
    });
}
