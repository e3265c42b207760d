// The Restate peer's saga: the same shape as our AeroAlpes saga, written the way Restate
// documents sagas. Plain JS so the project's tsc never sees the SDK (it lives only in this
// folder's node_modules, installed on demand by bench/peer/restate.ts).
//
//   reserva.ejecutar: vuelos.crear → pagos.pagar → gds.confirmar → vuelos.aprobar
//
// Every call is a durable Restate service call, and every participant journals its effect
// with ctx.run, so a crash replays from the journal instead of doing the effect twice. On a
// terminal error the saga runs the compensations of the steps done so far, newest first
// (gds.revertir, pagos.revertir, vuelos.cancelar), as our machine does. The bench runs the
// happy path; `simular_fallo` ('reserva', 'pago', 'gds', 'aprobacion', and 'revertir-pago':
// a GDS failure whose refund fails, ending in manual repair) drives the other paths by hand.
//
// Env: RESTATE_PEER_SERVICE_PORT (default 19080), bound to 127.0.0.1.

// The SDK calls Promise.withResolvers (Node 22+); Node 20 lacks it, so define it before the
// SDK is loaded. A static import would be hoisted above this, hence the dynamic import.
if (typeof Promise.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers() {
      let resolve;
      let reject;
      const promise = new this((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

const http2 = await import('node:http2');
const { randomUUID } = await import('node:crypto');
const restate = await import('@restatedev/restate-sdk');
const { TerminalError } = restate;

/** A participant fails terminally when the input asks it to (the demo's failure injection). */
function fallo(input, paso, motivo) {
  if (input.simular_fallo === paso) throw new TerminalError(`simulado: ${motivo}`, { errorCode: 409 });
}

const vuelos = restate.service({
  name: 'vuelos',
  handlers: {
    async crear(ctx, input) {
      fallo(input, 'reserva', 'sin cupo');
      return ctx.run('crear reserva', () => ({
        id_reserva: `R-${randomUUID()}`,
        id_cliente: input.id_cliente,
        estado: 'PENDIENTE',
        monto: input.monto,
        monto_vat: input.monto_vat,
        fecha_creacion: Date.now(),
      }));
    },
    async aprobar(ctx, input) {
      fallo(input, 'aprobacion', 'reserva no aprobada');
      return ctx.run('aprobar reserva', () => ({ id_reserva: input.id_reserva, estado: 'APROBADA', fecha_actualizacion: Date.now() }));
    },
    async cancelar(ctx, input) {
      return ctx.run('cancelar reserva', () => ({ id_reserva: input.id_reserva, estado: 'CANCELADA', motivo: input.motivo, fecha_actualizacion: Date.now() }));
    },
  },
});

const pagos = restate.service({
  name: 'pagos',
  handlers: {
    async pagar(ctx, input) {
      fallo(input, 'pago', 'tarjeta rechazada');
      return ctx.run('cobrar', () => ({
        id_reserva: input.id_reserva,
        id_pago: randomUUID(),
        monto: input.monto,
        monto_vat: input.monto_vat,
        fecha_creacion: Date.now(),
      }));
    },
    async revertir(ctx, input) {
      // A compensation that fails terminally cannot be retried away: the saga stops for manual repair.
      fallo(input, 'revertir-pago', 'la pasarela no responde');
      return ctx.run('reembolsar', () => ({ id_reserva: input.id_reserva, id_pago: input.id_pago, fecha_actualizacion: Date.now() }));
    },
  },
});

const gds = restate.service({
  name: 'gds',
  handlers: {
    async confirmar(ctx, input) {
      fallo(input, 'gds', 'el GDS rechazó la reserva');
      // As in our demo: 'revertir-pago' is a GDS failure whose refund then fails too.
      fallo(input, 'revertir-pago', 'el GDS rechazó la reserva');
      return ctx.run('confirmar en el GDS', () => ({ id_reserva: input.id_reserva, fecha_confirmacion: Date.now() }));
    },
    async revertir(ctx, input) {
      return ctx.run('revertir en el GDS', () => ({ id_reserva: input.id_reserva, fecha_actualizacion: Date.now() }));
    },
  },
});

const reserva = restate.service({
  name: 'reserva',
  handlers: {
    /**
     * Input {id_cliente, monto, monto_vat, itinerarios, simular_fallo?}; answers with the
     * saga's final result: estado 'completada', 'compensada' or 'reparacionManual'.
     */
    async ejecutar(ctx, input) {
      const simular = input.simular_fallo ? { simular_fallo: input.simular_fallo } : {};
      // Each entry undoes one step that succeeded; run newest first.
      const compensaciones = [];
      try {
        const creada = await ctx.serviceClient(vuelos).crear({
          id_cliente: input.id_cliente,
          monto: input.monto,
          monto_vat: input.monto_vat,
          itinerarios: input.itinerarios,
          ...simular,
        });
        const id_reserva = creada.id_reserva;
        compensaciones.push((motivo) => ctx.serviceClient(vuelos).cancelar({ id_reserva, motivo }));

        const pago = await ctx.serviceClient(pagos).pagar({ id_reserva, monto: input.monto, monto_vat: input.monto_vat, ...simular });
        compensaciones.push((motivo) => ctx.serviceClient(pagos).revertir({ id_reserva, id_pago: pago.id_pago, motivo, ...simular }));

        const confirmada = await ctx.serviceClient(gds).confirmar({ id_reserva, ...simular });
        compensaciones.push((motivo) => ctx.serviceClient(gds).revertir({ id_reserva, motivo }));

        const aprobada = await ctx.serviceClient(vuelos).aprobar({ id_reserva, ...simular });
        return {
          estado: 'completada',
          id_reserva,
          id_cliente: creada.id_cliente,
          id_pago: pago.id_pago,
          fecha_creacion: creada.fecha_creacion,
          fecha_confirmacion: confirmada.fecha_confirmacion,
          fecha_actualizacion: aprobada.fecha_actualizacion,
        };
      } catch (error) {
        // Only a participant's terminal answer starts the compensation; anything else
        // (a crash, a timeout) is Restate's to retry from the journal.
        if (!(error instanceof TerminalError)) throw error;
        const motivo = error.message;
        for (const compensar of compensaciones.reverse()) {
          try {
            await compensar(motivo);
          } catch (fallida) {
            if (!(fallida instanceof TerminalError)) throw fallida;
            return { estado: 'reparacionManual', motivo, fallo_compensacion: fallida.message };
          }
        }
        return { estado: 'compensada', motivo, compensaciones: compensaciones.length };
      }
    },
  },
});

const port = Number(process.env.RESTATE_PEER_SERVICE_PORT ?? 19080);
const server = http2.createServer(restate.createEndpointHandler({ services: [vuelos, pagos, gds, reserva] }));
server.listen(port, '127.0.0.1', () => console.log(`restate peer services listening on 127.0.0.1:${port}`));
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => {
    server.close();
    // Open HTTP/2 sessions from restate-server would keep close() waiting.
    setTimeout(() => process.exit(0), 500).unref();
  });
}
