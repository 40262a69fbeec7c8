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
