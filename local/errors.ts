/** An error of local mode's own: a part that cannot start, a name it does not know, a tool it lacks. */
export class LocalModeError extends Error {}
