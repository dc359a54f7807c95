import { POLL_BACKOFF } from '../shared/contract';

/** Seconds to wait before poll number `attempt + 1`: first * factor^attempt, capped (attempt 0 → first). */
export function pollWaitSeconds(
  attempt: number,
  backoff: { firstSeconds: number; factor: number; capSeconds: number } = POLL_BACKOFF,
): number {
  const n = Math.max(0, Math.floor(attempt));
  const raw = backoff.firstSeconds * Math.pow(backoff.factor, n);
  return Math.max(1, Math.min(backoff.capSeconds, Math.round(raw)));
}
