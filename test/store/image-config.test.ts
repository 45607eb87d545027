import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { readImagePlans } from '../../src/store/archive-images.js';
import { pickImageConfig } from '../../src/store/image-config.js';
import { memoryArchive } from './helpers.js';

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('pickImageConfig', () => {
  it('keeps the fields pilot uses, of the types the OCI spec gives them', () => {
    expect(
      pickImageConfig('c', {
        Env: ['A=b'],
        Entrypoint: null,
        Cmd: ['sh'],
        WorkingDir: '/srv',
        User: '1000',
        Labels: { a: 'b' },
        ExposedPorts: { '80/tcp': {} },
        StopSignal: null,
      }),
    ).toEqual({
      Env: ['A=b'],
      Entrypoint: null,
      Cmd: ['sh'],
      WorkingDir: '/srv',
      User: '1000',
      Labels: { a: 'b' },
    });
    expect(pickImageConfig('c', null)).toEqual({});
  });

  it.each<[string, unknown, RegExp]>([
    ['Env a number', { Env: 5 }, /^c: config\.Env is a number, not a list of strings$/],
    ['Entrypoint a string', { Entrypoint: 'sh' }, /config\.Entrypoint is a string, not a list/],
    ['Cmd with a number', { Cmd: ['sh', 1] }, /config\.Cmd is a list, not a list of strings/],
    ['WorkingDir a list', { WorkingDir: ['/'] }, /config\.WorkingDir is a list, not a string/],
    [
      'Labels with a list',
      { Labels: { a: [] } },
      /config\.Labels is a mapping, not a mapping of strings/,
    ],
    ['config a list', [], /"config" is a list, not a mapping/],
  ])('refuses %s by name', (_name, config, message) => {
    expect(() => pickImageConfig('c', config)).toThrow(message);
  });
});

describe('readImagePlans refuses metadata of the wrong shape by name', () => {
  const config = Buffer.from('{"rootfs":{"diff_ids":[]},"config":{"Env":"PATH=/bin"}}');
  it.each<[string, Map<string, Buffer>, RegExp]>([
    [
      'a null manifest.json entry',
      new Map([['manifest.json', Buffer.from('[null]')]]),
      /manifest\.json entry 1 is not a JSON object/,
    ],
    [
      'manifest.json an object',
      new Map([['manifest.json', Buffer.from('{}')]]),
      /manifest\.json is not a JSON list/,
    ],
    [
      'a null index entry',
      new Map([['index.json', Buffer.from('{"manifests":[null]}')]]),
      /manifests entry 1 is not a JSON object/,
    ],
    [
      'index.json null',
      new Map([['index.json', Buffer.from('null')]]),
      /index\.json is not a JSON object/,
    ],
    [
      'a string Env',
      new Map([
        ['manifest.json', Buffer.from(`[{"Config":"${sha(config)}.json","Layers":[]}]`)],
        [`${sha(config)}.json`, config],
      ]),
      /image config [a-f0-9]{64}\.json: config\.Env is a string, not a list of strings/,
    ],
  ])('%s', async (_name, files, message) => {
    await expect(readImagePlans(memoryArchive(files))).rejects.toMatchObject({
      code: 'PILOT_IMAGE_INVALID',
      message: expect.stringMatching(message),
    });
  });
});
