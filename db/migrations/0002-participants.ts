import { DataTypes, type QueryInterface } from 'sequelize';

const id = (length = 64) => ({ type: DataTypes.STRING(length), allowNull: false });
const millis = () => ({ type: DataTypes.BIGINT, allowNull: false });
const money = () => ({ type: DataTypes.DOUBLE, allowNull: false });

/** The participants' own state: reservations (vuelos), payments, GDS confirmations, notices. */
export async function up(qi: QueryInterface): Promise<void> {
  await qi.createTable('vuelos_reservas', {
    id_reserva: { ...id(), primaryKey: true },
    id_correlacion: id(),
    id_cliente: id(),
    estado: id(32),
    monto: money(),
    monto_vat: money(),
    itinerarios: { type: DataTypes.TEXT, allowNull: false },
    fecha_creacion: millis(),
    fecha_actualizacion: millis(),
  });
  // One payment per reservation: a second PagarReserva can never charge twice.
  await qi.createTable('pagos_pagos', {
    id_reserva: { ...id(), primaryKey: true },
    id_pago: { ...id(), unique: true },
    id_correlacion: id(),
    estado: id(32),
    monto: money(),
    monto_vat: money(),
    cargos: { type: DataTypes.INTEGER, allowNull: false },
    reembolsos: { type: DataTypes.INTEGER, allowNull: false },
    fecha_creacion: millis(),
    fecha_actualizacion: millis(),
  });
  await qi.createTable('gds_confirmaciones', {
    id_reserva: { ...id(), primaryKey: true },
    id_correlacion: id(),
    estado: id(32),
    fecha_creacion: millis(),
    fecha_actualizacion: millis(),
  });
  await qi.createTable('notificaciones', {
    message_id: { ...id(), primaryKey: true },
    id_correlacion: id(),
    id_reserva: id(),
    tipo: id(),
    mensaje: { type: DataTypes.TEXT, allowNull: false },
    fecha: millis(),
  });
}
