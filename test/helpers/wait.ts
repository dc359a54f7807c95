/**
 * Waits on a condition instead of sleeping a fixed time: polls `condition` until it holds and fails
 * after `timeoutMs` with `what` (what was being waited for) in the error.
 *
 *   await waitFor(() => reloads() > before, 5000, 'nginx to log the reload');
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what = 'the condition',
  intervalMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, Math.max(1, deadline - Date.now()))));
  }
}
