/**
 * A local stand-in for the account's default EventBridge bus, for the events the emulated services send:
 * each published event goes to every subscriber whose filter matches, asynchronously and at most once (the
 * real bus retries; the product must cope with lost events anyway). `dropEvents` loses every event on
 * purpose, to show the workflow still ends right without them.
 */

/** An event as EventBridge delivers it to a target (the envelope plus the service's detail). */
export interface BusEvent<Detail = Record<string, unknown>> {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: Detail;
}

export interface BusSubscription {
  /** Which events the subscriber gets (a rule's event pattern, written as a predicate). */
  matches: (event: BusEvent) => boolean;
  deliver: (event: BusEvent) => Promise<unknown>;
}

export class LocalEventBus {
  private readonly subscriptions: BusSubscription[] = [];
  private readonly pending = new Set<Promise<void>>();
  /** When true, every published event is lost (counted in `dropped`). */
  dropEvents = false;
  published = 0;
  dropped = 0;
  /** Deliveries whose target threw (the target logs its own failure, as in CloudWatch). */
  failedDeliveries = 0;

  subscribe(subscription: BusSubscription): () => void {
    this.subscriptions.push(subscription);
    return () => {
      const at = this.subscriptions.indexOf(subscription);
      if (at >= 0) this.subscriptions.splice(at, 1);
    };
  }

  publish(event: BusEvent): void {
    this.published += 1;
    if (this.dropEvents) {
      this.dropped += 1;
      return;
    }
    for (const subscription of this.subscriptions) {
      if (!subscription.matches(event)) continue;
      const delivery: Promise<void> = new Promise<void>((resolve) => setImmediate(resolve))
        .then(() => subscription.deliver(structuredClone(event)))
        .then(
          () => undefined,
          () => {
            this.failedDeliveries += 1;
          },
        )
        .finally(() => this.pending.delete(delivery));
      this.pending.add(delivery);
    }
  }

  /** Resolves when every delivery started so far has ended. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }
}
