import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram, COMMANDS } from './program.js';
import { quickServeFlags } from './serve.js';

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

  it('parses `serve --option value …` as commander does, and leaves every other form to commander', async () => {
    const commander = async (args: string[]) => {
      const program = await buildProgram('serve');
      const serve = program.commands[0]!.action(() => {});
      await program.parseAsync(['node', 'larder', 'serve', ...args]);
      return serve.opts();
    };
    for (const args of [
      [],
      ['--data', '/d', '--listen', '127.0.0.1:0', '--tls', 'off'],
      ['--config', 'x.toml', '--database', 'postgres://u@h/db', '--public-url', 'https://r.example', '--workers', 'auto'],
      ['--tls-cert', 'c.pem', '--tls-key', 'k.pem', '--log-level', 'debug'],
    ])
      expect(quickServeFlags(args), args.join(' ')).toEqual(await commander(args));
    for (const args of [
      ['--help'],
      ['-c', 'x.toml'],
      ['--data=/d'],
      ['--data'],
      ['--data', '/d', '--data', '/e'],
      ['--data', '-x'],
      ['--bogus', 'x'],
      ['extra'],
    ])
      expect(quickServeFlags(args), args.join(' ')).toBeNull();
  });
});
