/**
 * The web dashboard, served by the gateway at `/`.
 * (Placeholder wired into buildGateway; its owner replaces this file whole.)
 */

import type { FastifyInstance } from 'fastify';

export async function registerDashboard(_app: FastifyInstance): Promise<void> {}
