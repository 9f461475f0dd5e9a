/** The environment: dt, t, i, fit, precision and scoped contexts. */
export * from './environ';
