import { describe, expect, it } from 'vitest';
import { ConfigError, parseTomlText } from '../../../src/util/config-reader.js';
import {
  Bool,
  Integer,
  OptionalTable,
  RequiredTable,
  Seconds,
  Table,
  TableList,
  Text,
  TextList,
  readConfig,
} from '../../../src/util/config-schema.js';

const File = Table({
  app: RequiredTable({ name: Text(), port: Integer({ min: 1, max: 9 }, 5) }),
  timing: OptionalTable({ wait_secs: Seconds({ min: 0.5, max: 10 }, 2000), on: Bool(false) }),
  items: OptionalTable({
    list: TableList(Table({ id: Integer({ min: 1, max: 3 }) }), 2),
    tags: TextList({ maxItems: 2, maxLength: 3 }, []),
  }),
});

function read(text: string) {
  return readConfig(parseTomlText(text, 'app.toml'), File);
}

function refusal(text: string): string {
  try {
    read(text);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('config schemas', () => {
  it('fill in every default, converting seconds to milliseconds', () => {
    expect(read('[app]\nname = "x"\n')).toEqual({
      app: { name: 'x', port: 5 },
      timing: { wait_secs: 2000, on: false },
      items: { list: [], tags: [] },
    });
    expect(read('[app]\nname = "x"\n[timing]\nwait_secs = 1.25\n').timing.wait_secs).toBe(1250);
  });

  it.each([
    ['', 'app.toml: app: missing required table [app]'],
    ['[app]\n', 'app.toml: app.name: missing required key'],
    ['[app]\nname = 1\n', 'app.toml: app.name: expected a string, got number 1'],
    ['[app]\nname = "x"\nport = 10\n', 'app.toml: app.port: 10 is out of range; allowed 1..9'],
    ['[app]\nname = "x"\nport = 1.5\n', 'app.toml: app.port: expected a whole number, got 1.5'],
    ['[app]\nname = "x"\nport = "1"\n', 'app.toml: app.port: expected a number, got string "1"'],
    ['[app]\nname = "x"\nprot = 1\n', 'app.toml: unknown key "prot" in [app]; allowed: name, port'],
    [
      '[app]\nname = "x"\n[tming]\n',
      'app.toml: unknown key "tming" in the top level; allowed: app, items, timing',
    ],
    ['app = 3\n', 'app.toml: app: expected a table, got number 3'],
    [
      '[app]\nname = "x"\n[timing]\non = "yes"\n',
      'app.toml: timing.on: expected true or false, got string "yes"',
    ],
    [
      '[app]\nname = "x"\n[items]\nlist = [{ id = 4 }]\n',
      'app.toml: items.list[0].id: 4 is out of range; allowed 1..3',
    ],
    [
      '[app]\nname = "x"\n[items]\nlist = [{ id = 1, x = 2 }]\n',
      'app.toml: unknown key "x" in [items.list[0]]; allowed: id',
    ],
    [
      '[app]\nname = "x"\n[items]\nlist = [{ id = 1 }, { id = 2 }, { id = 3 }]\n',
      'app.toml: items.list: 3 entries; at most 2 are allowed',
    ],
    [
      '[app]\nname = "x"\n[items]\nlist = 1\n',
      'app.toml: items.list: expected an array of tables, got number 1',
    ],
    [
      '[app]\nname = "x"\n[items]\ntags = ["a", 1]\n',
      'app.toml: items.tags: expected an array of strings, got an array',
    ],
    [
      '[app]\nname = "x"\n[items]\ntags = ["abcd"]\n',
      'app.toml: items.tags: an entry is longer than 3 characters',
    ],
  ])('refuses %j naming the file, the key and what is allowed', (text, message) => {
    expect(refusal(text)).toBe(message);
  });
});
