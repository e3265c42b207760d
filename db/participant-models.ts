import { DataTypes, Model, type Sequelize } from 'sequelize';
import type { TableSpec } from './table-rows.ts';

export interface ReservaRow {
  id_reserva: string;
  id_correlacion: string;
  id_cliente: string;
  estado: 'pendiente' | 'aprobada' | 'cancelada';
  monto: number;
  monto_vat: number;
  itinerarios: string;
  fecha_creacion: number;
  fecha_actualizacion: number;
}
export interface PagoRow {
  id_reserva: string;
  id_pago: string;
  id_correlacion: string;
  estado: 'pagado' | 'revertido';
  monto: number;
  monto_vat: number;
  /** Times the customer was charged: 1 at most, whatever the redeliveries. */
  cargos: number;
  reembolsos: number;
  fecha_creacion: number;
  fecha_actualizacion: number;
}
export interface ConfirmacionGdsRow {
  id_reserva: string;
  id_correlacion: string;
  estado: 'confirmada' | 'revertida';
  fecha_creacion: number;
  fecha_actualizacion: number;
}
export interface NotificacionRow {
  message_id: string;
  id_correlacion: string;
  id_reserva: string;
  tipo: string;
  mensaje: string;
  fecha: number;
}

/** The tables as participants read and write them in a unit of work (`uow.rows(RESERVAS)`). */
export const RESERVAS: TableSpec<ReservaRow> = {
  name: 'vuelos_reservas',
  key: 'id_reserva',
  columns: ['id_reserva', 'id_correlacion', 'id_cliente', 'estado', 'monto', 'monto_vat', 'itinerarios', 'fecha_creacion', 'fecha_actualizacion'],
};
export const PAGOS: TableSpec<PagoRow> = {
  name: 'pagos_pagos',
  key: 'id_reserva',
  columns: ['id_reserva', 'id_pago', 'id_correlacion', 'estado', 'monto', 'monto_vat', 'cargos', 'reembolsos', 'fecha_creacion', 'fecha_actualizacion'],
};
export const CONFIRMACIONES_GDS: TableSpec<ConfirmacionGdsRow> = {
  name: 'gds_confirmaciones',
  key: 'id_reserva',
  columns: ['id_reserva', 'id_correlacion', 'estado', 'fecha_creacion', 'fecha_actualizacion'],
};
export const NOTIFICACIONES: TableSpec<NotificacionRow> = {
  name: 'notificaciones',
  key: 'message_id',
  columns: ['message_id', 'id_correlacion', 'id_reserva', 'tipo', 'mensaje', 'fecha'],
};

type Row<T extends object> = Model<T, T> & T;
export type ParticipantModels = ReturnType<typeof defineParticipantModels>;

const str = (length = 64) => ({ type: DataTypes.STRING(length), allowNull: false });
const millis = () => ({ type: DataTypes.BIGINT, allowNull: false });
const money = () => ({ type: DataTypes.DOUBLE, allowNull: false });
const options = (tableName: string) => ({ tableName, timestamps: false });

/** The participants' own tables (created by migration 0002), for queries outside the message path. */
export function defineParticipantModels(sequelize: Sequelize) {
  const Reserva = sequelize.define<Row<ReservaRow>>(
    'Reserva',
    {
      id_reserva: { ...str(), primaryKey: true },
      id_correlacion: str(),
      id_cliente: str(),
      estado: str(32),
      monto: money(),
      monto_vat: money(),
      itinerarios: { type: DataTypes.TEXT, allowNull: false },
      fecha_creacion: millis(),
      fecha_actualizacion: millis(),
    },
    options('vuelos_reservas'),
  );
  const Pago = sequelize.define<Row<PagoRow>>(
    'Pago',
    {
      id_reserva: { ...str(), primaryKey: true },
      id_pago: str(),
      id_correlacion: str(),
      estado: str(32),
      monto: money(),
      monto_vat: money(),
      cargos: { type: DataTypes.INTEGER, allowNull: false },
      reembolsos: { type: DataTypes.INTEGER, allowNull: false },
      fecha_creacion: millis(),
      fecha_actualizacion: millis(),
    },
    options('pagos_pagos'),
  );
  const ConfirmacionGds = sequelize.define<Row<ConfirmacionGdsRow>>(
    'ConfirmacionGds',
    {
      id_reserva: { ...str(), primaryKey: true },
      id_correlacion: str(),
      estado: str(32),
      fecha_creacion: millis(),
      fecha_actualizacion: millis(),
    },
    options('gds_confirmaciones'),
  );
  const Notificacion = sequelize.define<Row<NotificacionRow>>(
    'Notificacion',
    {
      message_id: { ...str(), primaryKey: true },
      id_correlacion: str(),
      id_reserva: str(),
      tipo: str(),
      mensaje: { type: DataTypes.TEXT, allowNull: false },
      fecha: millis(),
    },
    options('notificaciones'),
  );
  return { Reserva, Pago, ConfirmacionGds, Notificacion };
}
