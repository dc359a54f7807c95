/**
 * The zod the functions validate with: `zod/mini`, zod 4's functional API, which a bundle carries only the
 * parts of that it uses (the classic method-chaining API loads all of zod, about 20 ms of a cold start).
 * Same parser and issues; mini registers no locale, so English is set here for the messages zod writes itself.
 *
 * Import it as a namespace (`import * as z from '../shared/zod'`) and only read members from it: the bundler
 * then keeps just the members used. Re-exporting zod's namespace as one value would keep all of zod, every
 * locale included.
 */
import { config } from 'zod/mini';
// The English locale alone (the locales index holds every language); its CommonJS build resolves the same
// for the bundler and for the tests.
import en from 'zod/v4/locales/en.cjs';

config(en());

export * from 'zod/mini';
