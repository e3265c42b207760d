import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { expect } from 'chai';
import { createMachine, type AnyStateMachine, type AnyStateNode } from 'xstate';
import { reservaMachine } from '../machines/reserva.ts';
import { inlineActionName, inlineGuardName, statelyDefinition } from '../runtime/stately-definition.ts';
import { VIZ_NAMES, VIZ_SAGAS, writeViz } from '../tools/viz.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: root }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** `npx tsx tools/viz.ts ...args` (what `npm run viz -- ...args` runs). */
const viz = (...args: string[]) => run('npx', ['tsx', 'tools/viz.ts', ...args]);

type Named = string | { type?: unknown; params?: unknown } | ((...args: never[]) => unknown) | undefined;

/** An action as data: its name, and its params when they are data (builders are code). */
function actionOf(action: Named): string {
  if (typeof action === 'function') return inlineActionName(action);
  if (typeof action === 'string') return action;
  if (!action) return '';
  const params = typeof action.params === 'function' || action.params === undefined ? '' : JSON.stringify(action.params);
  return `${String(action.type)}${params}`;
}

function guardOf(guard: Named): string | null {
  if (guard === undefined) return null;
  if (typeof guard === 'function') return inlineGuardName(guard);
  return actionOf(guard);
}

/**
 * What Stately draws of a machine, as XState resolved it: every state node's id, type,
 * initial state, tags, entry and exit actions, and every transition (source, event,
 * targets, guard, reenter, actions), delayed (`xstate.after…`) and eventless ones included.
 */
function shape(machine: AnyStateMachine) {
  const nodes: unknown[] = [];
  const visit = (node: AnyStateNode) => {
    const transitions = [...node.transitions.values()].flat().concat(node.always ?? []);
    nodes.push({
      id: node.id,
      type: node.type,
      initial: node.initial?.target.map((t) => t.id) ?? [],
      tags: [...node.tags].sort(),
      description: node.description ?? null,
      entry: node.entry.map((a) => actionOf(a as Named)),
      exit: node.exit.map((a) => actionOf(a as Named)),
      transitions: transitions.map((t) => ({
        source: t.source.id,
        event: t.eventType,
        targets: (t.target ?? []).map((s) => s.id),
        guard: guardOf(t.guard as Named),
        reenter: t.reenter,
        actions: t.actions.map((a) => actionOf(a as Named)),
      })),
    });
    Object.values(node.states).forEach((child) => visit(child as AnyStateNode));
  };
  visit(machine.root);
  return { id: machine.id, nodes };
}

/** The source text of every function in a machine's raw config (what must not leak). */
function functionSources(value: unknown, found: string[] = [], seen = new Set<unknown>()): string[] {
  if (typeof value === 'function') found.push(value.toString());
  if (!value || (typeof value !== 'object' && typeof value !== 'function') || seen.has(value)) return found;
  seen.add(value);
  for (const v of Object.values(value)) functionSources(v, found, seen);
  return found;
}

describe('npm run viz (Stately import)', function () {
  this.timeout(60_000);
  fs.mkdirSync(path.join(root, 'test-artifacts'), { recursive: true });
  // Inside the project, so the generated `import ... from 'xstate'` resolves.
  const dir = fs.mkdtempSync(path.join(root, 'test-artifacts', 'viz-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('reserva', function () {
    let cli: Run;
    let file: string;
    let text: string;
    before(async function () {
      cli = await viz('reserva', '--out', dir);
      file = path.join(dir, 'reserva.machine.ts');
      text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    });

    it('should write viz/reserva.machine.ts and .json and say where, and the Stately URL to paste it into', function () {
      expect(cli.code, cli.stderr).to.equal(0);
      expect(cli.stdout).to.include(`wrote ${path.relative(root, file)}\n`);
      expect(cli.stdout).to.include(`wrote ${path.relative(root, path.join(dir, 'reserva.machine.json'))}\n`);
      expect(cli.stdout).to.include('https://state.new');
      expect(cli.stdout).to.include('https://stately.ai/docs/import-from-code');
    });

    it('should be the form Stately imports: one createMachine({...}) literal, importing only createMachine from xstate', function () {
      const imports = text.split('\n').filter((line) => /^\s*import\b/.test(line));
      expect(imports).to.deep.equal(["import { createMachine } from 'xstate';"]);
      expect(text.match(/createMachine\(/g)).to.have.length(1);
      expect(text).to.match(/^export const machine = createMachine\(\{$/m);
      expect(text).not.to.match(/\bsetup\(|\.provide\(|\bassign\(\{/);
      // Stately's extractor reads `params` objects with identifier keys only: no quoted identifier keys.
      expect(text).not.to.match(/^\s*"[A-Za-z_$][\w$]*":/m);
    });

    it('should have the same state ids, initial, final states, tags and transitions as the machine', async function () {
      const module = (await import(pathToFileURL(file).href)) as { machine: AnyStateMachine };
      expect(module.machine.id).to.equal('reserva');
      const exported = shape(module.machine);
      const original = shape(reservaMachine);
      expect(exported).to.deep.equal(original);
      // Spot checks of what the comparison covers, so it cannot pass on two empty shapes.
      const ids = original.nodes.map((n) => (n as { id: string }).id);
      expect(ids).to.include.members(['reserva', 'reserva.creandoReserva', 'reserva.reparacionManual']);
      const finals = original.nodes.filter((n) => (n as { type: string }).type === 'final').map((n) => (n as { tags: string[] }).tags);
      expect(finals).to.deep.equal([['completed'], ['compensated'], ['compensated']]); // completada, compensada, resueltaManualmente
      const repair = original.nodes.find((n) => (n as { id: string }).id === 'reserva.reparacionManual') as { tags: string[]; type: string; transitions: { event: string }[] };
      expect(repair.tags, 'manual repair: failed, not final').to.deep.equal(['failed']);
      expect(repair.transitions.map((t) => t.event)).to.include.members(['ConfirmacionGDSRevertida', 'PagoRevertido', 'ReservaCancelada', 'ReintentarCompensacion', 'MarcarResuelta']);
      const cancel = original.nodes.find((n) => (n as { id: string }).id === 'reserva.cancelandoReserva') as { transitions: { event: string; guard: string | null; targets: string[] }[] };
      expect(cancel.transitions).to.deep.include.members([
        { source: 'reserva.cancelandoReserva', event: 'ReservaCancelada', targets: ['reserva.compensada'], guard: null, reenter: false, actions: [] },
      ] as never[]);
      expect(cancel.transitions.map((t) => t.event)).to.include('xstate.after.plazoCompensacion.reserva.cancelandoReserva');
      expect(cancel.transitions.map((t) => t.guard)).to.include('quedanIntentos{"paso":"cancelandoReserva"}');
    });

    it('should write the same definition as JSON, which createMachine accepts too', function () {
      const json = JSON.parse(fs.readFileSync(path.join(dir, 'reserva.machine.json'), 'utf8'));
      expect(json).to.deep.equal(statelyDefinition(reservaMachine).config);
      expect(shape(createMachine(json))).to.deep.equal(shape(reservaMachine));
    });

    it('should leak no code: no function source, arrow or context/event access', function () {
      const sources = functionSources(reservaMachine.config);
      expect(sources.length).to.be.greaterThan(5);
      for (const source of sources) expect(text).not.to.include(source);
      expect(text).not.to.match(/=>|\bfunction\b|\breturn\b|\bcontext\.|\bevent\.|\binput\./);
      // ...and says in its header what it left out.
      expect(text).to.include('CrearReserva params (built from the context and event)');
      expect(text).to.include('inline action, named "assign(id_reserva)"');
    });

    it('should type-check as strict TypeScript against xstate', async function () {
      const tsc = await run('npx', [
        'tsc', '--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--skipLibCheck', file,
      ]);
      expect(tsc.code, tsc.stdout + tsc.stderr).to.equal(0);
    });
  });

  it('should write every machine for `all`, each equal in shape to its machine, and all.machine.ts with one createMachine per machine', async function () {
    const out = path.join(dir, 'all');
    writeViz('all', out);
    const names = Object.keys(VIZ_SAGAS);
    expect(names).to.deep.equal(['reserva', 'vuelos-reserva', 'pagos-reserva', 'gds-reserva', 'reserva-coreografia']);
    for (const name of names) {
      const module = (await import(pathToFileURL(path.join(out, `${name}.machine.ts`)).href)) as { machine: AnyStateMachine };
      expect(shape(module.machine), name).to.deep.equal(shape(VIZ_SAGAS[name].machine));
    }
    const all = (await import(pathToFileURL(path.join(out, 'all.machine.ts')).href)) as Record<string, AnyStateMachine>;
    expect(Object.keys(all).sort()).to.deep.equal(['gdsReserva', 'pagosReserva', 'reserva', 'reservaCoreografia', 'vuelosReserva']);
    expect(shape(all.reservaCoreografia)).to.deep.equal(shape(VIZ_SAGAS['reserva-coreografia'].machine));
  });

  it('should refuse an unknown machine with exit code 1 and list the valid ones', async function () {
    const { code, stdout, stderr } = await viz('no-such-machine', '--out', dir);
    expect(code).to.equal(1);
    expect(stdout).to.equal('');
    expect(stderr).to.include('unknown machine "no-such-machine"');
    for (const name of VIZ_NAMES) expect(stderr).to.include(name);
    expect(fs.existsSync(path.join(dir, 'no-such-machine.machine.ts'))).to.equal(false);
  });
});
