/**
 * @module
 * The typed client's API types (engine/client/api-types.ts) against the route schemas, checked by
 * the compiler (`npm run lint` compiles worker/): a field added, removed or renamed on one side and
 * not the other fails the build. Field names are compared, not their types, since zod's inferred
 * types spell optional and defaulted fields differently from the hand-written interfaces.
 */
import type { z } from '@hono/zod-openapi';
import type {
  ApiCharge,
  ApiJob,
  ApiJobCreate,
  ApiModel,
  ApiModelVersion,
  ApiPrice,
  ApiUpload,
  ApiUploadCreate,
  ApiUploadTokenCreate,
  ApiUploadTokenMinted,
  ApiUsage,
} from '../../engine/edge.js';
import type { Job, JobCreate } from './jobs.js';
import type { Model, ModelVersion, Price } from './models.js';
import type { UploadTokenCreate, UploadTokenMinted } from './upload-tokens.js';
import type { Upload, UploadCreate } from './uploads.js';
import type { Charge, Usage } from './usage.js';

/** `true` when A and B have the same field names; otherwise a type naming the fields one lacks. */
type SameFields<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never]
  ? true
  : { schemaOnly: Exclude<keyof A, keyof B>; clientOnly: Exclude<keyof B, keyof A> };

/** Compiles only when every pair agrees. */
export const CLIENT_MATCHES_ROUTES: {
  job: SameFields<z.infer<typeof Job>, ApiJob>;
  jobCreate: SameFields<z.input<typeof JobCreate>, ApiJobCreate>;
  model: SameFields<z.infer<typeof Model>, ApiModel>;
  modelVersion: SameFields<z.infer<typeof ModelVersion>, ApiModelVersion>;
  price: SameFields<z.infer<typeof Price>, ApiPrice>;
  upload: SameFields<z.infer<typeof Upload>, ApiUpload>;
  uploadCreate: SameFields<z.infer<typeof UploadCreate>, ApiUploadCreate>;
  uploadTokenCreate: SameFields<z.input<typeof UploadTokenCreate>, ApiUploadTokenCreate>;
  uploadTokenMinted: SameFields<z.infer<typeof UploadTokenMinted>, ApiUploadTokenMinted>;
  charge: SameFields<z.infer<typeof Charge>, ApiCharge>;
  usage: SameFields<z.infer<typeof Usage>, ApiUsage>;
} = {
  job: true,
  jobCreate: true,
  model: true,
  modelVersion: true,
  price: true,
  upload: true,
  uploadCreate: true,
  uploadTokenCreate: true,
  uploadTokenMinted: true,
  charge: true,
  usage: true,
};
