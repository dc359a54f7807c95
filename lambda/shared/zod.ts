/**
 * The zod the functions validate with: `zod/mini`, zod 4's functional API, which a bundle carries only the
 * parts of that it uses (the classic method-chaining API loads all of zod, about 20 ms of a cold start).
 * Same parser and issues; mini registers no locale, so English is set here for the messages zod writes itself.
 */
import * as z from 'zod/mini';
import { en } from 'zod/v4/locales';

z.config(en());

export { z };
