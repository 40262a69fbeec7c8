/**
 * The load client's config for the cloud `cloudp2p start` actually started. config/client1.toml
 * names the default ports (8001-8003); a cloud started from other server configs listens
 * elsewhere, so `start` writes .cloudp2p/client.toml from the same template with the addresses
 * (and CA) it started, and prints that file in its walkthrough. .cloudp2p/ sits one folder below
 * the package root like config/, so the template's relative paths keep pointing at the same files.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { packagePath } from '../util/package-info.js';

export const CLIENT_TEMPLATE_PATH = packagePath('config', 'client1.toml');
export const LOCAL_CLIENT_CONFIG_PATH = packagePath('.cloudp2p', 'client.toml');

const SERVER_ADDRESSES = /^server_addresses\s*=\s*\[[^\]]*\]/m;
const TLS_CA = /^ca\s*=\s*"[^"\n]*"/m;

/** `template` (a client TOML) with its server addresses, and CA file when given, replaced. */
export function clientConfigFor(
  template: string,
  addresses: readonly string[],
  caPath?: string | null,
): string {
  if (!SERVER_ADDRESSES.test(template))
    throw new Error('the client config template has no server_addresses line');
  const list = addresses.map((address) => `    ${JSON.stringify(address)}`).join(',\n');
  let text = template.replace(SERVER_ADDRESSES, `server_addresses = [\n${list}\n]`);
  if (caPath) text = text.replace(TLS_CA, `ca = ${JSON.stringify(caPath)}`);
  return `# Written by \`cloudp2p start\` for the cloud it started (from ${CLIENT_TEMPLATE_PATH}).\n${text}`;
}

/** Writes .cloudp2p/client.toml for a started cloud; returns its path. */
export function writeLocalClientConfig(
  addresses: readonly string[],
  caPath: string | null,
): string {
  const text = clientConfigFor(readFileSync(CLIENT_TEMPLATE_PATH, 'utf8'), addresses, caPath);
  writeFileSync(LOCAL_CLIENT_CONFIG_PATH, text);
  return LOCAL_CLIENT_CONFIG_PATH;
}
