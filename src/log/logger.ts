import pino from 'pino';
import { prettyDestination } from './pretty.js';

export type Logger = pino.Logger;

export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface LoggerOptions {
  level?: string;
  /** `pretty`: one readable line per record; `json`: pino's JSON lines. Default: PALISADE_LOG_FORMAT, else pretty on a terminal. */
  format?: LogFormat;
  simulated?: boolean;
  destination?: pino.DestinationStream;
}

/** The format asked for, else PALISADE_LOG_FORMAT, else pretty when stdout is a terminal and JSON otherwise. */
export function logFormat(asked?: LogFormat): LogFormat {
  const env = process.env.PALISADE_LOG_FORMAT;
  if (asked) return asked;
  if (env === 'json' || env === 'pretty') return env;
  return process.stdout.isTTY ? 'pretty' : 'json';
}

/**
 * Log records to stdout through a synchronous destination: a firewall reconciler's last lines
 * before an OOM kill matter most, and async destinations lose them (measured: pino with an async destination dropped the last lines before a kill).
 * Stable fields: `revision`, `host`, `wave`, `state`, `event`. Level: PALISADE_LOG_LEVEL (info).
 */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? process.env.PALISADE_LOG_LEVEL ?? 'info';
  if (!(level in pino.levels.values) && level !== 'silent') {
    throw new LogConfigError(`log level '${level}' (PALISADE_LOG_LEVEL) is not one of ${[...Object.keys(pino.levels.values), 'silent'].join(', ')}`);
  }
  const stdout = () => pino.destination({ dest: 1, sync: true });
  const destination = opts.destination ?? (logFormat(opts.format) === 'pretty' ? prettyDestination(stdout(), !!process.stdout.isTTY && !process.env.NO_COLOR) : stdout());
  return pino(
    {
      level,
      base: opts.simulated ? { service: 'palisade', simulated: true } : { service: 'palisade' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['*.password', '*.token', 'headers.authorization', 'credentials'], censor: '[redacted]' },
    },
    destination,
  );
}

export class LogConfigError extends Error {
  readonly code = 'LOG_CONFIG_INVALID';
}

/** For tests and library use: a logger that writes nowhere. */
export const silentLogger = (): Logger => pino({ level: 'silent' });
