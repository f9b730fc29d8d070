import pkg from '../package.json';

/** The package version, bundled at build time. */
export const SERVICE_VERSION: string = pkg.version;
