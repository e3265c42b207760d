import type Router from '@koa/router';
import { HttpError } from './errors.ts';
import type { GdsService } from '../participants/gds.ts';
import type { NotificacionesService } from '../participants/notificaciones.ts';
import type { PagosService } from '../participants/pagos.ts';
import type { VuelosService } from '../participants/vuelos.ts';

/**
 * Read endpoints of the participants' own state, so a person (or a test) sees what each
 * service did: `GET /vuelos/reserva/:id`, `GET /pagos/:id_reserva`, `GET /gds/:id_reserva`,
 * `GET /notificaciones?id_correlacion=`.
 *
 * @example
 * participantRoutes(router, { pagos }); // only the pagos route
 */
export function participantRoutes(
  router: Router,
  services: { vuelos?: VuelosService; pagos?: PagosService; gds?: GdsService; notificaciones?: NotificacionesService },
): void {
  const found = <T>(row: T | null, what: string): T => {
    if (!row) throw new HttpError(404, 'not_found', `${what} not found`);
    return row;
  };
  const { vuelos, pagos, gds, notificaciones } = services;
  if (vuelos) router.get('/vuelos/reserva/:id', async (ctx) => (ctx.body = found(await vuelos.reserva(ctx.params.id), `reservation ${ctx.params.id}`)));
  if (pagos) router.get('/pagos/:id', async (ctx) => (ctx.body = found(await pagos.pago(ctx.params.id), `payment of reservation ${ctx.params.id}`)));
  if (gds) router.get('/gds/:id', async (ctx) => (ctx.body = found(await gds.confirmacion(ctx.params.id), `GDS confirmation of reservation ${ctx.params.id}`)));
  if (notificaciones) {
    router.get('/notificaciones', async (ctx) => {
      const id = typeof ctx.query.id_correlacion === 'string' ? ctx.query.id_correlacion : '';
      if (!id) throw new HttpError(400, 'invalid', 'query parameter "id_correlacion" is required');
      ctx.body = { notificaciones: await notificaciones.enviadas(id) };
    });
  }
}
