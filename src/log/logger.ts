import pino from 'pino';

export type Logger = pino.Logger;

/**
 * JSON lines to stdout through a synchronous destination: a firewall reconciler's last lines
 * before an OOM kill matter most, and async destinations lose them (engineering-notes §5).
 * Stable fields: `revision`, `host`, `wave`, `state`, `event`.
 */
export function createLogger(opts: { level?: string; simulated?: boolean; destination?: pino.DestinationStream } = {}): Logger {
  return pino(
    {
      level: opts.level ?? process.env.PALISADE_LOG_LEVEL ?? 'info',
      base: opts.simulated ? { service: 'palisade', simulated: true } : { service: 'palisade' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['*.password', '*.token', 'headers.authorization', 'credentials'], censor: '[redacted]' },
    },
    opts.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

/** For tests and library use: a logger that writes nowhere. */
export const silentLogger = (): Logger => pino({ level: 'silent' });
