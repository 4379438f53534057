/**
 * The gateway's JSON API (`/api/v1/`), as zod schemas the gateway answers with and the client checks answers
 * against: one definition, so the two cannot drift apart.
 */

import { z } from 'zod';
import type { SwarmStatus } from '../core/swarm/swarm-status.ts';

export const API_PREFIX = '/api/v1';

/** Every error the gateway answers: the ArgoError code, its message and hint. */
export const errorBodySchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    hint: z.string().optional(),
    /** Facts a caller acts on (the running cycle of ARGO_CYCLE_ACTIVE, the file and line of a bad input). */
    details: z.record(z.string(), z.unknown()).optional(),
  }),
});
export type ErrorBody = z.infer<typeof errorBodySchema>;

/** Headers a drone's upload carries: the job's lease, and what it computed of the file. */
export const LEASE_HEADERS = {
  cpv: 'x-argo-cpv',
  queue: 'x-argo-queue',
  job: 'x-argo-job',
  lock: 'x-argo-lock',
  cycle: 'x-argo-cycle',
  sha256: 'x-argo-sha256',
} as const;

export const uploadedSchema = z.object({
  path: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().nonnegative(),
});

export const logStoredSchema = z.object({ path: z.string() });

/** The status the engine computes (src/core/swarm/swarm-status.ts); checked for shape, typed as the engine's. */
export const statusSchema = z
  .object({
    drones: z.array(z.object({ id: z.string(), state: z.string() }).passthrough()),
    cycles: z.array(z.object({ id: z.string(), profile: z.string(), status: z.string() }).passthrough()),
  })
  .passthrough()
  .transform((value) => value as unknown as SwarmStatus);

export const profileSchema = z.object({
  name: z.string(),
  binhostPath: z.string(),
  staging: z.string(),
  production: z.string(),
});
export const profilesSchema = z.object({ profiles: z.array(profileSchema) });

export const releaseSchema = z
  .object({
    id: z.string(),
    createdAt: z.string(),
    current: z.boolean(),
    packages: z.number().int().nonnegative().optional(),
    cycle: z.string().optional(),
    score: z.number().optional(),
    forced: z.string().optional(),
  })
  .passthrough();
export const releasesSchema = z.object({ profile: z.string(), current: z.string().optional(), releases: z.array(releaseSchema) });

export const switchedSchema = z.object({
  profile: z.string(),
  release: z.string(),
  previous: z.string().optional(),
  packages: z.number().int().nonnegative().optional(),
  pruned: z.array(z.string()).optional(),
});

export const finalizeRequestSchema = z.object({
  /** Publish although verify says not safe; the reason is kept in the release. */
  force: z.string().min(1).max(500).optional(),
  threshold: z.number().int().min(0).max(100).optional(),
});
export const rollbackRequestSchema = z.object({ to: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/).optional() });

export const verifyComponentSchema = z.object({
  id: z.string(),
  points: z.number(),
  packages: z.array(z.string()),
  detail: z.string(),
});
export const verifyReportSchema = z
  .object({
    score: z.number(),
    safe: z.boolean(),
    threshold: z.number(),
    profile: z.string(),
    components: z.array(verifyComponentSchema),
  })
  .passthrough();
export type VerifyReport = z.infer<typeof verifyReportSchema>;

export const finalizedSchema = z.object({ verify: verifyReportSchema, release: switchedSchema.optional(), refused: z.boolean() });

/** One event of the swarm's stream (`argo:events`), as Server-Sent Events carry it (`id:` is the stream id). */
export const swarmEventSchema = z.object({ id: z.string(), type: z.string(), at: z.number(), fields: z.record(z.string(), z.string()) });
export type SwarmEvent = z.infer<typeof swarmEventSchema>;

/** A cycle asked of the gateway: the `emerge -pv` plan of the packages to build (the gateway has the repository). */
export const startCycleRequestSchema = z.object({
  plan: z.string().min(1).max(8 * 1024 * 1024),
  allowIncomplete: z.boolean().optional(),
});
export const startedCycleSchema = z.object({ cycle: z.string(), profile: z.string(), packages: z.number().int().nonnegative(), diagnostics: z.number().int().nonnegative(), alreadyRunning: z.boolean().optional() });

export const groundRequestSchema = z.object({ minutes: z.number().int().min(1).max(7 * 24 * 60).optional(), reason: z.string().min(1).max(200).optional() });
/** A command queued for the leader (202): it applies it at its next step and appends a `command-applied` event. */
export const queuedCommandSchema = z.object({ command: z.string(), queued: z.string() });

/** Who the token is: its name and the scopes it allows (no token on a --public-read gateway: null, read). */
export const whoamiSchema = z.object({ name: z.string().nullable(), scopes: z.array(z.string()) });

/** A cycle's DAG (src/gateway/cycle-graph-view.ts): `duration` in seconds at the cycle's reference speed. */
export const cycleGraphSchema = z.object({
  cycle: z.string(),
  profile: z.string(),
  referenceSpeed: z.number(),
  nodes: z.array(z.object({ cpv: z.string(), duration: z.number(), heavy: z.boolean(), deps: z.array(z.string()) })),
  criticalPath: z.array(z.string()),
});

/** `build-swarm sync`: every drone (of the profile) runs `emerge --sync`; refused while a cycle runs unless forced. */
export const syncRequestBodySchema = z.object({
  profile: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/).optional(),
  budgetSeconds: z.number().int().min(10).max(6 * 3600).optional(),
  force: z.boolean().optional(),
});
/** The drones expected to answer with a `sync-result` event each. */
export const syncQueuedSchema = z.object({ command: z.literal('sync'), queued: z.string(), drones: z.array(z.string()), budgetSeconds: z.number() });

/** One message of a build's live output (GET …/packages/CAT/PF/output, Server-Sent Events). */
export type OutputMessage = { readonly type: 'lines'; readonly lines: readonly string[] } | { readonly type: 'end'; readonly state: string };
