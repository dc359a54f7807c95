/**
 * Stands in for lambda/shared/clients.ts in an SDK floor bundle (bench/sdk-floor.ts): each client is
 * constructed as its module under lambda/shared/clients/ constructs it, without the cache, Powertools or
 * X-Ray capture behind the real module.
 */
export function sharedClient<T>(_name: string, create: () => T): T {
  return create();
}

export function traced<T>(client: T): T {
  return client;
}
