import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram, COMMANDS } from './main.js';

describe('the larder program', () => {
  it('lists each top-level command with the module that defines it, and nothing it does not', async () => {
    for (const { names, load } of COMMANDS) {
      const program = new Command('larder');
      (await load())(program);
      expect(program.commands.map((c) => c.name())).toEqual(names);
    }
  });

  it('loads only the module of the command it runs; every command for anything else', async () => {
    const all = (await buildProgram()).commands.map((c) => c.name());
    expect(all).toEqual(COMMANDS.flatMap((c) => c.names));
    expect((await buildProgram('serve')).commands.map((c) => c.name())).toEqual(['serve']);
    expect((await buildProgram('restore')).commands.map((c) => c.name())).toEqual(['backup', 'restore']);
    for (const other of ['--help', 'help', 'serv', '-V'])
      expect(
        (await buildProgram(other)).commands.map((c) => c.name()),
        other,
      ).toEqual(all);
  });
});
