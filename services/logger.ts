import { createRequire } from 'node:module';
import { isSpanContextValid, trace } from '@opentelemetry/api';
import pino from 'pino';
import type PinoPretty from 'pino-pretty';
import { LOG_LEVELS, type Log, type LogLevel } from '../runtime/logger.ts';

/** The levels `LOG_LEVEL` takes: pino's, most detailed first (`silent` logs nothing). */
export const PINO_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type PinoLevel = (typeof PINO_LEVELS)[number];

export type LogFormat = 'json' | 'pretty';

export interface LoggerOptions {
  /** The process's service (`coordinator`, `pagos`…, `aeroalpes` for the all-in-one process), on every line. */
  service: string;
  /** The least level written (default `LOG_LEVEL`, else `info`). An unknown level throws. */
  level?: string;
  /** `json` (one JSON object a line) or `pretty` (pino-pretty); default from `LOG_FORMAT` and the terminal, see `logFormat`. */
  format?: LogFormat;
  /** Where lines go (default standard output). A destination given is written JSON unless `format` says otherwise. */
  destination?: pino.DestinationStream;
  env?: NodeJS.ProcessEnv;
}

export interface ServiceLogger {
  logger: pino.Logger;
  /** The runtime's callback (`runtime/logger.ts`) writing through `logger`. */
  log: Log;
  /** What it writes: `pretty` only when pino-pretty could be loaded. */
  format: LogFormat;
}

/**
 * The level `LOG_LEVEL` names (default `info`), or an error naming the levels there are.
 *
 * @example
 * logLevelFrom({ LOG_LEVEL: 'debug' }); // 'debug'
 * logLevelFrom({ LOG_LEVEL: 'verbose' }); // throws: LOG_LEVEL=verbose is not a level (one of trace, debug, …)
 */
export function logLevelFrom(env: NodeJS.ProcessEnv = process.env, given?: string): PinoLevel {
  const level = (given ?? env.LOG_LEVEL ?? '').trim().toLowerCase() || 'info';
  if (!(PINO_LEVELS as readonly string[]).includes(level)) {
    throw new Error(`LOG_LEVEL=${given ?? env.LOG_LEVEL} is not a level (one of ${PINO_LEVELS.join(', ')})`);
  }
  return level as PinoLevel;
}

/**
 * What to write: `LOG_FORMAT` (`json` or `pretty`) when set; otherwise `pretty` when standard
 * output is a terminal and `NODE_ENV` is not `production`, `json` everywhere else.
 */
export function logFormat(env: NodeJS.ProcessEnv = process.env, terminal = Boolean(process.stdout.isTTY)): LogFormat {
  const asked = (env.LOG_FORMAT ?? '').trim().toLowerCase();
  if (asked === 'json' || asked === 'pretty') return asked;
  if (asked !== '') throw new Error(`LOG_FORMAT=${env.LOG_FORMAT} is not a format (json or pretty)`);
  return terminal && env.NODE_ENV !== 'production' ? 'pretty' : 'json';
}

/** pino-pretty when it is installed: a dev dependency, absent after `npm ci --omit=dev`. */
export function loadPretty(): typeof PinoPretty | undefined {
  try {
    return createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
  } catch {
    return undefined;
  }
}

/** How pino-pretty shows a line: time, level, `service: message`, the other fields on the same line. */
export const PRETTY_OPTIONS: PinoPretty.PrettyOptions = {
  translateTime: 'SYS:HH:MM:ss.l',
  ignore: 'pid,hostname,service',
  messageFormat: '{if service}{service}: {end}{msg}',
  singleLine: true,
};

/** An `error` field that is an Error object is written like `err`: type, message, stack. */
function errorOrValue(value: unknown): unknown {
  return value instanceof Error ? pino.stdSerializers.err(value) : value;
}

/**
 * A pino logger for one process and the runtime's `Log` callback over it. Every line has
 * `level` (its name), `time`, `pid`, `service` (the process's, unless the line names the
 * service it is about) and `msg`, plus the line's fields; `traceId` and `spanId` when an
 * OpenTelemetry span is active. `fields.level` picks the pino method (default `info`).
 *
 * @example
 * const { logger, log } = createLogger({ service: 'pagos' });
 * log('outbox row failed; will retry', { level: 'warn', messageId, error: error.message });
 * // {"level":"warn","time":"…","pid":7,"service":"pagos","messageId":"…","error":"…","msg":"outbox row failed; will retry"}
 */
export function createLogger(options: LoggerOptions): ServiceLogger {
  const env = options.env ?? process.env;
  const level = logLevelFrom(env, options.level);
  const asked = options.format ?? (options.destination ? 'json' : logFormat(env));
  const pretty = asked === 'pretty' ? loadPretty() : undefined;
  const format: LogFormat = pretty ? 'pretty' : 'json';
  const forced = options.format ?? (env.LOG_FORMAT?.trim() ? asked : undefined);
  const destination = pretty ? pretty({ ...PRETTY_OPTIONS, sync: true, destination: 1 }) : (options.destination ?? pino.destination({ dest: 1, sync: true }));
  const service = options.service;
  const logger = pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: pino.stdSerializers.err, error: errorOrValue },
      // In the mixin rather than the base bindings: a line that names its own service (a
      // participant of the all-in-one process) replaces it instead of repeating the key.
      mixin() {
        const span = trace.getActiveSpan()?.spanContext();
        return span && isSpanContextValid(span) ? { service, traceId: span.traceId, spanId: span.spanId } : { service };
      },
    },
    destination,
  );
  if (forced === 'pretty' && !pretty) logger.warn('LOG_FORMAT=pretty, but pino-pretty (a dev dependency) is not installed: writing JSON');
  const log: Log = (message, fields) => {
    if (!fields) return logger.info(message);
    const method: LogLevel = fields.level && LOG_LEVELS.includes(fields.level) ? fields.level : 'info';
    if (!logger.isLevelEnabled(method)) return;
    const { level: _level, ...rest } = fields;
    logger[method](rest, message);
  };
  log.enabled = (level) => logger.isLevelEnabled(level);
  return { logger, log, format };
}
