import { describe, expect, it } from 'vitest';
import { parseHostFault } from '../../../src/lab/inject.js';
import { agentNames, hostNamed, labTopology, parseLabNumber } from '../../../src/lab/topology.js';

describe('lab topology', () => {
  it('six hosts with their own addresses in 198.19.<n>.0/24, names that fit Linux limits', () => {
    const t = labTopology(7);
    expect(t.subnet).toBe('198.19.7.0/24');
    expect(t.bridge).toBe('cp2plab7br');
    expect(t.hosts.map((h) => `${h.name}=${h.address}`)).toEqual([
      'cloud-1=198.19.7.11',
      'cloud-2=198.19.7.12',
      'cloud-3=198.19.7.13',
      'users-1=198.19.7.21',
      'users-2=198.19.7.22',
      'users-3=198.19.7.23',
    ]);
    for (const h of labTopology(99).hosts) {
      expect(h.hostLink.length).toBeLessThanOrEqual(15);
      expect(h.namespace).toMatch(/^cp2plab99-(cloud|users)-\d$/);
    }
    // Never the stress tool's names or subnet.
    expect(
      t.hosts.some((h) => h.namespace.startsWith('cp2p-') || h.address.startsWith('198.18.')),
    ).toBe(false);
  });

  it('refuses lab numbers and hosts that do not exist, naming what is allowed', () => {
    expect(() => parseLabNumber('0')).toThrow(/1\.\.99/);
    expect(() => parseLabNumber('1.5')).toThrow(/1\.\.99/);
    expect(parseLabNumber('12')).toBe(12);
    expect(() => hostNamed(labTopology(1), 'cloud-4')).toThrow(/hosts: cloud-1, cloud-2/);
  });

  it('agent usernames are valid directory names, zero-padded per host', () => {
    expect(agentNames(2, 3)).toEqual(['u2-01', 'u2-02', 'u2-03']);
    expect(agentNames(1, 120)[119]).toBe('u1-120');
    expect(() => agentNames(1, 0)).toThrow(/1\.\.200/);
  });
});

describe('lab --inject specs', () => {
  it('kill with revive, cut with a default of 20 s, leader targets', () => {
    expect(parseHostFault('kill:host=cloud-2,at=60s,revive-after=90s')).toEqual({
      kind: 'kill',
      host: 'cloud-2',
      at_ms: 60_000,
      duration_ms: 90_000,
      name: 'kill-cloud-2',
    });
    expect(parseHostFault('cut:host=leader,at=2m')).toMatchObject({
      host: 'leader',
      at_ms: 120_000,
      duration_ms: 20_000,
    });
    expect(parseHostFault('kill:host=users-1,at=5s')).toMatchObject({ duration_ms: null });
  });

  it('bad specs are usage errors naming the problem', () => {
    expect(() => parseHostFault('pause:host=cloud-1,at=1s')).toThrow(/use kill or cut/);
    expect(() => parseHostFault('kill:host=cloud-1')).toThrow(/at=/);
    expect(() => parseHostFault('kill:host=db-1,at=1s')).toThrow(/host=/);
    expect(() => parseHostFault('cut:host=cloud-1,at=1s,revive-after=3s')).toThrow(
      /unknown key revive-after/,
    );
    expect(() => parseHostFault('cut:host=cloud-1,at=1s,for=10ms')).toThrow(/at least 1s/);
  });
});
