/**
 * @module
 * Structured JSON logs, one line per event. Callers pass named fields only: request bodies, headers
 * and tokens are never logged, so image data and API keys cannot leak into logs.
 */

/** A log field: scalars only, so that nothing large or binary is ever written. */
export type LogField = string | number | boolean | null | undefined;

/** Writes one JSON log line. */
export function log(level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, LogField>): void {
  const line = JSON.stringify({ level, msg, time: new Date().toISOString(), ...fields });
  if (level === 'error') console.error(line);
  else console.log(line);
}
