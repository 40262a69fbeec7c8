import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  CLIENT_TEMPLATE_PATH,
  clientConfigFor,
  LOCAL_CLIENT_CONFIG_PATH,
} from '../../../src/cli/local-client-config.js';
import { loadClientConfig, readClientConfig } from '../../../src/client/config.js';
import { loadServerConfig } from '../../../src/server/config.js';
import { formatEndpoint } from '../../../src/transport/endpoint.js';
import { parseTomlText } from '../../../src/util/config-reader.js';
import { packagePath } from '../../../src/util/package-info.js';
import { dirname } from 'node:path';

describe('the load client config follows the cloud that start started', () => {
  it('config/client1.toml names exactly the servers of config/server1..3.toml', () => {
    const started = [1, 2, 3].map((n) =>
      formatEndpoint(loadServerConfig(packagePath('config', `server${n}.toml`)).address),
    );
    const client = loadClientConfig(CLIENT_TEMPLATE_PATH);
    expect(client.servers.map(formatEndpoint)).toEqual(started);
  });

  it('start writes the same config with the addresses and CA it actually started', () => {
    const text = clientConfigFor(
      readFileSync(CLIENT_TEMPLATE_PATH, 'utf8'),
      ['127.0.0.1:18001', '127.0.0.1:18002'],
      '/tmp/other-cloud/ca.crt',
    );
    const written = readClientConfig(
      parseTomlText(text, LOCAL_CLIENT_CONFIG_PATH),
      dirname(LOCAL_CLIENT_CONFIG_PATH),
    );
    const template = loadClientConfig(CLIENT_TEMPLATE_PATH);
    expect(written.servers.map(formatEndpoint)).toEqual(['127.0.0.1:18001', '127.0.0.1:18002']);
    expect(written.tls.caPath).toBe('/tmp/other-cloud/ca.crt');
    // Every other setting, relative paths included, means what the template means.
    const rest = { servers: [], tls: {}, source: '' };
    expect({ ...written, ...rest }).toEqual({ ...template, ...rest });
  });
});
