/**
 * The referee of the model-based tests: what a path through a saga must have sent and how it
 * must end, stated from the domain (`../shared/docs/domain.md`: services, topics, steps and
 * compensations) and never computed with the runtime's own functions (`resolveEffects`,
 * `statusOf`, the definitions' `commands`). The model-based suites drive the runtime along
 * each generated path, then hand the saga log and the final status here.
 *
 * Properties:
 * - **ownership**: every command goes to a topic that the participant owning the command
 *   reads (domain.md, "Services");
 * - **steps in order** (the orchestrated saga): the start sends step 1's command; a step's
 *   success event sends the next step's command, once;
 * - **compensations are the done steps in reverse**: a failure event of step i undoes the
 *   steps before it, newest first; a step's deadline undoes step i too (its participant may
 *   have done it late); a compensation shared by two steps runs once, at the place of the
 *   older one; each waits for its confirming event before the next is sent;
 * - **once per attempt**: a compensation is sent again only when its retry deadline fires,
 *   at most `attempts` times in all, then the saga needs manual repair, where its late
 *   confirmation resumes it;
 * - **the end follows from the path**: completed after the last step's success,
 *   compensated once the last compensation is confirmed, failed in manual repair, running
 *   otherwise.
 */

/** Which participant reads each topic (domain.md, "Services"; vuelos' command topics named in the same style). */
export const TOPICS_READ_BY: Record<string, readonly string[]> = {
  vuelos: ['comando-crear-reserva', 'comando-aprobar-reserva', 'comando-cancelar-reserva'],
  pagos: ['comando-pagar-reserva', 'comando-revertir-pago'],
  gds: ['comando-confirmar-reserva', 'comando-revertir-confirmacion'],
  // Not in the tutorial: a choreography part that gives up a compensation tells the tracker on a topic of its own.
  seguimiento: ['evento-reparacion-manual'],
};

/** The participant that owns (executes) each command. */
export const COMMAND_OWNER: Record<string, keyof typeof TOPICS_READ_BY> = {
  CrearReserva: 'vuelos',
  AprobarReserva: 'vuelos',
  CancelarReserva: 'vuelos',
  PagarReserva: 'pagos',
  RevertirPago: 'pagos',
  ConfirmarReserva: 'gds',
  RevertirConfirmacion: 'gds',
  ReparacionManualRequerida: 'seguimiento',
};

interface Step {
  command: string;
  success: string;
  failure: string;
  /** The command that undoes it, the event that confirms that, and the one that reports it failed. */
  compensation: { command: string; confirmedBy: string; failedBy: string };
}

const CANCEL = { command: 'CancelarReserva', confirmedBy: 'ReservaCancelada', failedBy: 'CancelacionReservaFallida' };

/** The orchestrated saga's steps (domain.md, "The orchestrated saga"). */
export const RESERVA_STEPS: readonly Step[] = [
  { command: 'CrearReserva', success: 'ReservaCreada', failure: 'CreacionReservaFallida', compensation: CANCEL },
  { command: 'PagarReserva', success: 'ReservaPagada', failure: 'PagoFallido', compensation: { command: 'RevertirPago', confirmedBy: 'PagoRevertido', failedBy: 'ReversionPagoFallida' } },
  {
    command: 'ConfirmarReserva',
    success: 'ReservaGDSConfirmada',
    failure: 'ConfirmacionFallida',
    compensation: { command: 'RevertirConfirmacion', confirmedBy: 'ConfirmacionGDSRevertida', failedBy: 'ReversionConfirmacionFallida' },
  },
  { command: 'AprobarReserva', success: 'ReservaAprobada', failure: 'AprobacionReservaFallida', compensation: CANCEL },
];

/** Attempts of one compensation that fit the model's horizon (test/support/model/definitions.ts: waits of 300, 600 and 600 s in 1,500 s). */
export const MODEL_COMPENSATION_ATTEMPTS = 3;

/** The deadlines of a path, by what they mean (the machines name their delays so). */
const isStepDeadline = (type: string) => type.startsWith('xstate.after.plazoPaso.');
const isRetryDeadline = (type: string) => type.startsWith('xstate.after.plazoCompensacion.');

export interface Verdict {
  /** The commands the saga must have sent, in order. */
  commands: string[];
  status: 'running' | 'completed' | 'compensated' | 'failed';
}

/**
 * What the orchestrated saga must do for `events` (the path's domain events and fired
 * deadlines, after the start), worked out from `steps` alone.
 *
 * @example
 * refereeOrchestration(['ReservaCreada', 'PagoFallido']); // { commands: ['CrearReserva', 'PagarReserva', 'CancelarReserva'], status: 'running' }
 */
export function refereeOrchestration(events: readonly string[], steps: readonly Step[] = RESERVA_STEPS, attempts = MODEL_COMPENSATION_ATTEMPTS): Verdict {
  const commands = [steps[0].command];
  let step = 0; // the step whose answer is awaited
  let undo: Step['compensation'][] | null = null; // compensations still to confirm, the current one first
  let tries = 0;
  let status = 'running' as Verdict['status'];

  const compensate = (done: readonly Step[]) => {
    // Newest first; a compensation shared by two steps runs once, at the older one's place.
    const newestFirst = [...done].reverse().map((s) => s.compensation);
    const names = newestFirst.map((c) => c.command);
    undo = newestFirst.filter((c, i) => names.lastIndexOf(c.command) === i);
    next();
  };
  const next = () => {
    if (undo!.length === 0) return void (status = 'compensated');
    commands.push(undo![0].command);
    tries = 1;
  };

  for (const event of events) {
    if (status === 'completed' || status === 'compensated') break;
    if (undo === null) {
      const current = steps[step];
      if (event === current.success) {
        if (step === steps.length - 1) status = 'completed';
        else commands.push(steps[++step].command);
      } else if (event === current.failure) compensate(steps.slice(0, step));
      else if (isStepDeadline(event)) compensate(steps.slice(0, step + 1));
      continue;
    }
    const pending: Step['compensation'][] = undo;
    const current = pending[0];
    if (status === 'failed' && event === 'ReintentarCompensacion') {
      // A person sends the compensation that gave up again, its attempts counted anew.
      commands.push(current.command);
      tries = 1;
      status = 'running';
    } else if (status === 'failed' && event === 'MarcarResuelta') status = 'compensated'; // settled by hand: nothing more is sent
    else if (event === current.confirmedBy) {
      pending.shift();
      status = 'running';
      next();
    } else if (isRetryDeadline(event) && status === 'running') {
      if (tries < attempts) {
        commands.push(current.command);
        tries++;
      } else status = 'failed';
    }
  }
  return { commands, status };
}

/** A command the saga log shows it sent, with the topic it went to. */
export interface SentCommand {
  type: string;
  topic: string;
}

/**
 * Every property that fails for one path, as sentences (empty when the path is right).
 * `events` are the path's inputs after the start; `sent` the commands the saga log records.
 */
export function judgePath(sagaType: string, events: readonly string[], sent: readonly SentCommand[], status: string): string[] {
  const problems: string[] = [];
  for (const command of sent) {
    const owner = COMMAND_OWNER[command.type];
    if (!owner) problems.push(`${command.type}: a command no participant owns`);
    else if (!TOPICS_READ_BY[owner].includes(command.topic)) problems.push(`${command.type} went to ${command.topic}, which ${owner} (its owner) does not read`);
  }
  if (sagaType === 'reserva') {
    const verdict = refereeOrchestration(events);
    const types = sent.map((c) => c.type);
    if (JSON.stringify(types) !== JSON.stringify(verdict.commands)) problems.push(`sent ${types.join(', ') || 'nothing'}; the steps call for ${verdict.commands.join(', ')}`);
    if (status !== verdict.status) problems.push(`ended ${status}; the path calls for ${verdict.status}`);
  }
  return problems;
}
