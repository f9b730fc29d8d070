/**
 * @module
 * The run request of the Worker↔node seam (`POST /v1/run?model&format&tta&deadline_ms`):
 * one type, one encoder (the Worker's) and one parser (the node's), so that the two sides cannot
 * drift. The body is the input's bytes; the answer is the framed stream of frames.ts.
 */
import { InputError } from '../errors.js';
import { parseModelReference } from '../models/reference.js';
import type { RunFormat } from './result-encoding.js';

/** One run, as the Worker asks a node for it. */
export interface RunRequest {
  /**
   * A model reference (engine/models/reference.ts). The Worker sends `<id>@<version>`, the release
   * it resolved and priced, so that a node whose current release differs runs the same one.
   */
  model: string;
  format: RunFormat;
  /** Mirroring test-time augmentation. */
  tta: boolean;
  /** The caller's deadline in ms from arrival; the node stops the run there (and at its own limit). */
  deadlineMs?: number;
}

/** What every one-shot runs with, wherever it runs (the Worker or a node). */
export const ONE_SHOT_OPTIONS = { tta: true } as const;

/** The result formats a run can answer with. */
export const RUN_FORMATS: readonly RunFormat[] = ['nifti', 'png', 'json'];

/** The query string of `request`. */
export function runQuery(request: RunRequest): URLSearchParams {
  const query = new URLSearchParams({
    model: request.model,
    format: request.format,
    tta: String(request.tta),
  });
  if (request.deadlineMs !== undefined)
    query.set('deadline_ms', String(Math.max(1, Math.ceil(request.deadlineMs))));
  return query;
}

/** Parses a run's query (absent options take their defaults); 400-style `invalid_request` otherwise. */
export function parseRunQuery(query: Record<string, string | undefined>): RunRequest {
  const bad = (detail: string): never => {
    throw new InputError('invalid_request', detail);
  };
  const model = query.model;
  if (!model) bad('query parameter model=ID or model=ID@VERSION is required');
  try {
    parseModelReference(model!);
  } catch (err) {
    bad((err as Error).message);
  }
  const format = (query.format ?? 'nifti') as RunFormat;
  if (!RUN_FORMATS.includes(format)) bad(`format must be one of ${RUN_FORMATS.join('|')}`);
  const flag = (name: 'tta', fallback: boolean): boolean => {
    const v = query[name];
    if (v === undefined) return fallback;
    if (v !== 'true' && v !== 'false') bad(`${name} must be true or false, got '${v}'`);
    return v === 'true';
  };
  const deadline = query.deadline_ms;
  if (deadline !== undefined && !/^[1-9][0-9]{0,8}$/.test(deadline)) {
    bad(`deadline_ms must be a positive integer, got '${deadline}'`);
  }
  return {
    model: model!,
    format,
    tta: flag('tta', true),
    ...(deadline !== undefined && { deadlineMs: Number(deadline) }),
  };
}
