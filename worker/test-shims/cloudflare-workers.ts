/**
 * @module
 * `cloudflare:workers` for the unit tests that run a Durable Object class under Node (bundled with
 * this module in its place, package.json `build:worker-tests`): the base class keeps `ctx` and `env`,
 * as workerd's does, and the test hands in its own stand-ins for them.
 */
export class DurableObject<E = unknown> {
  constructor(
    protected readonly ctx: DurableObjectState,
    protected readonly env: E,
  ) {}
}
