import { describe, expect, it } from 'vitest';
import { isDirectoryError } from '../../../src/directory/errors.js';
import { parseDirectoryUrl, redactUrl } from '../../../src/directory/url.js';

describe('parseDirectoryUrl', () => {
  it('accepts the documented forms', () => {
    expect(parseDirectoryUrl('sqlite::memory:')).toMatchObject({
      backend: 'sqlite',
      path: ':memory:',
    });
    expect(parseDirectoryUrl('sqlite:dir.db', '/etc/cloudp2p')).toMatchObject({
      backend: 'sqlite',
      path: '/etc/cloudp2p/dir.db',
    });
    expect(parseDirectoryUrl('sqlite:/var/lib/d.db')).toMatchObject({ path: '/var/lib/d.db' });
    expect(parseDirectoryUrl('sqlite:///var/lib/d.db')).toMatchObject({ path: '/var/lib/d.db' });
    expect(parseDirectoryUrl('postgres://u:p@db:5432/cloud')).toMatchObject({
      backend: 'postgres',
    });
    expect(parseDirectoryUrl('postgresql://u@db/cloud?sslmode=require')).toMatchObject({
      backend: 'postgres',
    });
    expect(parseDirectoryUrl('mysql://u:p@db:3306/cloud')).toMatchObject({ backend: 'mysql' });
    expect(parseDirectoryUrl('mariadb://u:p@db/cloud')).toMatchObject({
      backend: 'mysql',
      url: 'mysql://u:p@db/cloud',
    });
  });

  it('reads a Galera node list in order, each node with the same user, database and options', () => {
    const target = parseDirectoryUrl(
      'mysql://u:s3cret@10.0.0.1:3306,10.0.0.2,[fd00::3]:3307/cloudp2p?connectTimeout=5000',
    );
    expect(target.backend).toBe('mysql');
    if (target.backend !== 'mysql') return;
    expect(target.nodes.map((n) => n.label)).toEqual([
      '10.0.0.1:3306',
      '10.0.0.2:3306',
      '[fd00::3]:3307',
    ]);
    expect(target.nodes[1]).toMatchObject({
      host: '10.0.0.2',
      port: 3306,
      url: 'mysql://u:s3cret@10.0.0.2/cloudp2p?connectTimeout=5000',
    });
    expect(target.nodes[2]?.host).toBe('fd00::3');
    expect(target.description).toBe(
      'mysql://u:***@10.0.0.1:3306,10.0.0.2,[fd00::3]:3307/cloudp2p?connectTimeout=5000',
    );
    expect(parseDirectoryUrl('mysql://u:p@db/cloud')).toMatchObject({
      nodes: [{ host: 'db', port: 3306, label: 'db:3306' }],
    });
  });

  it('never shows a password', () => {
    const target = parseDirectoryUrl('postgres://user:s3cret@db:5432/cloud');
    expect(target.description).toBe('postgres://user:***@db:5432/cloud');
    expect(redactUrl('mysql://a:b@h/d')).toBe('mysql://a:***@h/d');
    expect(redactUrl('not a url //x:secret@host')).not.toContain('secret');
    expect(() => parseDirectoryUrl('redis://user:s3cret@db/0')).toThrow(
      /redis:\/\/user:\*\*\*@db\/0/,
    );
  });

  it.each([
    ['', /non-empty/],
    ['oracle://db/x', /not supported; use sqlite:/],
    ['/var/lib/d.db', /not supported/],
    ['sqlite:', /no file path/],
    ['sqlite://host/d.db', /names a host/],
    ['postgres://', /not a valid URL|no host/],
    ['postgres://db', /must name one database/],
    ['mysql://db/a/b', /must name one database/],
    ['postgres://db:0/x', /port 0/],
    ['sqlite:a\nb', /control characters/],
    [
      'mysql://u:p@10.0.0.1:3306,,10.0.0.2:3306/cloud',
      /node 2 of .* is empty: list nodes as host:port/,
    ],
    ['mysql://u:p@10.0.0.1:3306,/cloud', /node 2 of .* is empty/],
    [
      'mysql://u:p@10.0.0.1:3306;10.0.0.2:3306/cloud',
      /is "10.0.0.1:3306;10.0.0.2:3306"; a node is host:port/,
    ],
    ['mysql://u:p@10.0.0.1:70000,10.0.0.2/cloud', /node 1 of .* a port 1-65535/],
    ['mysql://u:p@a:1,a:1/cloud', /names node a:1 twice/],
    ['mysql://u:p@a,b,c', /must name one database/],
    [
      `mysql://u:p@${Array.from({ length: 17 }, (_, i) => `h${i}`).join(',')}/cloud`,
      /17 nodes; at most 16/,
    ],
    [
      'postgres://u:p@a:5432,b:5432/cloud',
      /PostgreSQL URLs name one host \(the pg driver has no multi-host URLs\)/,
    ],
    [42, /non-empty string/],
  ])('refuses %j with a message saying what is allowed', (url, message) => {
    let caught: unknown;
    try {
      parseDirectoryUrl(url);
    } catch (err) {
      caught = err;
    }
    expect(isDirectoryError(caught, 'directory_bad_url')).toBe(true);
    expect(String(caught)).toMatch(message);
  });
});
