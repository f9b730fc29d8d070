/**
 * @module
 * The typed client of the nnsam-edge HTTP API.
 */
export * from './api-types.js';
export * from './client.js';
