/**
 * The long stress parts of the suite (thousands of sockets, 100,000-entry folders, fuzzing, memory under
 * large archives) run in `npm test` and are skipped by `npm run test:fast`, which sets DOCROOT_TEST_FAST.
 * Pass `STRESS` as the options of their `describe`.
 */
export const STRESS_SKIP_REASON = 'a long stress part: `npm test` runs it, `npm run test:fast` does not';

export const STRESS: { skip?: string } =
  process.env.DOCROOT_TEST_FAST === '1' ? { skip: STRESS_SKIP_REASON } : {};
