/** Undo steps of what has started so far, run in reverse order when a later step fails. */
export type Undo = (() => unknown)[];

/** Runs the undo steps in reverse order; a step that fails does not stop the rest. */
export async function runUndo(undo: Undo): Promise<void> {
  for (const step of undo.reverse()) {
    try {
      await step();
    } catch {
      // keep undoing the rest
    }
  }
}
