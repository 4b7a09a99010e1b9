/**
 * The one door from the web UI to the back-end: everything the UI knows about
 * the API (the typed client, its error type, state names, VM actions and the
 * template language) comes through src/client, exactly as the CLI's does.
 */
export * from '../../src/client/index.js';
