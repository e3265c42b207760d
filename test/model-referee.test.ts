import { expect } from 'chai';
import { createMachine, type AnyStateMachine } from 'xstate';
import { connect } from '../db/connect.ts';
import { migrate } from '../db/migrator.ts';
import { reservaSaga } from '../machines/reserva.ts';
import type { SagaDefinition } from '../runtime/registry.ts';
import { drivePath } from './support/model/drive.ts';
import { buildModel } from './support/model/model.ts';
import { judgePath, refereeOrchestration } from './support/model/referee.ts';

/**
 * The referee of the model-based tests (test/support/model/referee.ts) and proof that it
 * judges the saga, not the runtime: machines with a wrong saga in them pass every check that
 * replays the machine, and the referee still fails them.
 */

const OK_PAGO = ['ReservaCreada', 'ReservaPagada'];
const STEP_TIMEOUT = 'xstate.after.plazoPaso.reserva.pagando';
const RETRY = 'xstate.after.plazoCompensacion.reserva.revirtiendoPago';

describe('the model-based referee (the orchestrated saga from its steps)', () => {
  it('should complete a saga whose every step succeeds, each command once, in order', () => {
    expect(refereeOrchestration([...OK_PAGO, 'ReservaGDSConfirmada', 'ReservaAprobada'])).to.deep.equal({
      commands: ['CrearReserva', 'PagarReserva', 'ConfirmarReserva', 'AprobarReserva'],
      status: 'completed',
    });
  });

  it('should undo the done steps newest first when a step fails, each after the previous is confirmed', () => {
    expect(refereeOrchestration([...OK_PAGO, 'ConfirmacionFallida'])).to.deep.equal({ commands: ['CrearReserva', 'PagarReserva', 'ConfirmarReserva', 'RevertirPago'], status: 'running' });
    expect(refereeOrchestration([...OK_PAGO, 'ConfirmacionFallida', 'PagoRevertido', 'ReservaCancelada'])).to.deep.equal({
      commands: ['CrearReserva', 'PagarReserva', 'ConfirmarReserva', 'RevertirPago', 'CancelarReserva'],
      status: 'compensated',
    });
  });

  it('should undo the late step too when its deadline expires', () => {
    expect(refereeOrchestration(['ReservaCreada', STEP_TIMEOUT]).commands).to.deep.equal(['CrearReserva', 'PagarReserva', 'RevertirPago']);
  });

  it("should send a compensation two steps share once, at the older step's place", () => {
    const approvalTimeout = [...OK_PAGO, 'ReservaGDSConfirmada', 'xstate.after.plazoPaso.reserva.aprobando', 'ConfirmacionGDSRevertida', 'PagoRevertido', 'ReservaCancelada'];
    expect(refereeOrchestration(approvalTimeout)).to.deep.equal({
      commands: ['CrearReserva', 'PagarReserva', 'ConfirmarReserva', 'AprobarReserva', 'RevertirConfirmacion', 'RevertirPago', 'CancelarReserva'],
      status: 'compensated',
    });
  });

  it('should resend a compensation once per retry deadline, stop for manual repair after the last attempt, and resume on its late confirmation', () => {
    const failing = ['ReservaCreada', 'PagoFallido', 'CancelacionReservaFallida', 'xstate.after.plazoCompensacion.reserva.cancelandoReserva', 'xstate.after.plazoCompensacion.reserva.cancelandoReserva'];
    expect(refereeOrchestration(failing)).to.deep.equal({ commands: ['CrearReserva', 'PagarReserva', 'CancelarReserva', 'CancelarReserva', 'CancelarReserva'], status: 'running' });
    const exhausted = [...failing, 'xstate.after.plazoCompensacion.reserva.cancelandoReserva'];
    expect(refereeOrchestration(exhausted).status).to.equal('failed');
    expect(refereeOrchestration([...exhausted, 'ReservaCancelada'])).to.deep.include({ status: 'compensated' });
    expect(refereeOrchestration(['ReservaCreada', STEP_TIMEOUT, RETRY]).commands.filter((c) => c === 'RevertirPago')).to.have.length(2);
  });

  it("should fail a command sent to a topic its owner does not read, whatever the saga", () => {
    expect(judgePath('pagos-reserva', [], [{ type: 'PagarReserva', topic: 'comando-crear-reserva' }], 'running')).to.deep.equal([
      'PagarReserva went to comando-crear-reserva, which pagos (its owner) does not read',
    ]);
  });
});

/** Drives every generated path of `definition` through the runtime (SQLite in memory) and returns the referee's first findings. */
async function judgeEveryPath(definition: SagaDefinition): Promise<string[]> {
  const model = buildModel(definition);
  for (const path of model.paths) {
    const driven = await drivePath(model, path, async () => {
      const sequelize = await connect('sqlite::memory:');
      await migrate(sequelize);
      return sequelize;
    });
    const problems = judgePath(definition.type, driven.inputs, driven.sent, driven.status);
    if (problems.length > 0) return problems.map((p) => `${path.name} (${driven.inputs.join(' → ')}): ${p}`);
  }
  return [];
}

/** A copy of `machine` whose state `state` takes `event` to `target` instead. */
function retarget(machine: AnyStateMachine, state: string, event: string, target: string): AnyStateMachine {
  const config = machine.config as { states: Record<string, { on: Record<string, object> }> };
  const states = { ...config.states, [state]: { ...config.states[state], on: { ...config.states[state].on, [event]: { ...config.states[state].on[event], target } } } };
  return createMachine({ ...(machine.config as object), states } as never, machine.implementations as never);
}

describe('mutants of the orchestrated saga (the model-based suite must reject them)', function () {
  this.timeout(120_000);

  it('should reject a saga whose failed payment never cancels the reservation it created (PagoFallido → compensada)', async () => {
    const mutant = { ...reservaSaga, machine: retarget(reservaSaga.machine, 'pagando', 'PagoFallido', 'compensada') } as unknown as SagaDefinition;
    const problems = await judgeEveryPath(mutant);

    expect(problems.join('\n')).to.match(/sent CrearReserva, PagarReserva; the steps call for CrearReserva, PagarReserva, CancelarReserva/);
  });

  it('should reject a runtime that sends every command to a topic nobody reads', async () => {
    const nowhere = Object.fromEntries(Object.keys(reservaSaga.commands).map((command) => [command, 'comando-que-nadie-lee']));
    const mutant = { ...reservaSaga, commands: nowhere } as unknown as SagaDefinition;
    const problems = await judgeEveryPath(mutant);

    expect(problems.join('\n')).to.match(/CrearReserva went to comando-que-nadie-lee, which vuelos \(its owner\) does not read/);
  });
});
